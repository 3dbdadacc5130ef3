"""``edgefer predict`` on real batches: folders and globs, --skip-bad, JSON/CSV files,
annotated copies, output paths refused before work, warnings and progress on stderr."""

from __future__ import annotations

import csv
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from edgefer.cli import main
from edgefer.labels import LABELS
from edgefer.runtime import EmotionClassifier
from edgefer.runtime.predict import CSV_HEADER

FIXTURES = Path(__file__).resolve().parent / "fixtures"
INT8 = FIXTURES / "tiny_int8.tflite"
ASTRONAUT = Path(__file__).resolve().parent.parent / "examples" / "astronaut.jpg"


def face_image(path: Path, seed: int = 0, shape=(56, 48, 3)) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)).save(path)
    return str(path)


def run_cli(capfd, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capfd.readouterr()
    return code, out, err


def test_folders_are_searched_recursively_and_globs_expanded(tmp_path, capfd):
    a = face_image(tmp_path / "set" / "a.png")
    b = face_image(tmp_path / "set" / "deeper" / "b.jpg", 1)
    (tmp_path / "set" / "notes.txt").write_text("not an image")
    c = face_image(tmp_path / "other" / "c.png", 2)
    code, out, err = run_cli(capfd, "predict", tmp_path / "set", f"{tmp_path}/oth*/*.png", "--model", INT8,
                             "--json", "-")
    assert code == 0, err
    assert [r["image"] for r in json.loads(out)] == [a, b, c]


def test_empty_folder_and_unmatched_glob_are_errors(tmp_path, capfd):
    (tmp_path / "empty").mkdir()
    for pattern, message in [(tmp_path / "empty", "no images in this folder"),
                             (f"{tmp_path}/*.png", "no file matches this pattern")]:
        code, out, err = run_cli(capfd, "predict", pattern, "--model", INT8)
        assert code == 2 and err.strip() == f"edgefer: error: {pattern}: {message}"


def test_skip_bad_reports_each_bad_file_and_goes_on(tmp_path, capfd, caplog):
    good = face_image(tmp_path / "good.png")
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8 not a jpeg")
    missing = tmp_path / "missing.png"
    code, out, err = run_cli(capfd, "predict", bad, good, missing, "--skip-bad", "--model", INT8)
    assert code == 0, err
    assert out.splitlines()[0].startswith(f"{good}: ") and len(out.splitlines()) == 1
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(str(bad) in w and "not a readable image" in w for w in warnings)
    assert any(str(missing) in w and "no such image file" in w for w in warnings)
    code, out, err = run_cli(capfd, "predict", bad, "--skip-bad", "--model", INT8)
    assert code == 2 and err.strip() == "edgefer: error: no image could be read"


def test_skip_bad_messages_reach_stderr_of_a_real_process(tmp_path):
    good = face_image(tmp_path / "good.png")
    bad = tmp_path / "bad.png"
    bad.write_text("hello")
    result = subprocess.run([sys.executable, "-m", "edgefer", "predict", str(bad), good, "--skip-bad",
                             "--model", str(INT8)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0
    assert result.stderr.splitlines() == [f"edgefer: warning: skipped {bad}: not a readable image "
                                          "(UnidentifiedImageError)"]


def test_json_and_csv_files_one_row_per_face(tmp_path, capfd):
    blank = face_image(tmp_path / "blank.png", shape=(240, 320, 3))
    Image.fromarray(np.full((240, 320), 128, np.uint8)).save(blank)
    report, table = tmp_path / "r.json", tmp_path / "r.csv"
    code, out, err = run_cli(capfd, "predict", ASTRONAUT, blank, "--faces", "--model", INT8,
                             "--json", report, "--csv", table)
    assert code == 0, err
    records = json.loads(report.read_text(), parse_constant=lambda token: pytest.fail(f"non-strict JSON {token}"))
    assert [r["image"] for r in records] == [str(ASTRONAUT), blank]
    (face,) = records[0]["faces"]
    assert records[1]["faces"] == []
    rows = list(csv.reader(table.open()))
    assert tuple(rows[0]) == CSV_HEADER and len(rows) == 2  # the blank image has no face, so no row
    row = dict(zip(rows[0], rows[1]))
    assert row["file"] == str(ASTRONAUT) and [int(row[k]) for k in "xywh"] == face["box"]
    assert row["label"] == face["label"] and float(row["face_score"]) == pytest.approx(face["face_score"], abs=1e-4)
    assert sum(float(row[label]) for label in LABELS) == pytest.approx(1.0, abs=1e-4)


def test_annotate_writes_each_image_with_its_boxes(tmp_path, capfd):
    out_dir = tmp_path / "annotated"
    code, out, err = run_cli(capfd, "predict", ASTRONAUT, "--faces", "--model", INT8, "--annotate", out_dir)
    assert code == 0, err
    (written,) = out_dir.iterdir()
    assert written.name == "astronaut.jpg"
    drawn, original = np.asarray(Image.open(written)), np.asarray(Image.open(ASTRONAUT))
    assert drawn.shape == original.shape
    (found,) = EmotionClassifier(INT8).detect(ASTRONAUT)
    x, y, w, h = found.box
    edge = drawn[y + h // 2, x - 2 : x + 3].astype(int)  # across the box's left side: green now
    assert (edge[:, 1] - edge[:, 0]).max() > 100
    assert np.abs(drawn.astype(int) - original).mean() < 10  # the photo itself is kept


@pytest.mark.parametrize(
    "option, target, message",
    [("--json", "{tmp}", "is a directory"), ("--csv", "{tmp}/missing/r.csv", "does not exist"),
     ("--annotate", "{image}", "needs a directory"), ("--annotate", "{tmp}/no/such/dir", "does not exist")],
    ids=["json-is-a-dir", "csv-missing-parent", "annotate-is-a-file", "annotate-missing-parent"],
)
def test_unwritable_outputs_fail_before_any_work(tmp_path, capfd, option, target, message):
    image = face_image(tmp_path / "face.png")
    before = sorted(tmp_path.rglob("*"))
    code, out, err = run_cli(capfd, "predict", image, "--model", "{tmp}/not-a-model.tflite".format(tmp=tmp_path),
                             option, target.format(tmp=tmp_path, image=image))
    # The model path is bad too: the output check comes first, so it is what is reported.
    assert code == 2 and err.count("\n") == 1 and message in err and option in err, err
    assert sorted(tmp_path.rglob("*")) == before


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root may write anywhere")
def test_read_only_folder_is_refused(tmp_path, capfd):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    code, out, err = run_cli(capfd, "predict", face_image(tmp_path / "f.png"), "--model", INT8,
                             "--json", locked / "r.json")
    assert code == 2 and "not writable" in err


def test_whole_photos_without_faces_get_a_warning(tmp_path, capfd, caplog):
    wide = face_image(tmp_path / "wide.png", shape=(100, 400, 3))
    square = face_image(tmp_path / "square.png", shape=(90, 90, 3))
    code, out, err = run_cli(capfd, "predict", wide, square, "--model", INT8)
    assert code == 0, err
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and wide in warnings[0] and "400x100" in warnings[0] and "--faces" in warnings[0]


def test_progress_is_reported_for_many_images(tmp_path, capfd, caplog):
    caplog.set_level(logging.INFO, logger="edgefer")
    for i in range(12):
        face_image(tmp_path / "many" / f"{i:02d}.png", i)
    code, out, err = run_cli(capfd, "predict", tmp_path / "many", "--model", INT8)
    assert code == 0 and len(out.splitlines()) == 12
    progress = [r.getMessage() for r in caplog.records if "images" in r.getMessage()]
    assert progress[-1] == "edgefer: 12/12 images" and len(progress) >= 2
