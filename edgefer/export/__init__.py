"""Export trained models to TFLite (needs the ``train`` extra): int8 via PTQ or QAT,
float32, float16 and dynamic-range, each self-describing and audited.

Importing this package does not load TensorFlow; :func:`export` does.
"""

from __future__ import annotations

from typing import Any

from .config import ExportConfig
from .formats import FORMATS, REPORT_FILE, model_file_name


def export(config: ExportConfig) -> dict[str, Any]:
    """Convert, audit, fit temperatures and gate; write the TFLite files and the JSON report."""
    from .exporter import export as run

    return run(config)


__all__ = ["ExportConfig", "FORMATS", "REPORT_FILE", "export", "model_file_name"]
