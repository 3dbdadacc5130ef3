"""The TensorFlow-free runtime: model loading, quantization, probabilities, threads, errors.

Only NumPy, Pillow and ai-edge-litert are needed: the .tflite fixtures are committed
(tests/fixtures/make_runtime_fixtures.py writes them) and expectations are computed
here in NumPy from the same seeded weights.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest

from edgefer.errors import ConfigError, DataError, ModelError
from edgefer.labels import LABELS
from edgefer.metadata import embed_model_info, read_model_info
from edgefer.preprocessing import PreprocessSpec, model_input
from edgefer.runtime import EmotionClassifier, TFLiteModel, default_model_path
from edgefer.runtime import backend as backend_module

FIXTURES = Path(__file__).resolve().parent / "fixtures"
INT8, UINT8, FLOAT32 = (FIXTURES / f"tiny_{k}.tflite" for k in ("int8", "uint8", "float32"))
INT8_PROBS, NO_METADATA = FIXTURES / "tiny_int8_probs.tflite", FIXTURES / "tiny_no_metadata.tflite"


def _generator():
    spec = importlib.util.spec_from_file_location("make_runtime_fixtures", FIXTURES / "make_runtime_fixtures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GENERATOR = _generator()


def faces(n: int, seed: int = 7) -> np.ndarray:
    return GENERATOR.faces(n, seed)


def _conv_same_stride2(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    # TensorFlow's SAME padding for a 3x3 kernel, stride 2, even input: 0 before, 1 after.
    n, h, w, _ = x.shape
    padded = np.pad(x, ((0, 0), (0, 1), (0, 1), (0, 0)))
    out = np.zeros((n, h // 2, w // 2, kernel.shape[3]))
    for i in range(3):
        for j in range(3):
            out += padded[:, i : i + h : 2, j : j + w : 2, :] @ kernel[i, j]
    return out


def reference_logits(x: np.ndarray) -> np.ndarray:
    """The fixtures' toy network in float64 NumPy."""
    w = {k: v.astype(np.float64) for k, v in GENERATOR.toy_weights().items()}
    n = len(x)
    x = x.astype(np.float64).reshape(n, 24, 2, 24, 2, 3).mean(axis=(2, 4))
    x = np.maximum(_conv_same_stride2(x, w["conv1"]) + w["bias1"], 0)
    x = np.maximum(_conv_same_stride2(x, w["conv2"]), 0)
    return x.reshape(n, -1) @ w["dense"] + w["bias2"]


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_runtime_never_imports_tensorflow():
    code = (
        "import sys, numpy as np\n"
        "import edgefer.runtime\n"
        f"c = edgefer.runtime.EmotionClassifier({str(INT8)!r})\n"
        "p = c.predict(np.zeros((64, 64, 3), np.uint8))\n"
        "assert abs(sum(p.probabilities.values()) - 1) < 1e-6\n"
        "heavy = ('tensorflow', 'tf_keras', 'keras', 'matplotlib', 'cv2', 'edgefer.training', 'edgefer.export')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy or m.startswith(heavy)))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_runtime_stands_on_a_base_that_reads_no_dataset_computes_no_report_and_draws_nothing():
    code = (
        "import sys, numpy as np\n"
        "import edgefer.runtime, edgefer.runtime.predict, edgefer.runtime.video, edgefer.runtime.bench\n"
        f"c = edgefer.runtime.EmotionClassifier({str(INT8)!r}, flip_tta=True)\n"
        "c.predict(np.zeros((64, 64, 3), np.uint8))\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('edgefer'))\n"
        "assert 'edgefer.runtime.classifier' in loaded and 'edgefer.inference' in loaded, loaded\n"
        "workbench = ('edgefer.data', 'edgefer.datapack', 'edgefer.ferplus', 'edgefer.metrics', 'edgefer.plots',\n"
        "             'edgefer.scoring', 'edgefer.parity', 'edgefer.evaluate', 'matplotlib')\n"
        "print(sorted(m for m in sys.modules if m in workbench or m.startswith(tuple(w + '.' for w in workbench))))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_metadata_and_io_types_are_read_from_the_model():
    expected = {INT8: "int8", UINT8: "uint8", FLOAT32: "float32", INT8_PROBS: "int8"}
    for path, dtype in expected.items():
        model = TFLiteModel(path)
        assert model.info.labels == LABELS
        assert model.info.preprocess == GENERATOR.SPEC
        assert str(model.input_dtype) == dtype
        assert model.backend.name == "litert"
    assert TFLiteModel(INT8_PROBS).info.output == "probabilities"


def test_float_model_matches_numpy_reference():
    x = model_input(faces(16), GENERATOR.SPEC)
    np.testing.assert_allclose(TFLiteModel(FLOAT32).run(x), reference_logits(x), atol=1e-3)


@pytest.mark.parametrize("path", [INT8, UINT8])
def test_quantized_models_track_the_float_network(path):
    x = model_input(faces(64), GENERATOR.SPEC)
    model = TFLiteModel(path)
    quantized, reference = model.run(x), reference_logits(x)
    # Logits beyond the calibrated output range saturate; compare the rest to the step.
    limits = np.iinfo(model._output.dtype)
    low, high = model._output.dequantize(np.array([limits.min, limits.max], model._output.dtype))
    inside = (reference > low) & (reference < high)
    assert inside.mean() > 0.95
    assert np.abs(quantized - reference)[inside].max() < 4 * model._output.scale
    agreement = (quantized.argmax(1) == reference.argmax(1)).mean()
    assert agreement >= 0.9, agreement


def test_int8_and_uint8_io_give_the_same_outputs():
    x = model_input(faces(32), GENERATOR.SPEC)
    int8, uint8 = TFLiteModel(INT8), TFLiteModel(UINT8)
    np.testing.assert_allclose(int8.run(x), uint8.run(x), atol=1.01 * int8._output.scale)


def test_lite_input_quantizes_to_pixel_minus_128_and_clips():
    model = TFLiteModel(INT8)
    pixels = (np.arange(48 * 48) % 256).astype(np.uint8).reshape(1, 48, 48)
    q = model._input.quantize(model_input(pixels, GENERATOR.SPEC))
    assert q.dtype == np.int8
    np.testing.assert_array_equal(q.astype(int), np.repeat(pixels[..., None], 3, axis=-1).astype(int) - 128)
    assert model._input.quantize(np.array([5.0, -5.0], np.float32)).tolist() == [127, -128]


@pytest.mark.parametrize("path", [INT8, UINT8, FLOAT32, INT8_PROBS])
def test_face_fast_path_equals_the_preprocessing_definition(path):
    model = TFLiteModel(path)
    batch = np.concatenate([faces(3), (np.arange(3 * 48 * 48) % 256).astype(np.uint8).reshape(3, 48, 48)])
    np.testing.assert_array_equal(model.run_faces(batch), model.run(model_input(batch, GENERATOR.SPEC)))


def test_probabilities_are_a_softmax_of_the_logits():
    classifier = EmotionClassifier(INT8)
    batch = faces(8)
    predictions = classifier.predict_batch(batch)
    logits = classifier.model.run(model_input(batch, GENERATOR.SPEC))
    for prediction, expected in zip(predictions, softmax(logits.astype(np.float64))):
        assert list(prediction.probabilities) == list(LABELS)
        assert sum(prediction.probabilities.values()) == pytest.approx(1.0)
        np.testing.assert_allclose(list(prediction.probabilities.values()), expected, rtol=1e-9)
        assert prediction.label == LABELS[int(expected.argmax())]
        assert prediction.score == max(prediction.probabilities.values())


def test_temperature_from_metadata_softens_probabilities():
    data = INT8.read_bytes()
    info = read_model_info(data)
    info.temperature = 2.0
    hot, cold = EmotionClassifier(embed_model_info(data, info)), EmotionClassifier(INT8)
    face = faces(1)[0]
    logits = cold.model.run(model_input(face[None], GENERATOR.SPEC)).astype(np.float64)
    np.testing.assert_allclose(list(hot.predict(face).probabilities.values()), softmax(logits / 2.0)[0], rtol=1e-9)


def test_flip_tta_averages_the_logits_of_each_face_and_its_mirror():
    plain, tta = EmotionClassifier(INT8), EmotionClassifier(INT8, flip_tta=True)
    batch = faces(6)
    mirrored = np.ascontiguousarray(batch[:, :, ::-1])
    logits = sum(plain.model.run_faces(b).astype(np.float64) for b in (batch, mirrored)) / 2
    got = np.array([list(p.probabilities.values()) for p in tta.predict_batch(batch)])
    np.testing.assert_allclose(got, softmax(logits), rtol=1e-9)
    assert not np.allclose(got, [list(p.probabilities.values()) for p in plain.predict_batch(batch)])
    symmetric = batch[0].copy()
    symmetric[:, 24:] = symmetric[:, :24][:, ::-1]  # its own mirror image: nothing to average
    assert tta.predict(symmetric).probabilities == pytest.approx(plain.predict(symmetric).probabilities)


def test_probability_model_matches_softmax_of_float_logits():
    batch = faces(16)
    x = model_input(batch, GENERATOR.SPEC)
    predictions = EmotionClassifier(INT8_PROBS).predict_batch(batch)
    probs = np.array([list(p.probabilities.values()) for p in predictions])
    np.testing.assert_allclose(probs.sum(1), 1.0)
    assert np.abs(probs - softmax(reference_logits(x))).max() < 0.05


def test_predict_accepts_paths_images_and_any_array(tmp_path):
    from PIL import Image

    classifier = EmotionClassifier(INT8)
    face = faces(1)[0]
    Image.fromarray(face).save(tmp_path / "face.png")
    expected = classifier.predict(face)
    assert classifier.predict(tmp_path / "face.png") == expected
    assert classifier.predict(str(tmp_path / "face.png")) == expected
    assert classifier.predict(Image.fromarray(face)) == expected
    assert classifier.predict(face.astype(np.float32) / 255.0) == expected
    assert classifier.predict(np.stack([face] * 3, axis=-1)) == expected
    assert classifier.predict(np.zeros((120, 90, 4), np.uint8)).label in LABELS
    assert classifier.predict_batch([]) == []


@pytest.mark.parametrize("path", [INT8, FLOAT32])
def test_batches_equal_single_calls(path):
    model = TFLiteModel(path)
    x = model_input(faces(5), GENERATOR.SPEC)
    singles = np.concatenate([model.run(x[i : i + 1]) for i in range(len(x))])
    np.testing.assert_allclose(model.run(x), singles, atol=1e-5)
    assert model.run(x[:0]).shape == (0, len(LABELS))


def test_concurrent_calls_give_the_sequential_results():
    model = TFLiteModel(INT8)
    x = model_input(faces(40), GENERATOR.SPEC)
    calls = [[(t * 7 + i) % len(x) for i in range(500)] for t in range(4)]
    expected = {i: model.run(x[i : i + 1]) for i in range(len(x))}
    results: list[list[np.ndarray]] = [[] for _ in calls]

    def work(thread: int) -> None:
        results[thread] = [model.run(x[i : i + 1]) for i in calls[thread]]

    threads = [threading.Thread(target=work, args=(t,)) for t in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for thread, indices in enumerate(calls):
        assert len(results[thread]) == 500
        for got, i in zip(results[thread], indices):
            np.testing.assert_array_equal(got, expected[i])


def _with_info(**changes) -> bytes:
    data = INT8.read_bytes()
    info = read_model_info(data)
    for key, value in changes.items():
        setattr(info, key, value)
    return embed_model_info(data, info)


@pytest.mark.parametrize(
    "model, message",
    [
        (lambda tmp: tmp / "missing.tflite", "no such model file"),
        (lambda tmp: b"\x00" * 64, "not a TFLite model"),
        (lambda tmp: b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "not a TFLite model"),
        (lambda tmp: INT8.read_bytes()[:40], "truncated or corrupt"),
        (lambda tmp: INT8.read_bytes()[: INT8.stat().st_size // 2], "truncated or corrupt"),
        (lambda tmp: NO_METADATA, "not exported by edgefer"),
        (lambda tmp: _with_info(preprocess=PreprocessSpec(input_size=64)), "does not match"),
        (lambda tmp: _with_info(labels=LABELS[:6]), "6 classes"),
        (lambda tmp: tmp, "no such model file"),
    ],
    ids=["missing", "zeros", "png", "header-only", "half", "no-metadata", "input-size", "labels", "directory"],
)
def test_bad_models_raise_one_line_model_errors(tmp_path, model, message):
    with pytest.raises(ModelError, match=message) as error:
        TFLiteModel(model(tmp_path))
    assert "\n" not in str(error.value)


def test_default_model_is_reported_missing(monkeypatch, tmp_path):
    # An installation whose package data lost the model (a broken wheel, a stripped image).
    import edgefer.runtime.zoo as zoo

    monkeypatch.setattr(zoo, "PACKAGE_MODELS", tmp_path)
    with pytest.raises(ModelError, match="no default model is bundled"):
        default_model_path()
    with pytest.raises(ModelError, match="no default model is bundled"):
        EmotionClassifier()


@pytest.mark.parametrize(
    "x",
    [np.zeros((1, 48, 48), np.float32), np.zeros((1, 64, 64, 3), np.float32),
     np.zeros((1, 48, 48, 3), np.uint8), np.full((1, 48, 48, 3), np.nan, np.float32), [[0.0]]],
    ids=["rank3", "size", "dtype", "nan", "list"],
)
def test_bad_model_inputs_raise_data_errors(x):
    with pytest.raises(DataError):
        TFLiteModel(INT8).run(x)


@pytest.mark.parametrize(
    "face",
    [np.zeros((48, 48, 2), np.uint8), np.zeros((0, 10), np.uint8), np.full((48, 48), np.nan),
     np.zeros((48, 48), np.complex64), np.full((48, 48), 300, np.int32), "no/such/face.png", 3],
    ids=["channels", "empty", "nan", "complex", "range", "missing-file", "int"],
)
def test_bad_faces_raise_data_errors(face):
    with pytest.raises(DataError):
        EmotionClassifier(INT8).predict(face)


def test_bad_options_raise_config_errors():
    with pytest.raises(ConfigError, match="unknown backend"):
        TFLiteModel(INT8, backend="onnx")
    with pytest.raises(ConfigError, match="num_threads"):
        TFLiteModel(INT8, num_threads=0)


def test_num_threads_and_explicit_backend():
    model = TFLiteModel(INT8, num_threads=2, backend="litert")
    assert model.run(model_input(faces(1), GENERATOR.SPEC)).shape == (1, 7)


def test_tflite_runtime_fallback_warns_once(monkeypatch):
    import types

    from ai_edge_litert.interpreter import Interpreter

    fake = types.ModuleType("tflite_runtime.interpreter")
    fake.Interpreter = Interpreter
    monkeypatch.setitem(sys.modules, "tflite_runtime", types.ModuleType("tflite_runtime"))
    monkeypatch.setitem(sys.modules, "tflite_runtime.interpreter", fake)
    monkeypatch.setattr(backend_module, "_installed", lambda name: name == "tflite_runtime")
    monkeypatch.setattr(backend_module, "_warned_tflite_runtime", False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first, second = TFLiteModel(INT8), TFLiteModel(INT8)
    assert first.backend.name == second.backend.name == "tflite-runtime"
    assert sum("tflite-runtime" in str(w.message) for w in caught) == 1


def test_no_backend_installed_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(backend_module, "_installed", lambda name: False)
    with pytest.raises(ConfigError, match="pip install ai-edge-litert"):
        TFLiteModel(INT8)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:.*tf.lite.Interpreter is deprecated:UserWarning")
@pytest.mark.skipif(importlib.util.find_spec("tensorflow") is None, reason="TensorFlow is not installed")
def test_tensorflow_backend_gives_the_litert_outputs():
    x = model_input(faces(4), GENERATOR.SPEC)
    for path in (INT8, FLOAT32):
        np.testing.assert_allclose(TFLiteModel(path, backend="tensorflow").run(x), TFLiteModel(path).run(x), atol=1e-5)
