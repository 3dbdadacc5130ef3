"""The base install (no TensorFlow) keeps its promises; this also runs in the TF-free CI venv."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _fresh(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)


def test_base_modules_never_import_tensorflow():
    code = (
        "import sys, json\n"
        "import edgefer, edgefer.cli, edgefer.data, edgefer.evaluate, edgefer.metadata, edgefer.metrics\n"
        "import edgefer.parity, edgefer.predictors, edgefer.preprocessing, edgefer.runtime\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('tensorflow', 'tf_keras', 'keras', 'tensorflow_model_optimization', 'matplotlib'))))"
    )
    result = _fresh(code)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


def test_cli_help_works_without_loading_tensorflow():
    code = (
        "import sys\nfrom edgefer.cli import main\n"
        "code = main(['--help'])\n"
        "assert 'tensorflow' not in sys.modules, 'help imported TensorFlow'\n"
        "sys.exit(code)"
    )
    result = _fresh(code)
    assert result.returncode == 0, result.stderr
    for command in ("train", "evaluate", "parity"):
        assert command in result.stdout


def test_training_without_the_extra_says_what_to_install(tmp_path):
    pytest.importorskip("numpy")
    try:
        import tensorflow  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("TensorFlow is installed here; this checks the base install")
    # In a folder without runs/, as on a fresh clone: the default run folder's parents are created.
    work = tmp_path / "fresh"
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-m", "edgefer", "train", "--data", str(tmp_path / "x.csv")],
                            cwd=work, capture_output=True, text=True, env=env)
    assert result.returncode == 2
    assert "pip install 'edgefer[train]'" in result.stderr
