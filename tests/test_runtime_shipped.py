"""The int8 models shipped inside the package (the registry in edgefer.runtime.zoo), usable from a base install."""

import json

import numpy as np
import pytest

from edgefer.cli import main
from edgefer.errors import ModelError
from edgefer.labels import LABELS
from edgefer.runtime import EmotionClassifier
from edgefer.runtime.model import default_model_path
from edgefer.provenance import file_sha256
from edgefer.runtime.zoo import BENCH_REPORTS, DEFAULT_MODEL_NAME, REPOSITORY, SHIPPED_MODELS, shipped_model_path


@pytest.mark.parametrize("name", sorted(SHIPPED_MODELS))
def test_shipped_models_are_small_full_integer_models_with_canonical_labels(name):
    path = shipped_model_path(name)
    assert path.stat().st_size <= 5_000_000
    clf = EmotionClassifier(name)
    assert clf.labels == LABELS
    assert clf.model.input_dtype in (np.int8, np.uint8)
    assert clf.info.preprocess.input_size >= 48
    probs = clf.predict(np.full((48, 48), 128, np.uint8)).probabilities
    assert abs(sum(probs.values()) - 1.0) < 1e-3


@pytest.mark.parametrize("name", sorted(SHIPPED_MODELS))
def test_bundled_file_is_the_one_the_registry_and_its_reports_describe(name):
    model = SHIPPED_MODELS[name]
    assert file_sha256(shipped_model_path(name)) == model.sha256
    for path in (model.reference, model.card, *model.reports.values()):
        assert (REPOSITORY / path).is_file(), path
    evaluation = json.loads((REPOSITORY / model.evaluation).read_text())
    assert evaluation["model_sha256"] == model.sha256
    parity = json.loads((REPOSITORY / model.parity).read_text())
    assert parity["candidate"]["model_sha256"] == model.sha256
    assert parity["reference"]["model_sha256"] == file_sha256(REPOSITORY / model.reference)


@pytest.mark.parametrize("report", sorted(BENCH_REPORTS.values()))
def test_every_shipped_model_is_in_the_benchmark_reports_as_the_file_it_is(report):
    models = json.loads((REPOSITORY / report).read_text())["models"]
    assert {name: entry["model_sha256"] for name, entry in models.items()} == \
        {name: model.sha256 for name, model in SHIPPED_MODELS.items()}


def test_the_default_model_is_the_first_of_the_registry():
    assert next(iter(SHIPPED_MODELS)) == DEFAULT_MODEL_NAME
    assert default_model_path() == shipped_model_path(DEFAULT_MODEL_NAME)
    assert EmotionClassifier().model.name == str(shipped_model_path(DEFAULT_MODEL_NAME))


def test_fast_model_runs_a_smaller_network_input_than_default():
    # What makes it fast: fewer pixels through the same network; the face handed in is the same.
    assert EmotionClassifier("fast").info.preprocess.input_size == EmotionClassifier().info.preprocess.input_size
    assert EmotionClassifier("fast").info.network_size < EmotionClassifier().info.network_size


def test_unknown_shipped_name_is_a_model_error():
    with pytest.raises(ModelError, match=f"choose from {', '.join(SHIPPED_MODELS)}"):
        shipped_model_path("tiny")


@pytest.mark.parametrize("name", sorted(SHIPPED_MODELS))
def test_shipped_names_are_accepted_where_a_model_is(name, tmp_path, capsys):
    face = np.random.default_rng(0).integers(0, 256, (48, 48), dtype=np.uint8)
    from PIL import Image

    Image.fromarray(face).save(tmp_path / "face.png")
    assert main(["predict", str(tmp_path / "face.png"), "--model", name, "--json", "-"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result[0]["label"] in LABELS
    assert abs(sum(result[0]["probabilities"].values()) - 1.0) < 1e-5


def test_models_command_lists_every_shipped_model_with_its_report_numbers(capsys):
    import json

    from edgefer.cli import main
    from edgefer.runtime.zoo import REPOSITORY, SHIPPED

    assert main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    for model in SHIPPED:
        row = next(line for line in lines if line.split()[0] == model.name)
        report = json.loads((REPOSITORY / model.evaluation).read_text())
        assert f"{report['top1']:.4f}" in row and f"{report['ferplus']['top1']:.4f}" in row
        assert f"{EmotionClassifier(model.name).info.network_size}px" in row
