"""Errors and warnings that say what to do next, and output a person reads."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from edgefer.cli import main

FIXTURES = Path(__file__).resolve().parent / "fixtures"
INT8 = FIXTURES / "tiny_int8.tflite"
ASTRONAUT = Path(__file__).resolve().parent.parent / "examples" / "astronaut.jpg"


def _face(path: Path, seed: int = 0) -> Path:
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (48, 48), dtype=np.uint8)).save(path)
    return path


def test_one_corrupt_image_among_many_names_skip_bad(tmp_path, capfd):
    _face(tmp_path / "a.png")
    (tmp_path / "b.png").write_bytes(b"not a png")
    assert main(["predict", str(tmp_path), "--model", str(INT8)]) == 2
    err = capfd.readouterr().err
    assert err.count("\n") == 1 and f"{tmp_path / 'b.png'}: not a readable image" in err and "--skip-bad" in err


def test_faces_on_a_tight_crop_suggests_dropping_faces(tmp_path, capfd, caplog):
    crop = _face(tmp_path / "crop.png")
    assert main(["predict", str(crop), "--faces", "--model", str(INT8)]) == 0
    assert capfd.readouterr().out.strip() == f"{crop}: no face found"
    assert any("leave out --faces" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert main(["predict", str(crop), "--faces", "--require-face", "--model", str(INT8)]) == 2
    assert "leave out --faces" in capfd.readouterr().err


def test_a_panorama_without_faces_gets_no_crop_hint(tmp_path, capfd, caplog):
    blank = tmp_path / "blank.png"
    Image.fromarray(np.full((300, 1200), 90, np.uint8)).save(blank)
    assert main(["predict", str(blank), "--faces", "--model", str(INT8)]) == 0
    assert not any("leave out --faces" in r.getMessage() for r in caplog.records)


def test_missing_opencv_names_video_not_photos(monkeypatch):
    from edgefer.errors import ConfigError
    from edgefer.runtime.faces import import_cv2

    monkeypatch.setitem(sys.modules, "cv2", None)
    try:
        import_cv2()
    except ConfigError as exc:
        message = str(exc)
    assert message.startswith("video needs OpenCV") and "BlazeFace" in message and "face detection" not in message


def test_scoring_a_run_without_tensorflow_names_the_train_extra(tmp_path, monkeypatch):
    import edgefer.predictors as predictors
    from edgefer.errors import ConfigError
    from edgefer.training.config import TrainConfig
    from edgefer.training.recipe import model_info

    run = tmp_path / "run"
    run.mkdir()
    (run / "model.keras").write_bytes(b"")
    (run / "model_info.json").write_text(json.dumps(model_info(TrainConfig(), run).to_dict()))
    (run / "config.json").write_text(json.dumps(TrainConfig(data="x.csv").to_dict()))
    monkeypatch.setitem(sys.modules, "edgefer.training.keras_predictor", None)  # as in the base install
    monkeypatch.setattr(predictors, "has_train_extra", lambda: False)
    try:
        predictors.load_predictor(run)
    except ConfigError as exc:
        message = str(exc)
    assert "pip install 'edgefer[train]'" in message and ".tflite models and shipped models" in message
    assert "training and export" not in message


def test_evaluate_prints_a_table_and_keeps_exact_json(tmp_path, capfd, synthetic_csv):
    report = tmp_path / "r.json"
    assert main(["evaluate", str(INT8), "--data", str(synthetic_csv), "--json", str(report)]) == 0
    lines = capfd.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines[:8]] == ["faces", "top-1", "top-3", "macro-F1", "MCC", "log",
                                                      "ROC-AUC", "ECE"]
    exact = json.loads(report.read_text())
    assert lines[1] == f"top-1      {exact['top1']:.4f}"
    assert max(map(len, lines)) <= 80 and not any("{" in line for line in lines)


def test_annotation_text_grows_with_the_image():
    from edgefer.runtime.outputs import caption_font

    small, large = caption_font(480), caption_font(2048)
    height = lambda font: font.getbbox("happy 0.89")[3]  # noqa: E731
    assert height(large) >= 3 * height(small) > 0
