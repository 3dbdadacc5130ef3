"""The parity gate: itself passes with zero deltas, a degraded candidate fails with exit 1."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import requires_tf

from edgefer.cli import main
from edgefer.parity import ParityThresholds, compare, mcnemar_p
from edgefer.predictors import load_predictor
from edgefer.synthetic import faces, write_csv

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def face_csv(tmp_path_factory):
    return write_csv(tmp_path_factory.mktemp("parity") / "faces.csv", {"PublicTest": faces(20, 5)})


def test_tflite_model_against_itself_passes_with_zero_deltas(face_csv, tmp_path, capsys):
    model = str(FIXTURES / "tiny_int8.tflite")
    out = tmp_path / "parity.json"
    assert main(["parity", model, model, "--data", str(face_csv), "--json", str(out), "--bootstrap", "200"]) == 0
    report = json.loads(out.read_text())
    assert report["passed"] is True and report["agreement"] == 1.0
    assert report["delta_top1"] == report["delta_top3"] == report["delta_mcc"] == 0.0
    assert report["ci95"]["delta_top1"] == [0.0, 0.0]
    assert report["disagreements"] == [] and report["mcnemar_p"] == 1.0
    for key in ("reference", "candidate", "delta_top1", "delta_top3", "delta_mcc", "agreement", "passed"):
        assert key in report
    for suffix in (".md", ".confusion.png", ".reliability.png"):
        assert out.with_suffix(suffix).is_file()
    assert "parity: PASS" in capsys.readouterr().out


def test_int8_against_float_reports_real_differences(face_csv):
    ref = load_predictor(FIXTURES / "tiny_float32.tflite")
    cand = load_predictor(FIXTURES / "tiny_int8.tflite")
    from edgefer.data import load_split

    ds = load_split(face_csv)
    report = compare(ref, cand, ds, bootstrap=100)
    assert 0.5 < report["agreement"] <= 1.0
    assert report["candidate"]["log_loss"] != report["reference"]["log_loss"]
    assert len(report["disagreements"]) == round((1 - report["agreement"]) * report["n"])
    # Impossible thresholds fail, whatever the models.
    strict = compare(ref, cand, ds, ParityThresholds(min_agreement=1.01), bootstrap=0)
    assert strict["passed"] is False
    assert [c["passed"] for c in strict["checks"]][-1] is False


@requires_tf
def test_degraded_candidate_fails_with_exit_1(tiny_run, synthetic_csv, tmp_path, capsys):
    from edgefer.training.keras_models import load_keras_model

    degraded = tmp_path / "degraded"
    shutil.copytree(tiny_run, degraded)
    model = load_keras_model(degraded / "model.keras")
    kernel, bias = model.get_layer("logits").get_weights()
    rng = np.random.default_rng(0)
    model.get_layer("logits").set_weights([kernel[:, rng.permutation(7)], bias[rng.permutation(7)]])
    model.save(str(degraded / "model.keras"))
    code = main(["parity", str(tiny_run), str(degraded), "--data", str(synthetic_csv), "--split", "PublicTest",
                 "--bootstrap", "100"])
    out = capsys.readouterr().out
    assert code == 1
    assert "parity: FAIL" in out and "FAIL" in out.split("agreement")[1]


def test_usage_errors_exit_2(face_csv, tmp_path, capsys):
    assert main(["parity", str(tmp_path / "missing.tflite"), "default", "--data", str(face_csv)]) == 2
    assert "missing.tflite" in capsys.readouterr().err
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"\x00" * 64)
    model = str(FIXTURES / "tiny_int8.tflite")
    assert main(["parity", model, str(bad), "--data", str(face_csv)]) == 2
    assert "not a TFLite model" in capsys.readouterr().err


def test_mcnemar_matches_the_exact_binomial_and_chi2():
    ref = np.array([True] * 10 + [False] * 2 + [True] * 50)
    cand = np.array([False] * 10 + [True] * 2 + [True] * 50)
    assert mcnemar_p(ref, cand) == pytest.approx(0.0386, abs=1e-3)  # exact: b=10, c=2
    assert mcnemar_p(ref, ref) == 1.0
