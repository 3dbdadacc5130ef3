"""``edgefer video``: a small video written with OpenCV in a temporary folder, half its
frames showing the astronaut's face, analysed into a timeline, CSV and annotated video."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from edgefer.cli import main

cv2 = pytest.importorskip("cv2", reason="video needs OpenCV (the 'faces' extra)")

INT8 = Path(__file__).resolve().parent / "fixtures" / "tiny_int8.tflite"
ASTRONAUT = Path(__file__).resolve().parent.parent / "examples" / "astronaut.jpg"
FPS, FRAMES = 10, 8


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """Frames 0-3 show the face (moving right), frames 4-7 a plain grey wall."""
    path = tmp_path_factory.mktemp("video") / "clip.avi"
    face = np.asarray(Image.open(ASTRONAUT).convert("RGB").resize((240, 240)))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (320, 240))
    if not writer.isOpened():
        pytest.skip("this OpenCV build cannot write MJPG video")
    for i in range(FRAMES):
        rgb = np.full((240, 320, 3), 120, np.uint8)
        if i < 4:
            rgb[:, i * 20 : i * 20 + 240] = face
        writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def run_cli(capfd, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capfd.readouterr()
    return code, out, err


def test_timeline_csv_and_annotated_video(clip, tmp_path, capfd):
    report, table, annotated = tmp_path / "t.json", tmp_path / "t.csv", tmp_path / "out.avi"
    code, out, err = run_cli(capfd, "video", clip, "--model", INT8, "--json", report, "--csv", table,
                             "--annotate", annotated)
    assert code == 0, err
    assert out.startswith(f"{clip}: {FRAMES} frames analysed (every 1), 4 faces, ") and "frames/s" in out
    result = json.loads(report.read_text())
    assert result["source_fps"] == pytest.approx(FPS) and result["frames"] == FRAMES
    timeline = result["timeline"]
    assert [t["frame"] for t in timeline] == list(range(FRAMES))
    assert [t["time_s"] for t in timeline] == pytest.approx([i / FPS for i in range(FRAMES)])
    assert [len(t["faces"]) for t in timeline] == [1, 1, 1, 1, 0, 0, 0, 0]
    xs = [t["faces"][0]["box"][0] for t in timeline[:4]]
    assert all(15 <= b - a <= 25 for a, b in zip(xs, xs[1:]))  # the box follows the face, 20 px a frame
    rows = list(csv.DictReader(table.open()))
    assert [int(r["frame"]) for r in rows] == [0, 1, 2, 3]
    assert rows[0]["label"] == timeline[0]["faces"][0]["label"]
    written = cv2.VideoCapture(str(annotated))
    assert int(written.get(cv2.CAP_PROP_FRAME_COUNT)) == FRAMES
    ok, first = written.read()
    written.release()
    assert ok and first.shape == (240, 320, 3)


def test_every_nth_frame_and_max_frames(clip, capfd):
    code, out, err = run_cli(capfd, "video", clip, "--model", INT8, "--every", "3", "--json", "-")
    assert code == 0, err
    assert [t["frame"] for t in json.loads(out)["timeline"]] == [0, 3, 6]
    code, out, err = run_cli(capfd, "video", clip, "--model", INT8, "--max-frames", "2", "--csv", "-")
    assert code == 0, err
    assert [row[0] for row in csv.reader(out.splitlines()[1:])] == ["0", "1"]


@pytest.mark.parametrize(
    "argv, message",
    [(["{tmp}/missing.mp4"], "{tmp}/missing.mp4: no such video file"),
     (["{clip}", "--annotate", "{tmp}/out.gif"], "--annotate writes .mp4 or .avi"),
     (["{clip}", "--json", "{tmp}/no/such/t.json"], "does not exist"),
     (["{clip}", "--every", "0"], "--every"),
     (["99"], "camera 99: cannot open video source")],  # OpenCV's own log of the failed backends is muted
    ids=["missing-file", "bad-video-format", "missing-output-folder", "every-0", "no-camera"],
)
def test_bad_input_is_one_line_and_exit_2(clip, tmp_path, capfd, argv, message):
    argv = [a.format(tmp=tmp_path, clip=clip) for a in argv]
    code, out, err = run_cli(capfd, "video", *argv, "--model", INT8)
    assert code == 2 and err.count("\n") == 1 and message.format(tmp=tmp_path) in err, err
    assert not (tmp_path / "out.gif").exists()


def test_missing_opencv_is_one_line(clip, capfd, monkeypatch):
    monkeypatch.setitem(sys.modules, "cv2", None)
    code, out, err = run_cli(capfd, "video", clip, "--model", INT8)
    assert code == 2 and err.strip() == ("edgefer: error: video needs OpenCV: pip install 'edgefer[faces]' "
                                         "(photos with the default BlazeFace detector do not)")
