"""The int8 model shipped inside the package: the runtime's default, usable from a base install."""

import json

import numpy as np

from edgefer.cli import main
from edgefer.labels import LABELS
from edgefer.runtime import EmotionClassifier
from edgefer.runtime.model import default_model_path


def test_shipped_model_is_a_small_full_integer_model_with_canonical_labels():
    path = default_model_path()
    assert path.stat().st_size <= 5_000_000
    clf = EmotionClassifier()
    assert clf.labels == LABELS
    assert clf.model.input_dtype == np.int8
    assert clf.info.output == "logits" and clf.info.temperature > 0
    assert clf.info.preprocess.input_size >= 48


def test_default_is_accepted_where_a_model_is(tmp_path, capsys):
    face = np.random.default_rng(0).integers(0, 256, (48, 48), dtype=np.uint8)
    from PIL import Image

    Image.fromarray(face).save(tmp_path / "face.png")
    assert main(["predict", str(tmp_path / "face.png"), "--model", "default", "--json", "-"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result[0]["label"] in LABELS
    assert abs(sum(result[0]["probabilities"].values()) - 1.0) < 1e-5
