"""The fault table: every command over bad inputs, clashing outputs, a read-only folder, a full
disk and signals during a write.

Each case runs ``edgefer`` in this process on a fresh copy of a small workspace and asserts
the promises of the CLI: the exit code (2 bad input or environment, 130 interrupted, 0
where the input is odd but fine), one ``edgefer: ...`` line and no traceback, no file the
user did not name as an output changed or created (a failed command undoes what it
wrote), no hidden temporary file left, and for exit 0 each output there with its content.
Only the video cases need OpenCV.
"""

from __future__ import annotations

import errno
import hashlib
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from PIL import Image

from conftest import requires_tf
from edgefer import fileio
from edgefer.cli import exit_code, main
from edgefer.data import FaceDataset
from edgefer.datapack import write_pack
from edgefer.labels import LABELS
from edgefer.metadata import ModelInfo, embed_model_info, read_model_info
from edgefer.preprocessing import PreprocessSpec
from edgefer.synthetic import faces, fer_csv, write_csv
from edgefer.training.config import TrainConfig, preset

FIXTURES = Path(__file__).resolve().parent / "fixtures"
INT8 = FIXTURES / "tiny_int8.tflite"
NON_UTF8_NAME = os.fsdecode(b"caf\xe9.png")  # Latin-1 bytes: not a UTF-8 file name
PACKAGE = Path(fileio.__file__).resolve().parent
IN_PACKAGE = PACKAGE / "models" / "fault-table-case.json"  # must never be created
HAS_CV2 = importlib.util.find_spec("cv2") is not None
requires_cv2 = pytest.mark.skipif(not HAS_CV2, reason="video needs OpenCV (the faces extra)")
LONG_NAME = "n" * 250 + ".json"  # 255 bytes: the longest name a file system takes
TOO_LONG_NAME = "n" * 260 + ".json"


# --- the workspace every case starts from ------------------------------------------------

def _with_info(**changes) -> bytes:
    data = INT8.read_bytes()
    info = read_model_info(data)
    for key, value in changes.items():
        setattr(info, key, value)  # past ModelInfo's own checks: what a crafted file holds
    return embed_model_info(data, info)


class _Split:
    """A split whose blocks need not agree (write_pack takes anything with these fields)."""

    def __init__(self, images, labels, ids):
        self.images, self.labels, self.ids, self.source = images, labels, ids, "crafted"
        self.votes, self.label_source = None, "fer2013"

    def __len__(self) -> int:
        return len(self.images)


def _ids(n: int) -> np.ndarray:
    return np.array([str(i) for i in range(n)], dtype=object)


def _video(path: Path) -> None:
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 5, (64, 48))
    for i in range(3):
        writer.write(np.full((48, 64, 3), 40 * i, np.uint8))
    writer.release()


def _run_dir(folder: Path, data: Path, engine: str) -> Path:
    """A run directory as training leaves it, with a damaged last checkpoint."""
    config = preset("tiny", engine=engine, data=str(data), out=str(folder), epochs=2, max_train_samples=70)
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(config.to_dict()))
    (folder / "model_info.json").write_text(json.dumps(ModelInfo().to_dict()))
    checkpoints = folder / "checkpoints"
    checkpoints.mkdir()
    if engine == "torch":
        (checkpoints / "last.pt").write_bytes(b"")  # a save cut off by a full disk
    else:
        (checkpoints / "checkpoint").write_text('model_checkpoint_path: "ckpt-1"\n'
                                                'all_model_checkpoint_paths: "ckpt-1"\n')
        (checkpoints / "ckpt-1.index").write_bytes(b"\x00" * 40)
        (checkpoints / "ckpt-1.data-00000-of-00001").write_bytes(b"\x01" * 16)
        (checkpoints / "ckpt-2_temp").mkdir()  # an interrupted save
    return folder


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    ws = tmp_path_factory.mktemp("workspace")
    rng = np.random.default_rng(0)
    (ws / "imgs").mkdir()
    for name in ("a.png", "b.png"):
        Image.fromarray(rng.integers(0, 256, (48, 48), dtype=np.uint8)).save(ws / "imgs" / name)
    Image.fromarray(rng.integers(0, 256, (120, 100), dtype=np.uint8)).save(ws / "big.png")
    Image.fromarray(rng.integers(0, 256, (48, 48), dtype=np.uint8)).save(ws / NON_UTF8_NAME)
    Image.fromarray(np.full((48, 48), np.nan, np.float32), mode="F").save(ws / "nan.tif")
    shutil.copy(INT8, ws / "model.tflite")
    (ws / "labels.tflite").write_bytes(_with_info(labels=tuple(f"mood{i}" for i in range(7))))
    (ws / "cold.tflite").write_bytes(_with_info(temperature=-1.0))
    fer_csv(ws / "data.csv", n_train=6, n_val=3)
    images, labels = faces(6)
    write_csv(ws / "all.csv", {"all": (images, labels)})
    text = (ws / "all.csv").read_text()
    (ws / "nousage.csv").write_text("\n".join(",".join(line.split(",")[:2]) for line in text.splitlines()) + "\n")
    (ws / "bom.csv").write_text("\ufeff" + (ws / "data.csv").read_text(), encoding="utf-8")
    (ws / "badrow.csv").write_text(text.replace("\n0,", "\n9,", 1))
    write_pack(ws / "data.facepack", {"all": FaceDataset(images, labels, _ids(len(labels)), "x", "all")})
    write_pack(ws / "labels.facepack", {"all": _Split(images, np.full(len(labels), 9), _ids(len(labels)))})
    write_pack(ws / "blocks.facepack", {"all": _Split(images, labels[:-3], _ids(len(labels)))})
    (ws / "broken.yaml").write_text("epochs: [1,\n  lr: }\n")
    (ws / "binary.json").write_bytes(b"\xff\xfe\x00\x81binary\x00")
    for name, recipe in {"two": {"epochs": "two"}, "null": {"epochs": None}, "fraction": {"epochs": 1.5},
                         "augment": {"augment": [1, 2]}, "qat": {"qat_epochs": "one"},
                         "dropconnect": {"drop_connect_rate": 5}, "eons": {"epochs": 1e300},
                         "seed": {"seed": -1}, "batch0": {"batch_size": 0}}.items():
        (ws / f"{name}.json").write_text(json.dumps(recipe))
    # What json.dumps writes for float("inf") and float("nan"): valid to Python's reader.
    (ws / "inflr.json").write_text('{"lr": Infinity}')
    (ws / "nanrot.json").write_text('{"augment": {"rotation_deg": NaN}}')
    (ws / "deep.json").write_text('{"augment": ' + "[" * 1200 + "]" * 1200 + "}")
    (ws / "deep.yaml").write_text("epochs: " + "[" * 600 + "]" * 600 + "\n")
    (ws / "nan_temperature.tflite").write_bytes(_with_info(temperature=float("nan")))
    (ws / "inf_mean.tflite").write_bytes(_with_info(preprocess=PreprocessSpec(mean=float("inf"))))
    (ws / "number_labels.tflite").write_bytes(_with_info(labels=tuple(range(7))))
    nested: dict = {}
    for _ in range(200):
        nested = {"x": nested}
    (ws / "nested.tflite").write_bytes(_with_info(source=nested))
    (ws / "old.json").write_text('{"kept": true}\n')
    (ws / "label_sup.csv").write_text(text.replace("\n0,", "\n\u00b2,", 1), encoding="utf-8")
    (ws / "label_long.csv").write_text(text.replace("\n0,", "\n" + "1" * 5000 + ",", 1))
    first = text.splitlines()[1].split(",")
    pixel_row = ",".join([first[0], "\u00b2 " + first[1].split(" ", 1)[1], *first[2:]])
    (ws / "pixel_sup.csv").write_text(text.replace(text.splitlines()[1], pixel_row, 1), encoding="utf-8")
    if HAS_CV2:
        _video(ws / "clip.avi")
    _run_dir(ws / "torchrun", ws / "data.csv", "torch")
    _run_dir(ws / "kerasrun", ws / "data.csv", "keras")
    (ws / "torchrun" / "metrics.json").write_text('{"top1": 0.5}\n')
    (ws / "kerasrun" / "model.keras").write_bytes(b"not a model yet")
    (ws / "ro").mkdir()
    (ws / "dir.facepack").mkdir()
    return ws


# --- faults injected into the write path ---------------------------------------------------

def _read_only(monkeypatch, ws: Path) -> None:
    """Tests run as root, who may write anywhere: the permission check itself is simulated."""
    real = os.access
    read_only = (ws / "ro").resolve()
    monkeypatch.setattr(fileio.os, "access", lambda p, mode: Path(p).resolve() != read_only and real(p, mode))


def _fail_writes(monkeypatch, fault: Callable[[], None]) -> None:
    """Every text, image and pack write stops halfway through with `fault` (a full disk, a signal)."""
    real_text, real_save = Path.write_text, Image.Image.save

    def write_text(self, data, *args, **kwargs):
        real_text(self, data[: len(data) // 2], *args, **kwargs)
        fault()

    def save(self, fp, *args, **kwargs):
        real_save(self, fp, *args, **kwargs)
        Path(fp).write_bytes(Path(fp).read_bytes()[:100])
        fault()

    monkeypatch.setattr(Path, "write_text", write_text)
    monkeypatch.setattr(Image.Image, "save", save)


def _disk_full() -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _full_disk(monkeypatch, ws: Path) -> None:
    _fail_writes(monkeypatch, _disk_full)


def _sigint(monkeypatch, ws: Path) -> None:
    _fail_writes(monkeypatch, lambda: os.kill(os.getpid(), signal.SIGINT))


def _sigterm(monkeypatch, ws: Path) -> None:
    _fail_writes(monkeypatch, lambda: os.kill(os.getpid(), signal.SIGTERM))


def _small_image_limit(monkeypatch, ws: Path) -> None:
    monkeypatch.setenv("EDGEFER_MAX_IMAGE_PIXELS", "10000")


def _sighup(monkeypatch, ws: Path) -> None:
    _fail_writes(monkeypatch, lambda: os.kill(os.getpid(), signal.SIGHUP))


def _cut_short_images(monkeypatch, ws: Path) -> None:
    """A file-size limit that cuts an image short without an error: the writer cannot tell."""
    real_save = Image.Image.save

    def save(self, fp, *args, **kwargs):
        real_save(self, fp, *args, **kwargs)
        Path(fp).write_bytes(Path(fp).read_bytes()[:100])

    monkeypatch.setattr(Image.Image, "save", save)


def _sigint_at_second_image(monkeypatch, ws: Path) -> None:
    """Ctrl-C after the first annotated image is in place: it must go too."""
    real_save, saved = Image.Image.save, []

    def save(self, fp, *args, **kwargs):
        saved.append(fp)
        if len(saved) == 2:
            os.kill(os.getpid(), signal.SIGINT)
        real_save(self, fp, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "save", save)


def _pictures_fail(monkeypatch, ws: Path) -> None:
    """The disk fills up after the JSON report is in place, while its pictures are renamed."""
    real = os.replace

    def replace(src, dst, *args, **kwargs):
        if str(dst).endswith(".png"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(src))
        return real(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)


def _fifo(monkeypatch, ws: Path) -> None:
    os.mkfifo(ws / "pipe")


def _drop_last_frame(monkeypatch) -> None:
    """A video writer that loses a frame without an error (a full disk under FFmpeg)."""
    from edgefer.runtime import video

    real = video._VideoWriter.write

    def write(self, rgb):
        if self.frames == 2:
            self.frames += 1
            return
        real(self, rgb)

    monkeypatch.setattr(video._VideoWriter, "write", write)


def _frames(path: Path) -> int:
    import cv2

    capture = cv2.VideoCapture(str(path))
    count = 0
    while capture.read()[0]:
        count += 1
    capture.release()
    return count


# --- the table -----------------------------------------------------------------------------

@dataclass
class Case:
    id: str
    argv: str  # split on spaces ('' is an empty argument); names are relative to the workspace
    code: int = 2
    message: str = ""  # in the last line of stderr
    outputs: tuple[str, ...] = ()  # files it may write (only with exit 0) and folders it may create
    in_place: str = ""  # a folder the command works in (a run to --resume): its files may change
    fault: Callable | None = None
    marks: list = field(default_factory=list)
    # Exit 0: each output file must be there and hold what the command writes (checked by content).
    expect: dict[str, Callable[[Path], bool]] = field(default_factory=dict)


def _predictions_json(path: Path) -> bool:
    records = json.loads(path.read_text())
    return bool(records) and all(r["label"] in LABELS and 0 <= r["score"] <= 1 for r in records)


def _predictions_csv(path: Path) -> bool:
    rows = [line.split(",") for line in path.read_text(encoding="utf-8", errors="surrogateescape").splitlines()]
    return len(rows) >= 2 and all(row[rows[0].index("label")] in LABELS for row in rows[1:])


def _report_json(path: Path) -> bool:
    report = json.loads(path.read_text())
    return 0 <= report["top1"] <= 1 and len(report["confusion_matrix"]) == len(LABELS)


def _parity_json(path: Path) -> bool:
    report = json.loads(path.read_text())
    return report["agreement"] == 1.0 and "passed" in report


def _png(path: Path) -> bool:
    with Image.open(path) as image:
        image.load()
        return image.size[0] > 0


def _markdown(path: Path) -> bool:
    return "PASS" in path.read_text() or "FAIL" in path.read_text()


def _annotated_folder(count: int) -> Callable[[Path], bool]:
    return lambda folder: len([p for p in folder.iterdir() if _png(p)]) == count


M = "--model model.tflite"
CASES = [
    # An output aimed at an input.
    Case("predict-json-is-input", f"predict imgs/a.png {M} --json imgs/a.png", message="overwrite the input"),
    Case("predict-csv-is-input", f"predict imgs/a.png {M} --csv imgs/a.png", message="overwrite the input"),
    Case("predict-json-is-model", f"predict imgs/a.png {M} --json model.tflite", message="overwrite the input"),
    Case("predict-annotate-is-input-folder", f"predict imgs {M} --annotate imgs", message="overwrite the input"),
    Case("predict-annotate-holds-input", f"predict imgs/a.png {M} --annotate imgs", message="holds the input"),
    Case("predict-json-inside-input-folder", f"predict imgs {M} --json imgs/out.json", message="inside the input"),
    Case("video-annotate-is-input", f"video clip.avi {M} --annotate clip.avi", message="overwrite the input",
         marks=[requires_cv2]),
    Case("video-json-is-input", f"video clip.avi {M} --json clip.avi", message="overwrite the input",
         marks=[requires_cv2]),
    Case("evaluate-json-is-data", f"evaluate model.tflite --data data.csv --json data.csv", message="overwrite"),
    Case("evaluate-json-is-model", f"evaluate model.tflite --data data.csv --json model.tflite", message="overwrite"),
    Case("parity-json-is-model", "parity model.tflite model.tflite --data data.csv --json model.tflite",
         message="overwrite"),
    Case("parity-json-inside-data", "parity model.tflite model.tflite --data imgs --json imgs/p.json",
         message="inside the input"),
    Case("bench-json-is-model", "bench model.tflite --json model.tflite", message="overwrite the input"),
    Case("pack-out-is-source", "data pack data.facepack --out data.facepack", message="overwrite the input"),
    Case("train-out-inside-data", "train --engine torch --data imgs --out imgs/run", message="inside the input"),
    Case("train-out-is-data", "train --engine torch --data data.csv --out data.csv", message="is a file"),
    Case("export-out-holds-model", "export kerasrun --out kerasrun", message="holds the input", marks=[requires_tf]),
    Case("export-out-is-data", "export kerasrun --data data.csv --out data.csv", message="is a file",
         marks=[requires_tf]),
    # Two outputs on one path.
    Case("predict-json-csv-same", f"predict imgs/a.png {M} --json o.json --csv o.json", message="same path"),
    Case("predict-json-annotate-same", f"predict imgs/a.png {M} --json o --annotate o", message="same path"),
    Case("video-json-csv-same", f"video clip.avi {M} --json o.json --csv o.json", message="same path",
         marks=[requires_cv2]),
    Case("video-json-annotate-same", f"video clip.avi {M} --json o.avi --annotate o.avi", message="same path",
         marks=[requires_cv2]),
    Case("parity-json-beside-png", "parity model.tflite model.tflite --data data.csv --bootstrap 0 --json a.json",
         code=0, outputs=("a.json", "a.md", "a.confusion.png", "a.reliability.png"),
         expect={"a.json": _parity_json, "a.md": _markdown, "a.confusion.png": _png, "a.reliability.png": _png}),
    # Outputs that cannot be written: checked before any work.
    Case("bench-json-is-folder", "bench model.tflite --json imgs", message="is a directory"),
    Case("pack-out-is-folder", "data pack data.csv --out dir.facepack", message="is a directory"),
    Case("pack-out-missing-folder", "data pack data.csv --out nowhere/p.facepack", message="does not exist"),
    Case("weights-out-is-folder", "weights pack lite0 --out imgs", message="is a directory"),
    Case("weights-out-missing-folder", "weights pack lite0 --out nowhere/w.safetensors", message="does not exist"),
    # A read-only folder.
    *(Case(f"read-only-{name}", argv, message="not writable", fault=_read_only) for name, argv in {
        "predict-json": f"predict imgs/a.png {M} --json ro/p.json",
        "predict-annotate": f"predict imgs/a.png {M} --annotate ro/ann",
        "evaluate-json": "evaluate model.tflite --data data.csv --json ro/e.json",
        "bench-json": "bench model.tflite --runs 2 --warmup 0 --json ro/b.json",
        "pack-out": "data pack data.csv --out ro/p.facepack",
        "weights-out": "weights pack lite0 --out ro/w.safetensors",
        "train-out": "train --engine torch --data data.csv --out ro/run",
    }.items()),
    # A disk that fills up, and signals, in the middle of a write.
    *(Case(f"full-disk-{name}", argv, message="No space left on device", outputs=("ann",), fault=_full_disk)
      for name, argv in {
        "predict-json": f"predict imgs/a.png {M} --json p.json",
        "predict-csv": f"predict imgs/a.png {M} --csv p.csv",
        "predict-annotate": f"predict imgs/a.png {M} --annotate ann",
        "bench-json": "bench model.tflite --runs 2 --warmup 0 --json b.json",
        "evaluate-json": "evaluate model.tflite --data data.csv --json e.json",
    }.items()),
    Case("sigint-predict-json", f"predict imgs/a.png {M} --json p.json", code=130, message="edgefer: interrupted",
         fault=_sigint),
    Case("sigint-predict-annotate", f"predict imgs {M} --annotate ann", code=130, message="edgefer: interrupted",
         outputs=("ann",), fault=_sigint),
    Case("sigterm-bench-json", "bench model.tflite --runs 2 --warmup 0 --json b.json", code=143,
         message="edgefer: terminated", fault=_sigterm),
    # Config files: broken, binary, values of the wrong type.
    Case("config-broken-yaml", "train --config broken.yaml --data data.csv", message="not a valid config file"),
    Case("config-binary", "train --config binary.json --data data.csv", message="not a text file"),
    Case("config-epochs-string", "train --config two.json --data data.csv", message="epochs must be an integer"),
    Case("config-epochs-null", "train --config null.json --data data.csv", message="epochs must be an integer"),
    Case("config-epochs-fraction", "train --config fraction.json --data data.csv", message="got 1.5"),
    Case("config-augment-list", "train --config augment.json --data data.csv", message="augment must be a mapping"),
    Case("export-config-wrong-type", "export kerasrun --config qat.json", message="qat_epochs must be an integer",
         marks=[requires_tf]),
    # Splits are taken by name.
    Case("split-not-held", "train --engine torch --data nousage.csv --train-split Training --val-split PublicTest "
         "--out run", message="no split 'Training' (available: all)"),
    Case("val-split-not-held", "train --engine torch --data data.csv --val-split PrivateTest --out run",
         message="no split 'PrivateTest' (available: Training, PublicTest)"),
    Case("train-bad-row-leaves-no-run", "train --engine torch --data badrow.csv --out run", message="unknown emotion label"),
    # Damaged checkpoints on --resume.
    Case("resume-torch-empty-checkpoint", "train --resume torchrun", message="damaged", in_place="torchrun"),
    Case("resume-keras-damaged-checkpoint", "train --resume kerasrun", message="damaged checkpoint",
         in_place="kerasrun", marks=[requires_tf]),
    # Crafted or odd inputs.
    Case("pack-label-out-of-range", "evaluate model.tflite --data labels.facepack", message="out of range"),
    Case("pack-blocks-disagree", "evaluate model.tflite --data blocks.facepack", message="disagree"),
    Case("image-over-pixel-limit", f"predict big.png {M}", message="image too large", fault=_small_image_limit),
    Case("image-over-limit-skipped", f"predict big.png imgs/a.png {M} --skip-bad --json p.json", code=0,
         outputs=("p.json",), fault=_small_image_limit, expect={"p.json": _predictions_json}),
    Case("float-image-nan", f"predict nan.tif {M}", message="nan.tif: face array contains NaN"),
    Case("model-foreign-labels", "predict imgs/a.png --model labels.tflite --csv p.csv", message="not the seven"),
    Case("model-bad-temperature", "predict imgs/a.png --model cold.tflite", message="cold.tflite"),
    Case("csv-with-bom", "evaluate model.tflite --data bom.csv --json e.json", code=0,
         outputs=("e.json", "e.confusion.png", "e.reliability.png"),
         expect={"e.json": _report_json, "e.confusion.png": _png, "e.reliability.png": _png}),
    Case("non-utf8-file-name-csv", f"predict {NON_UTF8_NAME} {M} --csv p.csv", code=0, outputs=("p.csv",),
         expect={"p.csv": _predictions_csv}),
    # Values out of range.
    Case("parity-negative-bootstrap", "parity model.tflite model.tflite --data data.csv --bootstrap -5",
         message="--bootstrap"),
    Case("parity-agreement-over-1", "parity model.tflite model.tflite --data data.csv --min-agreement 2",
         message="min_agreement"),
    Case("predict-face-score-0", f"predict imgs/a.png {M} --faces --min-face-score 0", message="--min-face-score"),
    Case("predict-threads-1000", f"predict imgs/a.png {M} --threads 1000", message="must lie in 1.."),
    Case("bench-callers-1000", "bench model.tflite --callers 1000", message="caller counts"),
    Case("video-huge-camera-index", f"video 99999999999999999999 {M}", message="too large for a camera index"),
    Case("usage-error-one-line", f"predict imgs/a.png {M} --jsn p.json", message="No such option: --jsn"),
    # Outputs that would replace what the user owns (the second fault round).
    Case("read-only-video-csv", f"video clip.avi {M} --csv ro/v.csv", message="not writable", fault=_read_only,
         marks=[requires_cv2]),
    Case("predict-json-in-package", f"predict imgs/a.png {M} --json {IN_PACKAGE}", message="installed edgefer package"),
    Case("evaluate-json-is-model-info", "evaluate kerasrun --data data.csv --json kerasrun/model_info.json",
         message="overwrite the input"),
    Case("evaluate-json-is-run-config", "evaluate torchrun --data data.csv --json torchrun/config.json",
         message="overwrite the input"),
    Case("parity-json-is-run-metrics", "parity torchrun model.tflite --data data.csv --json torchrun/metrics.json",
         message="overwrite the input"),
    Case("predict-json-inside-annotate", f"predict imgs/a.png {M} --annotate ann --json ann/f0.png",
         message="inside the --annotate folder"),
    Case("predict-json-device", f"predict imgs/a.png {M} --json /dev/null", message="regular file"),
    Case("predict-csv-fifo", f"predict imgs/a.png {M} --csv pipe", message="regular file", fault=_fifo),
    Case("train-out-empty", "train --engine torch --data data.csv --out ''", message="empty"),
    Case("predict-json-name-too-long", f"predict imgs/a.png {M} --json {TOO_LONG_NAME}", message="longer than 255"),
    Case("predict-json-longest-name", f"predict imgs/a.png {M} --json {LONG_NAME}", code=0, outputs=(LONG_NAME,),
         expect={LONG_NAME: _predictions_json}),
    # Written files checked before the rename; a failed command undoes what it wrote.
    Case("cut-short-annotation", f"predict imgs {M} --annotate ann --json p.json", message="does not decode",
         fault=_cut_short_images),
    Case("cut-short-video", f"video clip.avi {M} --annotate v.avi --json v.json", message="2 of 3 frames",
         fault=lambda mp, ws: _drop_last_frame(mp), marks=[requires_cv2]),
    Case("pictures-fail-json-removed", "evaluate model.tflite --data data.csv --json e.json",
         message="No space left on device", fault=_pictures_fail),
    Case("pictures-fail-old-json-restored", "evaluate model.tflite --data data.csv --json old.json",
         message="No space left on device", fault=_pictures_fail),
    Case("sigint-after-first-annotation", f"predict imgs {M} --annotate ann --json p.json", code=130,
         message="edgefer: interrupted", fault=_sigint_at_second_image),
    Case("sighup-predict-annotate", f"predict imgs {M} --annotate ann", code=129, message="edgefer: hung up",
         fault=_sighup),
    Case("video-annotate-complete", f"video clip.avi {M} --annotate v.avi", code=0, outputs=("v.avi",),
         expect={"v.avi": lambda path: _frames(path) == 3}, marks=[requires_cv2]),
    Case("predict-annotate-complete", f"predict imgs {M} --annotate ann --json p.json", code=0,
         outputs=("ann", "ann/a.png", "ann/b.png", "p.json"),
         expect={"ann": _annotated_folder(2), "p.json": _predictions_json}),
    # Malformed inputs: one line and exit 2, never a crash.
    Case("config-deep-json", "train --config deep.json --data data.csv", message="nested more than"),
    Case("config-deep-yaml", "train --config deep.yaml --data data.csv", message="nested more than"),
    Case("config-drop-connect-5", "train --config dropconnect.json --data data.csv",
         message="drop_connect_rate must be in [0, 1), got 5"),
    Case("config-epochs-1e300", "train --config eons.json --data data.csv", message="epochs must be in [1, 10000]"),
    Case("config-negative-seed", "train --config seed.json --data data.csv", message="seed must be in [0, "),
    Case("config-batch-size-0", "train --config batch0.json --data data.csv", message="batch_size must be in [1, "),
    Case("config-infinite-lr", "train --config inflr.json --data data.csv", message="lr must be in (0, 10]"),
    Case("config-nan-rotation", "train --config nanrot.json --data data.csv",
         message="augment.rotation_deg must be in [0, 180]"),
    Case("evaluate-batch-size-0", "evaluate model.tflite --data data.csv --batch-size 0", message="--batch-size"),
    Case("parity-bootstrap-ceiling", "parity model.tflite model.tflite --data data.csv --bootstrap 100000000",
         message="--bootstrap must be in [0, 100000]"),
    Case("bench-runs-0", "bench model.tflite --runs 0", message="--runs must be in [1, "),
    Case("demo-no-faces", "demo --faces-per-class 0 --out d", message="--faces-per-class must be in [1, "),
    Case("model-nan-temperature", "predict imgs/a.png --model nan_temperature.tflite", message="temperature"),
    Case("model-infinite-mean", "predict imgs/a.png --model inf_mean.tflite", message="preprocess.mean"),
    Case("model-number-labels", "predict imgs/a.png --model number_labels.tflite", message="labels"),
    Case("model-nested-metadata", "predict imgs/a.png --model nested.tflite", message="nested more than"),
    Case("csv-superscript-label", "evaluate model.tflite --data label_sup.csv", message="emotion label '²'"),
    Case("csv-superscript-label-skipped", "evaluate model.tflite --data label_sup.csv --skip-bad", code=0),
    Case("csv-5000-digit-label", "evaluate model.tflite --data label_long.csv", message="emotion label"),
    Case("csv-superscript-pixel", "evaluate model.tflite --data pixel_sup.csv", message="line 2"),
]


@pytest.fixture(autouse=True)
def _keep_signal_handlers():
    # main() installs its SIGTERM handler in this process; later tests get the old one back.
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    # A fresh `edgefer` process has Python's Ctrl-C handler; an earlier test in this
    # process (a library's own handler) may have replaced it.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    for sig, handler in handlers.items():
        signal.signal(sig, handler)


def _snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _empty_folders(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_dir() and not any(p.iterdir())}


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=c.marks) for c in CASES])
def test_fault_table(case: Case, template: Path, tmp_path: Path, monkeypatch, capfd):
    ws = tmp_path / "ws"
    shutil.copytree(template, ws, symlinks=True)
    monkeypatch.chdir(ws)
    if case.fault:
        case.fault(monkeypatch, ws)
    before, empty_before = _snapshot(ws), _empty_folders(ws)
    try:
        code = main(["" if arg == "''" else arg for arg in case.argv.split()])
    finally:
        monkeypatch.undo()  # the faults end with the command
        if IN_PACKAGE.exists():  # a regression must not leave a file in the checkout
            IN_PACKAGE.unlink()
            pytest.fail(f"{IN_PACKAGE} was written")
    _, err = capfd.readouterr()
    assert code == case.code, err
    assert "Traceback" not in err and "Aborted" not in err
    if case.code:
        last = err.strip().splitlines()[-1] if err.strip() else ""
        assert last.startswith("edgefer: "), err
        assert case.message in last, err
    after = _snapshot(ws)
    changed = {p for p in set(before) | set(after) if before.get(p) != after.get(p)
               and not (case.in_place and p.startswith(case.in_place + "/"))}
    assert changed <= set(case.outputs if code == 0 else ()), f"files changed: {sorted(changed)}"
    hidden = [p for p in after if any(part.startswith(".") for part in Path(p).parts)]
    assert not hidden, f"hidden files left: {hidden}"
    # A folder the command created and left empty; only one the user named as an output may stay.
    new_empty = _empty_folders(ws) - empty_before - set(case.outputs)
    assert not new_empty, f"empty folders left: {sorted(new_empty)}"
    for name, holds_content in case.expect.items():
        assert (ws / name).exists() and holds_content(ws / name), f"{name}: missing or wrong content"
    if code == 0:
        written = {p for p in changed if p in set(case.outputs)}
        assert written <= set(case.expect) | {p for p in written if any(p.startswith(e + "/") for e in case.expect)}, \
            f"outputs without a content check: {sorted(written - set(case.expect))}"


# --- signals outside the write path ----------------------------------------------------------

def test_ctrl_c_while_the_commands_load_is_one_line(tmp_path):
    """Ctrl-C during start-up (importing the command modules) ends like Ctrl-C later."""
    script = ("import builtins, os, signal\n"
              "real = builtins.__import__\n"
              "def interrupting(name, *args, **kwargs):\n"
              "    if name == 'typer':\n"
              "        os.kill(os.getpid(), signal.SIGINT)\n"
              "    return real(name, *args, **kwargs)\n"
              "builtins.__import__ = interrupting\n"
              "import edgefer.cli\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 130, done.stderr
    assert done.stderr.strip() == "edgefer: interrupted", done.stderr


def test_ctrl_c_that_a_library_wrapped_is_still_an_interrupt():
    try:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as exc:
            raise ImportError("partially initialised module") from exc
    except ImportError as wrapped:
        assert exit_code(wrapped) == 130


def test_bench_callers_stop_when_interrupted(template, tmp_path, monkeypatch, capfd):
    """Ctrl-C while callers are timing: every caller thread ends, none runs on to its last face."""
    import threading

    from edgefer.runtime.classifier import EmotionClassifier

    real, calls = EmotionClassifier.predict, []

    def predict(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 50:
            os.kill(os.getpid(), signal.SIGINT)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(EmotionClassifier, "predict", predict)
    before = set(threading.enumerate())
    code = main(["bench", str(template / "model.tflite"), "--runs", "20000", "--warmup", "0", "--callers", "2"])
    assert code == 130, capfd.readouterr().err
    callers = [t for t in threading.enumerate() if t not in before]
    for thread in callers:
        thread.join(timeout=10)  # a bound for a loaded machine: each caller has one face to finish
    assert not [t for t in callers if t.is_alive()]
    assert len(calls) < 20000
