"""The int8 models shipped inside the package (`default` and `fast`), usable from a base install."""

import json

import numpy as np

from edgefer.cli import main
from edgefer.labels import LABELS
from edgefer.runtime import EmotionClassifier
import pytest

from edgefer.errors import ModelError
from edgefer.runtime.model import SHIPPED_MODELS, default_model_path, shipped_model_path


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


def test_fast_model_takes_a_smaller_input_than_default():
    # What makes it fast: fewer pixels through the same network.
    assert EmotionClassifier("fast").info.preprocess.input_size < EmotionClassifier().info.preprocess.input_size
    assert shipped_model_path("default") == default_model_path()


def test_unknown_shipped_name_is_a_model_error():
    with pytest.raises(ModelError, match="choose from default, fast"):
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
