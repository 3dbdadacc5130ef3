"""The README's Python example runs as written, and prints what its comments say."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


def test_readme_python_example_runs_and_prints_its_comments(monkeypatch):
    blocks = _python_blocks((REPO / "README.md").read_text())
    assert blocks, "the README has a python example"
    monkeypatch.chdir(REPO)  # its paths are relative to the repository root, as the README says
    for block in blocks:
        expected = [line.split("#", 1)[1].strip() for line in block.splitlines()
                    if line.lstrip().startswith("print(") and "#" in line]
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(block, "README.md", "exec"), {})
        assert out.getvalue().splitlines() == expected
