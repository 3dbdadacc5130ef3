"""The models shipped inside the package, by name: the only place that knows them.

Users pick accuracy or speed by name, as in other model zoos. Help texts, CLI choices,
``edgefer models``, the benchmarks and the bundled-model checks all read this table,
so shipping another model is one more :class:`ShippedModel` in ``SHIPPED``.

Files are package data (``edgefer/models/``); the float reference, the model card and
the reports live in the repository's ``models/`` folder (paths relative to its root).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ModelError
from ..metadata import read_model_info

PACKAGE_MODELS = Path(__file__).resolve().parent.parent / "models"
# A checkout (or an editable install) also has the cards and reports; a wheel has the models alone.
REPOSITORY = PACKAGE_MODELS.parents[1]


@dataclass(frozen=True)
class ShippedModel:
    name: str
    file: str  # in edgefer/models/
    reference: str  # the float model the int8 one is gated against by `edgefer parity`
    card: str
    sha256: str  # of `file`: a bundled model that differs is not the one the reports measured
    evaluation: str  # `edgefer evaluate NAME --json` on PublicTest
    parity: str  # `edgefer parity REFERENCE NAME --json` on PublicTest
    description: str  # one line, for help texts and `edgefer models`

    @property
    def path(self) -> Path:
        return PACKAGE_MODELS / self.file

    @property
    def reports(self) -> dict[str, str]:
        return {"evaluation": self.evaluation, "parity": self.parity}


SHIPPED = (
    ShippedModel(
        name="default",
        file="edgefer_fer_int8.tflite",
        reference="models/edgefer_fer_float16.tflite",
        card="models/MODEL_CARD.md",
        sha256="5d7a1378fd4b89b874a5b7f52464b2185d3620ba35e1bbf02e87abb5f5e56da2",
        evaluation="models/eval_int8_publictest.json",
        parity="models/parity_publictest.json",
        description="the most accurate on clean faces",
    ),
    ShippedModel(
        name="fast",
        file="edgefer_fer_fast_int8.tflite",
        reference="models/edgefer_fer_fast_float16.tflite",
        card="models/MODEL_CARD_fast.md",
        sha256="ea06259300ac3bfec856867491ececd45c0166c05102e0a43126ad6356dce8b0",
        evaluation="models/eval_fast_int8_publictest.json",
        parity="models/parity_fast_publictest.json",
        description="as accurate on clean faces at about half the latency, far more robust to camera shifts",
    ),
    ShippedModel(
        name="ferplus",
        file="edgefer_fer_ferplus_int8.tflite",
        reference="models/edgefer_fer_ferplus_float16.tflite",
        card="models/MODEL_CARD_ferplus.md",
        sha256="f22c63f23bc2a80ad53289d365895ca3fa95972b63d67ac48160596b71e38b08",
        evaluation="models/eval_ferplus_int8_publictest.json",
        parity="models/parity_ferplus_publictest.json",
        description="trained on FER+ votes: says what most annotators see, far less often FER2013's own label",
    ),
)
SHIPPED_MODELS = {model.name: model for model in SHIPPED}
# Reports that measure every shipped model at once, by the benchmark that writes them (--json).
BENCH_REPORTS = {
    "bench_mediapipe": "models/app_runtimes_publictest.json",  # MediaPipe's ImageClassifier vs edgefer
    "bench_web": "models/web_crops_publictest.json",  # the web page vs `edgefer predict` (--crops)
    "bench_canonical_input": "models/canonical_input_publictest.json",  # what the in-graph steps cost
}
# The model used wherever none is named: the first of the table.
DEFAULT_MODEL_NAME = SHIPPED[0].name
# What `edgefer models` shows of each model's evaluation report.
HEADLINE_METRICS = ("top1", "top3", "mcc", "macro_f1")


def names_help() -> str:
    """The shipped names as help texts list them, quoted and joined by commas and a final 'or'."""
    names = [f"'{model.name}'" for model in SHIPPED]
    return " or ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)


def is_shipped(model: object) -> bool:
    return isinstance(model, str) and model in SHIPPED_MODELS


def shipped_model(name: str) -> ShippedModel:
    if name not in SHIPPED_MODELS:
        raise ModelError(f"no shipped model is called {name!r} (choose from {', '.join(SHIPPED_MODELS)})")
    return SHIPPED_MODELS[name]


def shipped_model_path(name: str = DEFAULT_MODEL_NAME) -> Path:
    """The path of a model shipped as package data (a name of ``SHIPPED_MODELS``)."""
    path = shipped_model(name).path
    if not path.is_file():
        raise ModelError(f"no {name} model is bundled with this installation ({path} is missing); "
                         "reinstall edgefer or pass model=PATH")
    return path



def read_report(path: str) -> dict[str, Any] | None:
    """A committed report of the repository as a dict; None where this installation has none (a wheel)."""
    file = REPOSITORY / path
    return json.loads(file.read_text(encoding="utf-8")) if file.is_file() else None


def headline(model: ShippedModel) -> dict[str, Any]:
    """A shipped model's headline numbers, read from its reports (None where a report is absent)."""
    evaluation, parity = read_report(model.evaluation), read_report(model.parity)
    row: dict[str, Any] = {"name": model.name, "input": read_model_info(model.path.read_bytes()).network_size,
                           "size_mb": model.path.stat().st_size / 1e6}
    for key in HEADLINE_METRICS:
        row[key] = evaluation[key] if evaluation else None
    row["ferplus_top1"] = (evaluation.get("ferplus") or {}).get("top1") if evaluation else None
    row["split"] = evaluation["split"] if evaluation else None
    row["parity"] = None if parity is None else ("PASS" if parity["passed"] else "FAIL")
    row["description"] = model.description
    return row


def format_table(rows: list[dict[str, Any]]) -> str:
    """`edgefer models`: one line per shipped model, '-' for a number whose report is absent."""
    def number(value: float | None) -> str:
        return "-" if value is None else f"{value:.4f}"

    lines = [f"{'name':<10} {'net':>5} {'MB':>5} {'top1':>7} {'top3':>7} {'mcc':>7} {'macroF1':>7} {'FER+':>7} "
             f"{'parity':>6}  description"]
    for r in rows:
        lines.append(f"{r['name']:<10} {r['input']:>3}px {r['size_mb']:>5.2f} "
                     + " ".join(f"{number(r[key]):>7}" for key in (*HEADLINE_METRICS, "ferplus_top1"))
                     + f" {r['parity'] or '-':>6}  {r['description']}")
    splits = {r["split"] for r in rows if r["split"]}
    lines.append(f"numbers: {', '.join(sorted(splits)) or 'no reports in this installation'} "
                 "(models/eval_*.json, models/parity_*.json of the repository); top-1 against FER2013's labels, "
                 "FER+ against the plurality of the FER+ annotators; net: the network's input size")
    return "\n".join(lines)
