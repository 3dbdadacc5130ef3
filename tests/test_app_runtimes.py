"""Models that app runtimes load: graph edits (RGB luma in, calibrated softmax out), the standard
TFLite Metadata, and MediaPipe Tasks' own ImageClassifier as the consumer.

The committed tiny fixtures (tests/fixtures) are edited here as an export edits its models;
the MediaPipe tests skip where ``mediapipe`` is not installed (``make mediapipe`` installs it).
"""

from __future__ import annotations

import importlib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from edgefer.errors import ModelError
from edgefer.export.graph import for_app_runtimes, has_app_graph, integer_luma, upgrade_model
from edgefer.export.tflite_metadata import LABELS_FILE, METADATA_NAME, stamp, stamp_file
from edgefer.labels import LABELS
from edgefer.metadata import embed_model_info, packed_files, read_metadata_entries, read_model_info
from edgefer.preprocessing import LUMA_WEIGHTS, resize_faces
from edgefer.runtime import EmotionClassifier, TFLiteModel, default_model_path
from edgefer.scoring import softmax
from edgefer.synthetic import faces

FIXTURES = Path(__file__).resolve().parent / "fixtures"
KINDS = ("int8", "uint8", "float32")
TINT = np.array([1.0, 0.75, 0.55])  # a warm skin-like colour cast over a grey face


def _app_model(kind: str) -> bytes:
    return stamp(upgrade_model((FIXTURES / f"tiny_{kind}.tflite").read_bytes()))


def _colour(grey: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(grey[..., None] * TINT), 0, 255).astype(np.uint8)


def _pillow_grey(rgb: np.ndarray) -> np.ndarray:
    return np.asarray(Image.fromarray(rgb, "RGB").convert("L"))


def test_luma_weights_are_pillows_and_exact_for_grey_in_int8():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    assert np.abs(_pillow_grey(rgb) - rgb @ np.array(LUMA_WEIGHTS)).max() <= 0.5 + 1e-6
    q, scale = integer_luma()
    assert q.sum() * scale == pytest.approx(1.0, abs=1e-12) and np.abs(q).max() <= 127
    assert np.abs(q * scale - np.array(LUMA_WEIGHTS)).max() < 0.005


@pytest.mark.parametrize("kind", KINDS)
def test_edited_model_gives_the_old_answer_on_grey_faces(kind):
    old = TFLiteModel(FIXTURES / f"tiny_{kind}.tflite")
    new = TFLiteModel(_app_model(kind))
    assert new.info.output == "probabilities" and new.info.temperature == 1.0
    assert new.info.source["app_graph"]["temperature"] == old.info.temperature
    x, _ = faces(4, seed=3)
    expected = softmax(old.run_faces(x).astype(np.float64), old.info.temperature)
    got = new.run_faces(x)
    # The int8 softmax's output step is 1/256: the rounding is the only difference.
    tolerance = 1e-5 if kind == "float32" else 1 / 256
    assert np.abs(got - expected).max() <= tolerance
    assert (got.argmax(1) == expected.argmax(1)).all()


def test_old_int8_io_models_get_uint8_io_and_the_edits_keep_int8_io():
    blob = (FIXTURES / "tiny_int8.tflite").read_bytes()
    kept = TFLiteModel(embed_model_info(for_app_runtimes(blob, read_model_info(blob).preprocess, 1.0),
                                        read_model_info(blob)))
    upgraded = TFLiteModel(_app_model("int8"))
    assert kept.input_dtype == np.int8 and upgraded.input_dtype == np.uint8
    assert upgraded.info.source["io"] == "uint8" and upgraded._output.dtype == np.uint8
    # MediaPipe feeds 0..255 pixels unscaled: the quantization must make them the normalized input.
    for kind in ("int8", "uint8"):
        model = TFLiteModel(_app_model(kind))
        assert model._input.scale == pytest.approx(1 / model.info.preprocess.std, rel=1e-3)
        assert model._input.zero_point == round(model.info.preprocess.mean)


def test_quantized_input_takes_raw_pixels_whatever_range_calibration_saw():
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    blob = (FIXTURES / "tiny_uint8.tflite").read_bytes()
    info = read_model_info(blob)
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAs(bytearray(blob), 0))
    graph = model.subgraphs[0]
    # As if the calibration faces had no pixel near 0 or 255: the converter's input scale is off.
    graph.tensors[graph.inputs[0]].quantization.scale = [1 / 100]
    graph.tensors[graph.inputs[0]].quantization.zeroPoint = [120]
    builder = flatbuffers.Builder(0)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    skewed = TFLiteModel(embed_model_info(for_app_runtimes(bytes(builder.Output()), info.preprocess, 1.0), info))
    assert skewed._input.scale == pytest.approx(1 / info.preprocess.std) and skewed._input.zero_point == 127
    x, _ = faces(3, seed=2)
    reference = TFLiteModel(embed_model_info(for_app_runtimes(blob, info.preprocess, 1.0), info))
    assert np.abs(skewed.run_faces(x) - reference.run_faces(x)).max() <= 1 / 256


def test_standard_metadata_fields_and_labels_file():
    schema = pytest.importorskip("mediapipe.tasks.metadata.metadata_schema_py_generated")
    blob = _app_model("uint8")
    raw = read_metadata_entries(blob)[METADATA_NAME]
    meta = schema.ModelMetadataT.InitFromObj(schema.ModelMetadata.GetRootAs(raw, 0))
    assert raw[4:8] == b"M001" and meta.minParserVersion == b"1.0.0"
    assert meta.name and meta.author == b"edgefer" and meta.license.startswith(b"Apache-2.0") and meta.version
    (tensor_in,), (tensor_out,) = (meta.subgraphMetadata[0].inputTensorMetadata,
                                   meta.subgraphMetadata[0].outputTensorMetadata)
    assert tensor_in.content.contentPropertiesType == schema.ContentProperties.ImageProperties
    assert tensor_in.content.contentProperties.colorSpace == schema.ColorSpaceType.RGB
    norm = tensor_in.processUnits[0].options
    assert list(norm.mean) == [127.0] * 3 and list(norm.std) == [128.0] * 3
    (labels,) = tensor_out.associatedFiles
    assert labels.name == LABELS_FILE.encode() and labels.type == schema.AssociatedFileType.TENSOR_AXIS_LABELS
    assert packed_files(blob)[LABELS_FILE].decode().split() == list(LABELS)


def test_restamp_is_idempotent_and_edgefer_records_keep_the_labels_file(tmp_path):
    blob = _app_model("float32")
    again = stamp(upgrade_model(blob))
    assert again == blob
    info = read_model_info(blob)
    re_embedded = embed_model_info(blob, replace(info, source={**info.source, "note": "x"}))
    assert list(packed_files(re_embedded)) == [LABELS_FILE]
    assert read_model_info(re_embedded).source["note"] == "x"
    source = FIXTURES / "tiny_uint8.tflite"
    out = stamp_file(source, tmp_path / "stamped.tflite")
    assert out.read_bytes() == _app_model("uint8")
    with pytest.raises(ModelError, match="overwrite"):
        stamp_file(out, out)


def test_stamp_refuses_a_model_without_the_graph_edits():
    with pytest.raises(ModelError, match="RGB-input"):
        stamp((FIXTURES / "tiny_uint8.tflite").read_bytes())
    with pytest.raises(ModelError, match="softmax"):
        upgrade_model((FIXTURES / "tiny_int8_probs.tflite").read_bytes())


# --- MediaPipe Tasks, the real consumer ------------------------------------------------------

def _mediapipe_scores(classifier, mp, rgb: np.ndarray) -> np.ndarray:
    result = classifier.classify(mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb)))
    categories = result.classifications[0].categories
    assert sorted(c.category_name for c in categories) == sorted(LABELS)  # every score named by edgefer's labels
    scores = np.zeros(len(LABELS))
    for category in categories:
        scores[LABELS.index(category.category_name)] = category.score
    return scores


def _open_classifier(path: Path):
    mp = pytest.importorskip("mediapipe")
    vision = importlib.import_module("mediapipe.tasks.python.vision")
    base = importlib.import_module("mediapipe.tasks.python.core.base_options")
    options = vision.ImageClassifierOptions(base_options=base.BaseOptions(model_asset_path=str(path)),
                                            max_results=len(LABELS))
    return mp, vision.ImageClassifier.create_from_options(options)


def _compare_runtimes(classifier, mp, path: Path, x: np.ndarray) -> tuple[float, float]:
    """(top-1 agreement, mean absolute score difference) of MediaPipe and EmotionClassifier."""
    runtime = EmotionClassifier(path)
    ours = np.array([[p.probabilities[label] for label in LABELS] for p in runtime.predict_batch(list(x))])
    # Faces at the model's input size, so only the runtimes differ.
    theirs = np.array([_mediapipe_scores(classifier, mp, np.repeat(f[..., None], 3, -1))
                       for f in resize_faces(x, runtime.info.preprocess.input_size)])
    return float(np.mean(theirs.argmax(1) == ours.argmax(1))), float(np.abs(theirs - ours).mean())


@pytest.fixture(scope="module")
def mediapipe_classifier(tmp_path_factory):
    path = tmp_path_factory.mktemp("mp") / "tiny_uint8_app.tflite"
    path.write_bytes(_app_model("uint8"))
    mp, classifier = _open_classifier(path)
    with classifier:
        yield classifier, mp, path


def test_mediapipe_names_edgefers_labels_and_agrees_with_the_runtime(mediapipe_classifier):
    classifier, mp, path = mediapipe_classifier
    agreement, mean_diff = _compare_runtimes(classifier, mp, path, faces(12, seed=5)[0])
    assert agreement >= 0.99 and mean_diff <= 0.01


def test_mediapipe_loads_the_shipped_model():
    shipped = default_model_path()
    if not has_app_graph(read_model_info(shipped.read_bytes())):
        pytest.skip("the shipped model predates the app-runtime export: re-export it, or stamp_file it")
    mp, classifier = _open_classifier(shipped)
    with classifier:
        agreement, mean_diff = _compare_runtimes(classifier, mp, shipped, faces(3, seed=9)[0])
    assert agreement >= 0.99 and mean_diff <= 0.01


def test_mediapipe_gives_a_colour_crop_and_its_grey_version_the_same_answer(mediapipe_classifier):
    classifier, mp, _ = mediapipe_classifier
    x, _ = faces(6, seed=7)
    for face in x:
        colour = _colour(face)
        grey = np.repeat(_pillow_grey(colour)[..., None], 3, -1)
        a, b = _mediapipe_scores(classifier, mp, colour), _mediapipe_scores(classifier, mp, grey)
        assert a.argmax() == b.argmax() and np.abs(a - b).max() <= 0.05


def test_mobile_docs_python_snippet_runs(mediapipe_classifier, tmp_path, monkeypatch, capsys):
    import re

    text = (Path(__file__).resolve().parents[1] / "docs" / "mobile.md").read_text()
    (block,) = re.findall(r"<!-- mobile.md:python -->\n```python\n(.*?)^```", text, flags=re.S | re.M)
    _, _, model = mediapipe_classifier
    (tmp_path / "model_int8.tflite").write_bytes(model.read_bytes())
    face, _ = faces(1, seed=11)
    Image.fromarray(_colour(face[0])).save(tmp_path / "face.png")
    monkeypatch.chdir(tmp_path)
    exec(compile(block, "docs/mobile.md", "exec"), {})
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and all(line.split()[0] in LABELS for line in lines)
