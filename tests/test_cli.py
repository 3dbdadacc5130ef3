"""Command-line behaviour shared by every command: exit codes and what reaches stderr."""

from __future__ import annotations

import subprocess
import sys

from conftest import requires_tf


def test_a_crash_is_not_a_verdict(monkeypatch, capsys):
    """parity's exit 1 means FAIL, so a bug must exit with a code of its own."""
    import edgefer.cli.parity_cmd as parity_cmd
    from edgefer.cli import INTERNAL_ERROR_EXIT, main

    def broken(config):
        raise RuntimeError("a bug")

    monkeypatch.setattr(parity_cmd, "parity", broken)
    assert main(["parity", "a.tflite", "b.tflite", "--data", "x.csv"]) == INTERNAL_ERROR_EXIT != 1
    err = capsys.readouterr().err
    assert "RuntimeError: a bug" in err and "internal error" in err


@requires_tf
def test_tensorflow_start_up_logs_stay_out_of_errors(tmp_path):
    result = subprocess.run([sys.executable, "-m", "edgefer", "export", str(tmp_path / "missing")],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"edgefer: error: {tmp_path / 'missing'}: no such model file or run directory"]


@requires_tf
def test_a_killed_export_leaves_nothing(tiny_run, synthetic_csv, tmp_path):
    import signal

    out = tmp_path / "export"
    cmd = [sys.executable, "-m", "edgefer", "export", str(tiny_run), "--int8", "--data", str(synthetic_csv),
           "--out", str(out), "--qat-steps", "100000", "--qat-epochs", "50", "--batch-size", "8"]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    try:
        for line in proc.stderr:  # progress per stage: kill once QAT is under way
            if line.startswith("QAT"):
                proc.send_signal(signal.SIGTERM)
                break
    finally:
        proc.communicate(timeout=300)
    assert proc.returncode == 128 + signal.SIGTERM
    assert not out.exists()  # the folder it made, the report it wrote and the hidden files are gone


def test_unwritable_outputs_fail_before_any_work(tmp_path, capsys):
    from edgefer.cli import main

    (tmp_path / "a_file").write_text("x")
    cases = [
        ["evaluate", "default", "--data", "missing.csv", "--json", str(tmp_path)],
        ["parity", "default", "default", "--data", "missing.csv", "--json", str(tmp_path / "no" / "r.json")],
        ["train", "--data", "missing.csv", "--out", str(tmp_path / "a_file")],
    ]
    for argv in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and ("--json" in err[0] or "--out" in err[0]), err


def test_json_reports_are_strict(tmp_path):
    import json
    import math

    from edgefer.fileio import write_json

    write_json(tmp_path / "r.json", {"roc_auc": float("nan"), "per_class": [1.0, math.inf], "n": 3})
    text = (tmp_path / "r.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {"roc_auc": None, "per_class": [1.0, None], "n": 3}


def test_export_recipe_file_under_flags(tmp_path, monkeypatch, capsys):
    import json

    import edgefer.export as export_package
    from edgefer.cli import main

    seen = {}

    def fake_export(config):
        seen["config"] = config
        return {"formats": {}, "out": str(tmp_path)}

    monkeypatch.setattr(export_package, "export", fake_export)
    recipe = tmp_path / "export.json"
    recipe.write_text(json.dumps({"qat_lr": 3e-5, "qat_steps": 500, "thresholds": {"min_agreement": 0.96}}))
    assert main(["export", "run", "--config", str(recipe), "--qat-steps", "0", "--max-mcc-drop", "0.01"]) == 0
    config = seen["config"]
    assert (config.qat_lr, config.qat_steps) == (3e-5, 0)  # a flag equal to the default still overrides the file
    assert (config.thresholds.min_agreement, config.thresholds.max_mcc_drop) == (0.96, 0.01)
    recipe.write_text(json.dumps({"qat_learning_rate": 1}))
    assert main(["export", "run", "--config", str(recipe)]) == 2
    assert "unknown export option(s): qat_learning_rate" in capsys.readouterr().err
