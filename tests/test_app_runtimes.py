"""Models that app runtimes load: graph edits (the canonical RGB face in, luma and resize to the
network's size in the graph, calibrated softmax out), the standard TFLite Metadata, and MediaPipe
Tasks' own ImageClassifier as the consumer, given crops of several sizes that each runtime resizes.

The committed tiny fixtures (tests/fixtures) are edited here as an export edits its models;
the MediaPipe tests skip where ``mediapipe`` is not installed (``make mediapipe`` installs it),
and fail there under ``CI=true``.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import import_app_dependency

from edgefer.errors import ModelError
from conftest import requires_tf
from edgefer.export.graph import (
    add_canonical_input,
    add_luma_input,
    add_softmax_output,
    app_graph_info,
    for_app_runtimes,
    has_app_graph,
    integer_luma,
    upgrade_model,
)
from edgefer.export.tflite_metadata import LABELS_FILE, METADATA_NAME, stamp, stamp_file
from edgefer.labels import LABELS
from edgefer.metadata import embed_model_info, packed_files, read_metadata_entries, read_model_info
from edgefer.preprocessing import FACE_SIZE, LUMA_WEIGHTS, PreprocessSpec, resize_faces, sample_bilinear
from edgefer.runtime import EmotionClassifier, TFLiteModel
from edgefer.runtime.zoo import SHIPPED_MODELS, shipped_model_path
from edgefer.inference import softmax
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
    schema = import_app_dependency("mediapipe.tasks.metadata.metadata_schema_py_generated")
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
    mp = import_app_dependency("mediapipe")
    vision = importlib.import_module("mediapipe.tasks.python.vision")
    base = importlib.import_module("mediapipe.tasks.python.core.base_options")
    options = vision.ImageClassifierOptions(base_options=base.BaseOptions(model_asset_path=str(path)),
                                            max_results=len(LABELS))
    return mp, vision.ImageClassifier.create_from_options(options)


def _crop(face: np.ndarray, size: int) -> np.ndarray:
    """A grey 48 px face as an RGB crop of `size` px (upscaled as a camera's larger crop would be)."""
    grey = face if size == face.shape[0] else np.asarray(Image.fromarray(face).resize((size, size), Image.BILINEAR))
    return np.repeat(grey[..., None], 3, -1)


def _compare_runtimes(classifier, mp, path: Path, x: np.ndarray, size: int) -> tuple[float, float]:
    """(top-1 agreement, mean absolute score difference) of MediaPipe and EmotionClassifier, each
    given the same `size` px crops and resizing them itself."""
    crops = [_crop(face, size) for face in x]
    runtime = EmotionClassifier(path)
    ours = np.array([[p.probabilities[label] for label in LABELS] for p in runtime.predict_batch(crops)])
    theirs = np.array([_mediapipe_scores(classifier, mp, crop) for crop in crops])
    return float(np.mean(theirs.argmax(1) == ours.argmax(1))), float(np.abs(theirs - ours).mean())


@pytest.fixture(scope="module")
def mediapipe_classifier(tmp_path_factory):
    path = tmp_path_factory.mktemp("mp") / "tiny_uint8_app.tflite"
    path.write_bytes(_app_model("uint8"))
    mp, classifier = _open_classifier(path)
    with classifier:
        yield classifier, mp, path


@pytest.mark.parametrize("size", [FACE_SIZE, 160])
def test_mediapipe_names_edgefers_labels_and_agrees_with_the_runtime(mediapipe_classifier, size):
    classifier, mp, path = mediapipe_classifier
    agreement, mean_diff = _compare_runtimes(classifier, mp, path, faces(12, seed=5)[0], size)
    assert agreement >= 0.99 and mean_diff <= 0.01


@pytest.mark.parametrize("name", sorted(SHIPPED_MODELS))
def test_mediapipe_agrees_with_the_runtime_on_every_shipped_model_at_every_crop_size(name):
    path = shipped_model_path(name)
    info = read_model_info(path.read_bytes())
    assert info.preprocess.takes_canonical_face  # else MediaPipe resizes crops to another size than edgefer
    mp, classifier = _open_classifier(path)
    x = faces(2, seed=9)[0]
    with classifier:
        for size in (FACE_SIZE, info.source["app_graph"].get("network_size", FACE_SIZE), 160):
            agreement, mean_diff = _compare_runtimes(classifier, mp, path, x, size)
            assert agreement >= 0.99 and mean_diff <= 0.01, (size, agreement, mean_diff)


def _pixel_echo_model(size: int) -> bytes:
    """A uint8 model whose scores are its input pixels: what MediaPipe fed it, laid bare."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT()
    model.version, model.buffers = 3, [schema.BufferT() for _ in range(3)]
    shape = schema.BufferT()
    shape.data = np.frombuffer(np.array([1, size * size * 3], np.int32).tobytes(), np.uint8)
    model.buffers.append(shape)

    def tensor(name, dims, buffer, kind=schema.TensorType.UINT8):
        t = schema.TensorT()
        t.name, t.type, t.shape, t.buffer = name, kind, dims, buffer
        if kind == schema.TensorType.UINT8:
            t.quantization = schema.QuantizationParametersT()
            t.quantization.scale, t.quantization.zeroPoint = [1.0], [0]
        return t

    graph = schema.SubGraphT()
    graph.tensors = [tensor(b"in", [1, size, size, 3], 1), tensor(b"out", [1, size * size * 3], 2),
                     tensor(b"shape", [2], 3, schema.TensorType.INT32)]
    graph.inputs, graph.outputs = [0], [1]
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.RESHAPE
    code.version = 1
    op = schema.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = 0, [0, 2], [1]
    graph.operators, model.operatorCodes, model.subgraphs = [op], [code], [graph]
    builder = flatbuffers.Builder(0)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def test_to_face_resizes_a_crop_exactly_as_mediapipe_does(tmp_path):
    mp = pytest.importorskip("mediapipe")
    vision = importlib.import_module("mediapipe.tasks.python.vision")
    base = importlib.import_module("mediapipe.tasks.python.core.base_options")
    path = tmp_path / "echo.tflite"
    path.write_bytes(_pixel_echo_model(FACE_SIZE))
    options = vision.ImageClassifierOptions(base_options=base.BaseOptions(model_asset_path=str(path)), max_results=-1)
    rng = np.random.default_rng(0)
    with vision.ImageClassifier.create_from_options(options) as classifier:
        for h, w in [(48, 48), (96, 96), (160, 160), (100, 60), (37, 129), (20, 20)]:
            rgb = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
            result = classifier.classify(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb))
            fed = np.zeros(FACE_SIZE * FACE_SIZE * 3)
            for category in result.classifications[0].categories:
                fed[category.index] = category.score
            ours = np.stack([sample_bilinear(rgb[..., c], FACE_SIZE) for c in range(3)], -1)
            assert np.array_equal(fed.reshape(ours.shape), ours), (h, w)


def test_sample_bilinear_is_opencvs_warp_affine():
    cv2 = pytest.importorskip("cv2")
    rng = np.random.default_rng(1)
    for h in [1, 2, 5, 33, 47, 48, 49, 64, 96, 97, 160, 333, 641]:
        for w in (h, h // 2 + 3, h + 17):
            grey = rng.integers(0, 256, (h, w), dtype=np.uint8)
            matrix = np.float64([[FACE_SIZE / w, 0, 0], [0, FACE_SIZE / h, 0]])
            expected = cv2.warpAffine(grey, matrix, (FACE_SIZE, FACE_SIZE), flags=cv2.INTER_LINEAR,
                                      borderMode=cv2.BORDER_REPLICATE)
            assert np.array_equal(sample_bilinear(grey, FACE_SIZE), expected), (h, w)


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


# --- the exporter's conversion step: a new export takes the canonical face ------------------

@pytest.fixture(scope="module")
def tiny_64px_models():
    """A tiny Keras network at 64 px converted to int8 logits per --io, and to float32, with its record."""
    from edgefer.export.convert import convert, representative_data
    from edgefer.metadata import ModelInfo
    from edgefer.preprocessing import model_input
    from edgefer.training.keras_env import keras

    keras.utils.set_random_seed(0)
    spec = PreprocessSpec(input_size=64)
    inputs = keras.Input(spec.input_shape)
    hidden = keras.layers.Conv2D(6, 3, strides=2, activation="relu")(inputs)
    hidden = keras.layers.Conv2D(8, 3, strides=2, activation="relu")(hidden)
    model = keras.Model(inputs, keras.layers.Dense(len(LABELS))(keras.layers.GlobalAveragePooling2D()(hidden)))
    calibration = model_input(faces(4, seed=1)[0], spec)
    info = ModelInfo(preprocess=spec, output="logits", temperature=1.3)
    blobs = {io: convert(model, "int8", representative_data(calibration), io) for io in ("uint8", "int8")}
    blobs["float32"] = convert(model, "float32")
    return blobs, info


@requires_tf
@pytest.mark.parametrize("io", ["uint8", "int8", "float32"])
def test_new_exports_take_the_canonical_face_and_answer_as_the_network_did(tiny_64px_models, io):
    blobs, info = tiny_64px_models
    network = TFLiteModel(embed_model_info(blobs[io], info))  # fed faces resized by edgefer (Pillow) to 64 px
    exported = TFLiteModel(embed_model_info(for_app_runtimes(blobs[io], info.preprocess, info.temperature),
                                            app_graph_info(info, info.temperature)))
    assert exported._input.shape == (1, FACE_SIZE, FACE_SIZE, 3) and exported.input_dtype == np.dtype(io)
    assert exported.info.preprocess.takes_canonical_face
    assert exported.info.source["app_graph"]["network_size"] == 64
    x, _ = faces(5, seed=4)  # more than one face: a float model runs them as one batch
    expected = softmax(network.run_faces(x).astype(np.float64), info.temperature)
    got = exported.run_faces(x)
    # The int8 in-graph resize is Pillow's, bit for bit, and the int8 softmax's 1/256 step is the
    # difference; a float graph keeps the fractions Pillow rounds to whole grey levels.
    tolerance = 1e-3 if io == "float32" else 1 / 256 + 1e-6
    assert (got.argmax(1) == expected.argmax(1)).all() and np.abs(got - expected).max() <= tolerance


@requires_tf
@pytest.mark.parametrize("io", ["uint8", "float32"])
def test_the_luma_step_on_pixel_groups_computes_the_same_bits(tiny_64px_models, io):
    """The export runs the luma step on groups of 8 pixels (a speed-up); the numbers must not move."""
    from ai_edge_litert.interpreter import Interpreter

    blobs, info = tiny_64px_models
    single = add_softmax_output(add_canonical_input(add_luma_input(blobs[io], info.preprocess)), info.temperature)
    grouped = for_app_runtimes(blobs[io], info.preprocess, info.temperature)
    colour = np.random.default_rng(5).integers(0, 256, (6, FACE_SIZE, FACE_SIZE, 3), dtype=np.uint8)
    outputs = []
    for blob in (single, grouped):
        interpreter = Interpreter(model_content=blob)
        interpreter.allocate_tensors()
        names = {t["name"] for t in interpreter.get_tensor_details()}
        assert ("luma/grouped" in names) == (blob is grouped)
        detail, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
        rows = []
        for face in colour:
            interpreter.set_tensor(detail["index"], face[None].astype(detail["dtype"]))
            interpreter.invoke()
            rows.append(interpreter.get_tensor(out["index"]).copy())
        outputs.append(np.concatenate(rows))
    assert np.array_equal(outputs[0], outputs[1])


@requires_tf
def test_a_model_without_the_canonical_input_warns_once_and_upgrades(tiny_64px_models, caplog):
    blobs, info = tiny_64px_models
    old_style = embed_model_info(add_softmax_output(add_luma_input(blobs["uint8"], info.preprocess), info.temperature),
                                 replace(app_graph_info(info, info.temperature), preprocess=info.preprocess))
    with caplog.at_level(logging.WARNING, logger="edgefer.runtime.model"):
        old = TFLiteModel(old_style)
    (warning,) = [r.getMessage() for r in caplog.records]
    assert "not the canonical 48 px face" in warning and "\n" not in warning
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="edgefer.runtime.model"):
        upgraded = TFLiteModel(stamp(upgrade_model(old_style)))
    assert not caplog.records and upgraded._input.shape == (1, FACE_SIZE, FACE_SIZE, 3)
    x, _ = faces(3, seed=6)
    assert np.abs(upgraded.run_faces(x) - old.run_faces(x)).max() <= 1 / 256 + 1e-6
    assert upgrade_model(stamp(upgrade_model(old_style))) == stamp(upgrade_model(old_style))
