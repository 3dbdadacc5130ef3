"""The export format table: one row per format, naming its file suffix and its converter.

A new format is one row here and one converter function in :mod:`edgefer.export.convert`
(as Ultralytics' exporter pairs its format table with one export function per row); the
converter, the exporter's gate and the CLI's checks read the table. TensorFlow-free, so
the converter is named, not imported.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError


@dataclass(frozen=True)
class Format:
    name: str
    description: str
    converter: str  # the function of edgefer.export.convert that makes the file's bytes
    suffix: str = ".tflite"
    # Full-integer: calibration faces set the activation ranges, the model's input and
    # output take the --io type, every op must be integer, and parity with float gates it.
    full_integer: bool = False

    @property
    def file_name(self) -> str:
        return f"model_{self.name}{self.suffix}"

    @property
    def needs_calibration(self) -> bool:
        return self.full_integer

    @property
    def gated(self) -> bool:
        return self.full_integer


FORMATS: dict[str, Format] = {f.name: f for f in (
    Format("int8", "full-integer int8 (PTQ or QAT, the better kept), for CPUs, DSPs and NPUs", "tflite_int8",
           full_integer=True),
    Format("float32", "the float model as it is: the reference", "tflite_float32"),
    Format("float16", "float16 weights, float compute: half the size of float32", "tflite_float16"),
    Format("dynamic", "int8 weights, float activations: no calibration data needed", "tflite_dynamic"),
)}
INT8_IO_TYPES = ("int8", "uint8", "float32")
REPORT_FILE = "export_report.json"
QAT_WEIGHTS_FILE = "qat_weights.h5"


def get_format(name: str) -> Format:
    if name not in FORMATS:
        raise ConfigError(f"unknown export format {name!r} (choose from {', '.join(FORMATS)})")
    return FORMATS[name]


def model_file_name(name: str) -> str:
    return get_format(name).file_name
