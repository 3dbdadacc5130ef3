"""``edgefer predict`` and ``edgefer bench``: output formats and one-line errors (exit 2)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from edgefer.cli import main
from edgefer.labels import LABELS

FIXTURES = Path(__file__).resolve().parent / "fixtures"
INT8, FLOAT32 = FIXTURES / "tiny_int8.tflite", FIXTURES / "tiny_float32.tflite"


@pytest.fixture
def images(tmp_path: Path) -> list[str]:
    paths = []
    for seed in range(2):
        path = tmp_path / f"face{seed}.png"
        Image.fromarray(np.random.default_rng(seed).integers(0, 256, (64, 56, 3), dtype=np.uint8)).save(path)
        paths.append(str(path))
    return paths


def run_cli(capfd, *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capfd.readouterr()
    return code, out, err


def test_predict_prints_one_line_per_image(capfd, images):
    code, out, err = run_cli(capfd, "predict", *images, "--model", INT8, "--threads", "1")
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 2
    for line, image in zip(lines, images):
        name, rest = line.rsplit(": ", 1)
        label, score = rest.split()
        assert name == image and label in LABELS and 0 < float(score) <= 1


def test_predict_json_has_the_promised_keys(capfd, images):
    code, out, err = run_cli(capfd, "predict", *images, "--model", FLOAT32, "--json", "-")
    assert code == 0, err
    records = json.loads(out)
    assert [r["image"] for r in records] == images
    for record in records:
        assert set(record) == {"image", "label", "score", "probabilities"}
        assert list(record["probabilities"]) == list(LABELS)
        assert sum(record["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)  # 6 decimals each
        assert record["score"] == max(record["probabilities"].values())


def test_bench_json_rows(capfd, tmp_path):
    report = tmp_path / "bench.json"
    code, out, err = run_cli(capfd, "bench", INT8, FLOAT32, "--threads", "1,2", "--runs", "20",
                             "--warmup", "2", "--json", report)
    assert code == 0, err
    rows = json.loads(report.read_text())
    assert [(r["model"], r["threads"]) for r in rows] == [
        (str(INT8), 1), (str(INT8), 2), (str(FLOAT32), 1), (str(FLOAT32), 2)]
    for row in rows:
        promised = {"model", "threads", "p50_ms", "p90_ms", "p99_ms", "size_bytes", "faces_per_s", "peak_rss_mb"}
        assert promised <= set(row)
        assert 0 < row["p50_ms"] <= row["p90_ms"] <= row["p99_ms"]
        assert row["size_bytes"] == Path(row["model"]).stat().st_size
    assert [r["dtype"] for r in rows] == ["int8", "int8", "float32", "float32"]
    table = out.splitlines()
    assert table[0].split()[:3] == ["model", "dtype", "threads"] and len(table) == 5


@pytest.mark.parametrize(
    "argv, message",
    [
        (["predict", "{tmp}/missing.png", "--model", INT8], "no such image file"),
        (["predict", "{tmp}/not_an_image.png", "--model", INT8], "not a readable image"),
        (["predict", "{image}", "--model", "{tmp}/corrupt.tflite"], "not a TFLite model"),
        (["predict", "{image}", "--model", "{tmp}/missing.tflite"], "no such model file"),
        (["predict", "{image}", "--model", FIXTURES / "tiny_no_metadata.tflite"], "not exported by edgefer"),
        (["predict", "{image}", "--model", INT8, "--threads", "0"], "num_threads"),
        (["bench", "{tmp}/corrupt.tflite", "--runs", "5"], "not a TFLite model"),
        (["bench", INT8, "--threads", "one"], "--threads"),
        (["bench", INT8, "--runs", "0"], "--runs must be in [1, "),
    ],
    ids=["missing-image", "non-image", "corrupt-model", "missing-model", "no-metadata", "threads",
         "bench-corrupt", "bench-threads", "bench-runs"],
)
def test_bad_input_is_one_error_line_and_exit_2(capfd, tmp_path, images, argv, message):
    (tmp_path / "not_an_image.png").write_text("hello")
    (tmp_path / "corrupt.tflite").write_bytes(b"\x00" * 200)
    argv = [str(a).format(tmp=tmp_path, image=images[0]) for a in argv]
    code, out, err = run_cli(capfd, *argv)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("edgefer: error: ") and message in err, err


def test_default_model_is_accepted_as_a_name(capfd, images, monkeypatch, tmp_path):
    import edgefer.runtime.zoo as zoo

    code, out, err = run_cli(capfd, "predict", images[0], "--model", "default")
    assert code == 0 and out.strip() and not err.strip()
    monkeypatch.setattr(zoo, "PACKAGE_MODELS", tmp_path)
    code, out, err = run_cli(capfd, "predict", images[0], "--model", "default")
    assert code == 2 and "no default model is bundled" in err


def test_real_process_error_is_one_line(tmp_path):
    # After the interpreter loaded, so LiteRT's native INFO line would show if not muted.
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8 not really a jpeg")
    good = tmp_path / "good.png"
    Image.fromarray(np.zeros((48, 48), np.uint8)).save(good)
    result = subprocess.run([sys.executable, "-m", "edgefer", "predict", str(good), str(bad), "--model", str(INT8)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"edgefer: error: {bad}: not a readable image (UnidentifiedImageError) "
                                          "(--skip-bad reports it and goes on with the other images)"]


def test_evaluate_with_flip_tta_scores_the_mirrored_average(capfd, tmp_path, synthetic_csv):
    from edgefer.evaluate import EvaluateConfig, evaluate

    csv = synthetic_csv
    plain = evaluate(EvaluateConfig(model=str(INT8), data=str(csv), split="PublicTest"))
    code, out, err = run_cli(capfd, "evaluate", INT8, "--data", csv, "--split", "PublicTest", "--flip-tta",
                             "--json", tmp_path / "tta.json")
    assert code == 0, err
    tta = json.loads((tmp_path / "tta.json").read_text())
    assert tta["model"].endswith("+flip") and tta["n"] == plain["n"]
    assert tta["log_loss"] != plain["log_loss"]
