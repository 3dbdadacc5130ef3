"""``edgefer export``: int8 via QAT and PTQ, audit, metadata, temperature, gates, bad inputs.

A tiny flat Conv/BN/ReLU classifier at 32 px keeps every conversion to seconds; the
real architectures go through QAT in test_export_families.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import requires_tf

from edgefer.synthetic import faces

pytestmark = requires_tf

SIZE = 32


def _tiny_model(float_op: bool = False):
    from edgefer.training.keras_env import keras

    layers = keras.layers
    inputs = keras.Input((SIZE, SIZE, 3), name="image")
    x = layers.Conv2D(8, 3, 2, padding="same", use_bias=False, name="stem_conv")(inputs)
    x = layers.BatchNormalization(name="stem_bn")(x)
    x = layers.ReLU(6.0, name="stem_relu6")(x)
    y = layers.DepthwiseConv2D(3, padding="same", use_bias=False, name="dw_conv")(x)
    y = layers.BatchNormalization(name="dw_bn")(y)
    y = layers.ReLU(6.0, name="dw_relu6")(y)
    y = layers.Conv2D(8, 1, use_bias=False, name="project_conv")(y)
    y = layers.BatchNormalization(name="project_bn")(y)
    x = layers.Add(name="add")([x, y])
    if float_op:
        x = FloorLayer(name="floor")(x)
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    x = layers.Dropout(0.1, name="head_dropout")(x)
    logits = layers.Dense(7, name="logits")(x)
    outputs = layers.Activation("softmax", dtype="float32", name="probabilities")(logits)
    return keras.Model(inputs, outputs)


try:
    from edgefer.training.keras_env import keras, tf

    @keras.saving.register_keras_serializable(package="edgefer_test")
    class FloorLayer(keras.layers.Layer):
        """An op TFLite only has a float kernel for: the audit must catch it."""

        def call(self, x):
            return tf.math.floor(x)
except Exception:  # pragma: no cover - without TensorFlow the module is skipped anyway
    FloorLayer = None


def _make_run(root: Path, csv: Path, float_op: bool = False) -> Path:
    """A run-like directory: model.keras + model_info.json, briefly trained on the synthetic faces."""
    from edgefer.data import load_split
    from edgefer.metadata import ModelInfo
    from edgefer.preprocessing import PreprocessSpec, model_input
    from edgefer.training.keras_env import keras

    keras.utils.set_random_seed(0)
    spec = PreprocessSpec(input_size=SIZE, channels=3, mean=127.0, std=128.0)
    model = _tiny_model(float_op)
    train = load_split(csv, "Training")
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy")
    model.fit(model_input(train.images, spec), train.labels, epochs=6, batch_size=32, verbose=0)
    root.mkdir(parents=True)
    model.save(str(root / "model.keras"))
    info = ModelInfo(preprocess=spec, output="logits", source={"family": "tiny-test"})
    (root / "model_info.json").write_text(json.dumps(info.to_dict()))
    return root


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, synthetic_csv) -> Path:
    return _make_run(tmp_path_factory.mktemp("export") / "run", synthetic_csv)


@pytest.fixture(scope="module")
def qat_export(run_dir, synthetic_csv, tmp_path_factory):
    from edgefer.export import ExportConfig, export

    out = tmp_path_factory.mktemp("qat_out")
    config = ExportConfig(model=str(run_dir), data=str(synthetic_csv), out=str(out), formats=("int8", "float32"),
                          qat_steps=4, batch_size=16, calibration_size=70, parity_gate=False)
    return out, export(config)


def _io_dtypes(path: Path):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    return interpreter.get_input_details()[0]["dtype"], interpreter.get_output_details()[0]["dtype"]


def test_qat_int8_export_is_full_integer(qat_export):
    out, report = qat_export
    assert report["passed"] and report["failure"] is None
    entry = report["formats"]["int8"]
    assert (out / entry["file"]).is_file() and entry["bytes"] == (out / entry["file"]).stat().st_size
    assert entry["audit"]["full_integer"] and entry["audit"]["float_ops"] == []
    assert entry["audit"]["input_dtypes"] == ["UINT8"] and entry["audit"]["output_dtypes"] == ["UINT8"]
    assert _io_dtypes(out / entry["file"]) == (np.uint8, np.uint8)
    assert set(report["int8"]["candidates"]) == {"ptq", "qat"}
    assert report["int8"]["chosen"] in ("ptq", "qat") and report["int8"]["reason"]
    assert report["int8"]["qat_history"][-1]["steps"] == 4
    assert (out / "qat_weights.h5").is_file() and (out / "export_report.json").is_file()

    # The reported parity is what the written int8 file and the float model do on the val split.
    from edgefer.data import load_split
    from edgefer.predictors import load_predictor
    from edgefer.inference import logits

    val = load_split(report["data"]["path"], report["data"]["val_split"])
    float_top1 = np.argmax(logits(load_predictor(report["model"]), val.images), axis=1)
    int8_top1 = np.argmax(logits(load_predictor(out / entry["file"]), val.images), axis=1)
    assert report["parity"]["agreement"] == pytest.approx(np.mean(float_top1 == int8_top1))
    assert report["parity"]["candidate"]["top1"] == pytest.approx(np.mean(int8_top1 == val.labels))


def test_float32_export_keeps_float_ops_but_is_not_gated(qat_export):
    out, report = qat_export
    entry = report["formats"]["float32"]
    assert not entry["audit"]["full_integer"]
    assert _io_dtypes(out / entry["file"]) == (np.float32, np.float32)


def test_metadata_round_trip_and_temperature(qat_export):
    from edgefer.metadata import read_model_info

    out, report = qat_export
    entry = report["formats"]["int8"]
    info = read_model_info((out / entry["file"]).read_bytes())
    # The fitted temperature is applied in the graph's softmax: the file gives probabilities.
    assert info.output == "probabilities" and info.temperature == 1.0
    assert info.source["app_graph"]["temperature"] == pytest.approx(entry["temperature"])
    assert info.preprocess.input_size == SIZE and len(info.labels) == 7
    assert info.source["quantization"] == f"int8-{report['int8']['chosen']}" and info.source["io"] == "uint8"
    # The runtime reads the same record from the file it serves.
    from edgefer.predictors import load_predictor

    runtime = load_predictor(out / entry["file"])
    assert runtime.info.output == "probabilities" and runtime.info.source == info.source
    calibration = entry["temperature_fit"]
    assert calibration["nll_after"] <= calibration["nll_before"] + 1e-9
    assert {"ece_before", "ece_after"} <= set(calibration)


def test_qat_weights_round_trip(run_dir, qat_export):
    from edgefer.export.qat import load_qat_weights
    from edgefer.training.keras_env import keras
    from edgefer.training.keras_models import load_keras_model, logits_model

    out, _ = qat_export
    float_logits = logits_model(load_keras_model(run_dir / "model.keras"))
    first = load_qat_weights(float_logits, out / "qat_weights.h5")
    second = load_qat_weights(float_logits, out / "qat_weights.h5")
    x = np.random.default_rng(0).normal(size=(4, SIZE, SIZE, 3)).astype(np.float32)
    np.testing.assert_allclose(first(x, training=False), second(x, training=False), rtol=0, atol=1e-6)
    # The fine-tuned weights were saved, not the float ones.
    assert not np.allclose(first(x, training=False), float_logits(x, training=False))
    assert any(isinstance(layer, keras.layers.Wrapper) for layer in first.layers)


@pytest.mark.parametrize("bn_freeze", [0.5, 1.0])
def test_fine_tuned_qat_model_reloads_exactly(run_dir, synthetic_csv, tmp_path, bn_freeze):
    from edgefer.data import load_split
    from edgefer.export import ExportConfig
    from edgefer.export.qat import (
        QatSchedule,
        fine_tune,
        load_qat_weights,
        quantize_model,
        save_qat_weights,
    )
    from edgefer.metadata import ModelInfo
    from edgefer.preprocessing import model_input, resize_faces
    from edgefer.training.keras_models import load_keras_model, logits_model
    from edgefer.training.pipeline import make_dataset

    spec = ModelInfo.from_dict(json.loads((run_dir / "model_info.json").read_text())).preprocess
    train = load_split(synthetic_csv, "Training")
    float_logits = logits_model(load_keras_model(run_dir / "model.keras"))
    qat = quantize_model(float_logits)
    batches = make_dataset(resize_faces(train.images, SIZE), train.labels, spec, 16, training=True,
                           sample_weights=np.ones(len(train), np.float32))
    recipe = ExportConfig(model="m", qat_lr=1e-3, qat_distill=0.0, qat_bn_freeze_fraction=bn_freeze,
                          qat_range_freeze_fraction=0.25)
    history = fine_tune(qat, batches, QatSchedule.from_config(recipe, steps_per_epoch=4))
    assert history[-1]["steps"] == 4 and np.isfinite(history[-1]["loss"])
    save_qat_weights(qat, tmp_path / "qat.h5")
    reloaded = load_qat_weights(float_logits, tmp_path / "qat.h5")
    x = model_input(train.images[:8], spec)
    np.testing.assert_allclose(reloaded(x, training=False), qat(x, training=False), rtol=0, atol=1e-5)


def test_distillation_keeps_qat_on_the_float_model(run_dir, synthetic_csv):
    """Fine-tuned on scrambled labels, the distilled QAT model still follows its float teacher."""
    from edgefer.data import load_split
    from edgefer.export import ExportConfig
    from edgefer.export.qat import (
        QatSchedule,
        calibrate_ranges,
        fine_tune,
        quantize_model,
    )
    from edgefer.metadata import ModelInfo
    from edgefer.preprocessing import model_input, resize_faces
    from edgefer.training.keras_env import keras
    from edgefer.training.keras_models import load_keras_model, logits_model
    from edgefer.training.pipeline import make_dataset

    spec = ModelInfo.from_dict(json.loads((run_dir / "model_info.json").read_text())).preprocess
    train = load_split(synthetic_csv, "Training")
    wrong = np.random.default_rng(0).permutation(train.labels)
    float_logits = logits_model(load_keras_model(run_dir / "model.keras"))
    x = model_input(train.images, spec)
    expected = np.argmax(float_logits(x, training=False), axis=1)
    agreement = {}
    for distill in (0.0, 1.0):
        keras.utils.set_random_seed(0)
        qat = quantize_model(float_logits)
        calibrate_ranges(qat, float_logits, [x[:64]])
        batches = make_dataset(resize_faces(train.images, SIZE), wrong, spec, 16, training=True,
                               sample_weights=np.ones(len(train), np.float32))
        recipe = ExportConfig(model="m", qat_lr=3e-3, qat_distill=distill)
        fine_tune(qat, batches, QatSchedule.from_config(recipe, steps_per_epoch=15), teacher=float_logits)
        agreement[distill] = float(np.mean(np.argmax(qat(x, training=False), axis=1) == expected))
    assert agreement[1.0] >= 0.9 > agreement[0.0], agreement


def test_a_new_format_is_one_row_and_one_function(run_dir, tmp_path, monkeypatch):
    """The format table names the converter and the suffix; export dispatches through it."""
    from edgefer.export import ExportConfig, convert, export
    from edgefer.export.formats import FORMATS, Format

    assert {f.converter for f in FORMATS.values()} <= set(convert.CONVERTERS)
    monkeypatch.setattr(convert, "CONVERTERS", dict(convert.CONVERTERS))
    calls = []

    @convert.converter
    def tflite_float32_counted(model, representative, io):
        calls.append(model.name)
        return convert.tflite_float32(model, representative, io)

    monkeypatch.setitem(FORMATS, "counted", Format("counted", "float32, counted", "tflite_float32_counted"))
    report = export(ExportConfig(model=str(run_dir), out=str(tmp_path / "x"), formats=("counted",)))
    assert len(calls) == 1
    assert report["formats"]["counted"]["file"] == "model_counted.tflite"
    assert _io_dtypes(tmp_path / "x" / "model_counted.tflite") == (np.float32, np.float32)


def test_ptq_int8_io_through_the_cli(run_dir, synthetic_csv, tmp_path, capsys):
    from edgefer.cli import main

    out = tmp_path / "out"
    code = main(["export", str(run_dir), "--int8", "--no-qat", "--io", "int8", "--data", str(synthetic_csv),
                 "--out", str(out), "--calibration-size", "50", "--no-parity-gate"])
    assert code == 0
    report = json.loads((out / "export_report.json").read_text())
    assert set(report["int8"]["candidates"]) == {"ptq"} and report["int8"]["chosen"] == "ptq"
    assert report["formats"]["int8"]["audit"]["full_integer"]
    assert _io_dtypes(out / "model_int8.tflite") == (np.int8, np.int8)
    assert not (out / "qat_weights.h5").exists()
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1].startswith("int8") and "model_int8.tflite" in lines[-1] and "MB" in lines[-1]


def test_float_only_op_fails_the_audit_unless_allowed(tmp_path, synthetic_csv):
    from edgefer.errors import ModelError
    from edgefer.export import ExportConfig, export

    run = _make_run(tmp_path / "run", synthetic_csv, float_op=True)
    config = ExportConfig(model=str(run), data=str(synthetic_csv), out=str(tmp_path / "out"), qat=False,
                          calibration_size=50, parity_gate=False)
    with pytest.raises(ModelError, match="not full-integer.*FLOOR"):
        export(config)
    assert not (tmp_path / "out" / "model_int8.tflite").exists()
    config.allow_float_ops = True
    report = export(config)
    floats = report["formats"]["int8"]["audit"]["float_ops"]
    assert any(op["op"] == "FLOOR" for op in floats)
    assert (tmp_path / "out" / "model_int8.tflite").is_file()


def test_failed_parity_gate_writes_only_the_report(run_dir, synthetic_csv, tmp_path, monkeypatch):
    from edgefer.errors import ModelError
    from edgefer.export import ExportConfig, export
    from edgefer.parity import ParityThresholds

    # An agreement above 1 no user may ask for (validate refuses it) fails any int8 model's gate.
    monkeypatch.setattr(ParityThresholds, "validate", lambda self: None)
    out = tmp_path / "out"
    config = ExportConfig(model=str(run_dir), data=str(synthetic_csv), out=str(out), qat=False,
                          calibration_size=50, thresholds=ParityThresholds(min_agreement=1.01))
    with pytest.raises(ModelError, match="parity"):
        export(config)
    assert sorted(p.name for p in out.iterdir()) == ["export_report.json"]
    assert json.loads((out / "export_report.json").read_text())["failure"].startswith("int8 parity")


def test_a_failed_gate_through_the_cli_keeps_its_report_and_drops_an_older_export(run_dir, synthetic_csv, tmp_path,
                                                                                  monkeypatch, capsys):
    """The command undoes what it wrote when it fails, except the gate's verdict: its report stays,
    and the models of an earlier export into the folder, which the report does not describe, go."""
    from edgefer.cli import main
    from edgefer.parity import ParityThresholds

    out = tmp_path / "out"
    common = ["export", str(run_dir), "--int8", "--no-qat", "--data", str(synthetic_csv), "--out", str(out),
              "--calibration-size", "50"]
    assert main([*common, "--no-parity-gate"]) == 0
    assert (out / "model_int8.tflite").is_file()
    monkeypatch.setattr(ParityThresholds, "validate", lambda self: None)  # 1.01: a gate no model passes
    code = main([*common, "--min-agreement", "1.01"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and "parity" in err[-1] and "export_report.json" in err[-1]
    assert sorted(p.name for p in out.iterdir()) == ["export_report.json"]
    report = json.loads((out / "export_report.json").read_text())
    assert not report["passed"] and report["failure"].startswith("int8 parity")


@pytest.mark.parametrize("damage", ["corrupt", "missing", "mismatched"])
def test_bad_input_model_exits_2_and_leaves_nothing(run_dir, synthetic_csv, tmp_path, damage, capsys):
    import shutil

    from edgefer.cli import main

    bad = tmp_path / "bad"
    shutil.copytree(run_dir, bad)
    if damage == "corrupt":
        (bad / "model.keras").write_bytes((bad / "model.keras").read_bytes()[:2000])
    elif damage == "missing":
        (bad / "model.keras").unlink()
    else:
        info = json.loads((bad / "model_info.json").read_text())
        info["preprocess"]["input_size"] = 48
        (bad / "model_info.json").write_text(json.dumps(info))
    out = tmp_path / "out"
    code = main(["export", str(bad), "--int8", "--data", str(synthetic_csv), "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1].startswith("edgefer: error:") and "model" in err[-1]
    assert not out.exists()


def test_fit_temperature_recovers_the_scale():
    from edgefer.export.temperature import fit_temperature, temperature_report

    rng = np.random.default_rng(0)
    true_logits = rng.normal(scale=2.0, size=(4000, 7))
    p = np.exp(true_logits) / np.exp(true_logits).sum(axis=1, keepdims=True)
    labels = np.array([rng.choice(7, p=row) for row in p])
    assert fit_temperature(3.0 * true_logits, labels) == pytest.approx(3.0, rel=0.1)
    result = temperature_report(3.0 * true_logits, labels)
    assert result["ece_after"] < result["ece_before"]


def test_choose_int8_prefers_parity_then_agreement():
    from edgefer.export.exporter import choose_int8

    ptq = {"parity_passed": True, "agreement": 0.96, "top1": 0.70, "mcc": 0.6}
    qat = {"parity_passed": True, "agreement": 0.98, "top1": 0.69, "mcc": 0.6}
    assert choose_int8({"ptq": ptq, "qat": qat})[0] == "qat"
    assert choose_int8({"ptq": ptq, "qat": {**qat, "parity_passed": False}})[0] == "ptq"
    assert choose_int8({"ptq": ptq, "qat": dict(ptq)})[0] == "ptq"  # ties keep PTQ


def test_calibration_sample_is_stratified_and_seeded():
    from edgefer.data import FaceDataset
    from edgefer.export.exporter import calibration_faces

    images, labels = faces(30, seed=3)
    ds = FaceDataset(images, labels, np.arange(len(labels)).astype(str).astype(object), "mem", "train")
    a, b = calibration_faces(ds, 70, seed=1), calibration_faces(ds, 70, seed=1)
    assert len(a) == 70 and (a.ids == b.ids).all()
    assert (a.class_counts() == 10).all()
