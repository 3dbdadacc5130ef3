"""Known answers of every shipped model: fixed faces and the probabilities the model gave them when
it shipped, so a replaced, truncated or re-trained model file fails here, TensorFlow-free.

A shipped model that is re-exported on purpose gets its new answers written here by
``python tests/test_shipped_known_answers.py`` (printed, to paste below) in the same change.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from edgefer.labels import LABELS
from edgefer.runtime import EmotionClassifier
from edgefer.runtime.zoo import SHIPPED_MODELS, shipped_model_path
from edgefer.synthetic import faces

ASTRONAUT = Path(__file__).resolve().parents[1] / "examples" / "astronaut.jpg"
# The int8 softmax's output step is 1/256; interpreters may round one step apart.
TOLERANCE = 0.01

# Per model, per face of known_faces(): the seven probabilities in LABELS order.
KNOWN_ANSWERS = {
    "default": [
        [0.0117, 0.0117, 0.0117, 0.8911, 0.0117, 0.0195, 0.0428],
        [0.3813, 0.0739, 0.0584, 0.1595, 0.0661, 0.1323, 0.1284],
        [0.2734, 0.0781, 0.0859, 0.2070, 0.0898, 0.0859, 0.1797],
        [0.2969, 0.1094, 0.0898, 0.1953, 0.0703, 0.1055, 0.1328],
        [0.2500, 0.0469, 0.0859, 0.1797, 0.0937, 0.1172, 0.2266],
    ],
    "fast": [
        [0.0078, 0.0078, 0.0117, 0.9258, 0.0078, 0.0156, 0.0234],
        [0.2539, 0.0195, 0.0313, 0.1328, 0.1328, 0.0273, 0.4023],
        [0.2617, 0.0234, 0.0312, 0.1953, 0.1328, 0.0430, 0.3125],
        [0.3164, 0.0312, 0.0469, 0.1172, 0.1719, 0.0391, 0.2773],
        [0.3176, 0.0275, 0.0510, 0.1412, 0.1255, 0.0510, 0.2863],
    ],
    "ferplus": [
        [0.0000, 0.0000, 0.0000, 1.0000, 0.0000, 0.0000, 0.0000],
        [0.0625, 0.0117, 0.0117, 0.1523, 0.1172, 0.0352, 0.6094],
        [0.0625, 0.0117, 0.0156, 0.1602, 0.1445, 0.0312, 0.5742],
        [0.0703, 0.0117, 0.0156, 0.1523, 0.1016, 0.0430, 0.6055],
        [0.0859, 0.0156, 0.0117, 0.1719, 0.1406, 0.0273, 0.5469],
    ],
}


def known_faces() -> list[np.ndarray]:
    """A real colour face crop (106 px), three generated 48 px faces and one as a 160 px crop."""
    astronaut = np.asarray(Image.open(ASTRONAUT).convert("RGB").crop((172, 66, 278, 172)))
    generated, _ = faces(1, seed=21)
    return [astronaut, *generated[:3], np.asarray(Image.fromarray(generated[3]).resize((160, 160), Image.BILINEAR))]


def answers(model) -> np.ndarray:
    predictions = EmotionClassifier(model, num_threads=1, pool_size=1).predict_batch(known_faces())
    return np.array([[p.probabilities[label] for label in LABELS] for p in predictions])


def matches(got: np.ndarray, name: str) -> bool:
    expected = np.array(KNOWN_ANSWERS[name])
    return (got.shape == expected.shape and bool((got.argmax(1) == expected.argmax(1)).all())
            and float(np.abs(got - expected).max()) <= TOLERANCE)


def test_every_shipped_model_has_known_answers():
    assert set(KNOWN_ANSWERS) == set(SHIPPED_MODELS)


@pytest.mark.parametrize("name", sorted(SHIPPED_MODELS))
def test_shipped_model_gives_its_known_answers(name):
    got = answers(name)
    expected = np.array(KNOWN_ANSWERS[name])
    assert (got.argmax(1) == expected.argmax(1)).all(), [LABELS[i] for i in got.argmax(1)]
    assert np.abs(got - expected).max() <= TOLERANCE


def _randomised(blob: bytes, seed: int) -> bytes:
    """The same graph, shapes and metadata with random int8 weights: a broken model that loads."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAs(bytearray(blob), 0))
    rng = np.random.default_rng(seed)
    for tensor in model.subgraphs[0].tensors:
        data = model.buffers[tensor.buffer].data
        if tensor.type == schema.TensorType.INT8 and data is not None and len(data) > 0:
            model.buffers[tensor.buffer].data = rng.integers(0, 256, len(data), dtype=np.uint8)
    builder = flatbuffers.Builder(1 << 20)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


@pytest.mark.parametrize("name", sorted(SHIPPED_MODELS))
def test_a_random_model_of_the_same_shape_fails_the_known_answers(name):
    broken = _randomised(shipped_model_path(name).read_bytes(), seed=0)
    assert not matches(answers(broken), name)


if __name__ == "__main__":
    for name in SHIPPED_MODELS:
        print(f'    "{name}": [')
        for row in answers(name):
            print("        [" + ", ".join(f"{p:.4f}" for p in row) + "],")
        print("    ],")
