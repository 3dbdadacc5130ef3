"""The device install: the wheel `make wheel` builds, installed into a fresh virtual
environment outside the checkout (no TensorFlow), runs both shipped models on a photo.

It builds from a copy of the files a commit would hold (git's tracked and unignored
files), so nothing the checkout happens to have lying around, a build/ folder or the
virtual environments, can make the wheel work; pip fetches the base requirements as a
device would (from its cache where it has them).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from edgefer.runtime import EmotionClassifier
from edgefer.runtime.zoo import SHIPPED

ROOT = Path(__file__).resolve().parent.parent
PHOTO = ROOT / "examples" / "astronaut.jpg"
TRAINING_ONLY = ("tensorflow", "tf_keras", "keras", "torch", "cv2")  # none of these on a device

pytestmark = pytest.mark.slow


def _run(*command: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess:
    # pip and the CLI print to this test's output only when they fail.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    done = subprocess.run([str(c) for c in command], cwd=cwd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, f"{' '.join(map(str, command))}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def _source_copy(dest: Path) -> Path:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs a git checkout to know which files a commit holds")
    listed = _run("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=ROOT).stdout
    for name in filter(None, listed.split("\0")):
        if (ROOT / name).is_file():  # a tracked file deleted in the working tree is not there
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    return dest


def test_wheel_is_the_device_install(tmp_path):
    source = _source_copy(tmp_path / "source")
    # The Makefile's `wheel` target, built into this test's folder.
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", tmp_path / "dist", source)
    (wheel,) = (tmp_path / "dist").glob("edgefer-*-py3-none-any.whl")
    packed = set(zipfile.ZipFile(wheel).namelist())
    shipped = {f"edgefer/models/{model.file}" for model in SHIPPED}
    page = {f"edgefer/web/static/{p.name}" for p in (ROOT / "edgefer" / "web" / "static").iterdir()}
    assert shipped | page <= packed and "edgefer/models/face_detection_full_range_sparse.tflite" in packed

    env = tmp_path / "device"
    _run(sys.executable, "-m", "venv", env)
    python, edgefer = env / "bin" / "python", env / "bin" / "edgefer"
    _run(python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", wheel)
    probe = "import importlib.util as u, edgefer; print(edgefer.__file__); print([n for n in %r if u.find_spec(n)])"
    where, heavy = _run(python, "-c", probe % (TRAINING_ONLY,), cwd=tmp_path).stdout.splitlines()
    assert Path(where).is_relative_to(env) and heavy == "[]"

    for name in (model.name for model in SHIPPED):
        out = tmp_path / f"{name}.json"
        _run(edgefer, "predict", PHOTO, "--faces", "--model", name, "--json", out, cwd=tmp_path)
        (record,) = json.loads(out.read_text())
        here = EmotionClassifier(name).detect(PHOTO)  # this checkout's runtime, same photo and model
        assert len(here) == 1
        assert [(tuple(f["box"]), f["label"]) for f in record["faces"]] == [(tuple(b), p.label) for b, p in here]
        assert record["faces"][0]["score"] == pytest.approx(here[0].prediction.score, abs=1e-5)

    assert "--port" in _run(edgefer, "web", "--help", cwd=tmp_path).stdout
