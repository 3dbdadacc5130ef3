"""Export trained models to TFLite (needs the ``train`` extra): int8 via PTQ or QAT,
float32, float16 and dynamic-range, each self-describing and audited."""

from .config import ExportConfig
from .convert import FORMATS
from .exporter import REPORT_FILE, export, model_file_name

__all__ = ["ExportConfig", "FORMATS", "REPORT_FILE", "export", "model_file_name"]
