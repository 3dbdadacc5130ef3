"""``edgefer parity``: prove that a candidate model (int8) behaves like its reference (float).

Both models see exactly the same faces through the shared preprocessing. Deltas are
candidate minus reference, as fractions (-0.01 is a one-point drop); thresholds are
given in percentage points for top-1/top-3, as they are on the command line.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .data import FaceDataset, load_split
from .configtypes import MAX_BATCH, MAX_SEED, check_range
from .errors import ConfigError
from .fileio import write_json, write_text
from .inference import Predictor
from .labels import LABELS
from .metrics import confusion_matrix, mcc, top_k_accuracy
from .outputs import Input, Output, plan_outputs, report_outputs
from .plots import confusion_matrices, reliability_diagram
from .predictors import load_predictor
from .provenance import stamp_model, stamp_run
from .runtime.model import resolve_model
from .runtime.zoo import DEFAULT_MODEL_NAME, is_shipped
from .training.rundir import run_input
from .scoring import score

log = logging.getLogger(__name__)


@dataclass
class ParityThresholds:
    max_top1_drop: float = 1.0  # percentage points
    max_top3_drop: float = 1.0  # percentage points
    max_mcc_drop: float = 0.02
    min_agreement: float = 0.95

    def validate(self) -> None:
        for name in ("max_top1_drop", "max_top3_drop", "max_mcc_drop"):
            if not 0 <= getattr(self, name) <= 2:  # MCC spans [-1, 1]; NaN refused
                raise ConfigError(f"{name} is a largest allowed drop: it must be at least 0, got {getattr(self, name)}")
        if not 0 <= self.min_agreement <= 1:
            raise ConfigError(f"min_agreement is a fraction: it must lie in 0..1, got {self.min_agreement}")


MAX_BOOTSTRAP = 100_000  # far past where the interval stops moving; each resample scores every face


@dataclass
class ParityConfig:
    reference: str = ""
    candidate: str = DEFAULT_MODEL_NAME
    data: str = ""
    split: str | None = None
    json: str | None = None
    thresholds: ParityThresholds = field(default_factory=ParityThresholds)
    bootstrap: int = 1000
    seed: int = 0
    batch_size: int = 256
    num_threads: int | None = None
    skip_bad: bool = False
    votes: str | None = None  # FER+ votes paired with a FER2013 CSV: both label sets are reported


def mcnemar_p(ref_correct: np.ndarray, cand_correct: np.ndarray) -> float:
    """Two-sided McNemar test on paired top-1 correctness (exact binomial below 50 discordant pairs)."""
    b = int(np.sum(ref_correct & ~cand_correct))
    c = int(np.sum(~ref_correct & cand_correct))
    n = b + c
    if n == 0:
        return 1.0
    if n < 50:
        tail = sum(math.comb(n, k) for k in range(0, min(b, c) + 1)) / 2.0**n
        return min(1.0, 2.0 * tail)
    chi2 = (abs(b - c) - 1) ** 2 / n
    return math.erfc(math.sqrt(chi2 / 2.0))


def _paired_metrics(y: np.ndarray, probs: np.ndarray) -> tuple[float, float, float]:
    pred = probs.argmax(axis=1)
    return float((pred == y).mean()), top_k_accuracy(y, probs, 3), mcc(confusion_matrix(y, pred))


def bootstrap_deltas(y: np.ndarray, ref: np.ndarray, cand: np.ndarray, n: int, seed: int) -> dict[str, list[float]]:
    """95% paired-bootstrap intervals of the top-1, top-3 and MCC deltas."""
    rng = np.random.default_rng(seed)
    samples = np.empty((n, 3))
    for i in range(n):
        idx = rng.integers(0, len(y), len(y))
        samples[i] = np.subtract(_paired_metrics(y[idx], cand[idx]), _paired_metrics(y[idx], ref[idx]))
    lo, hi = np.percentile(samples, [2.5, 97.5], axis=0)
    return {f"delta_{k}": [float(lo[j]), float(hi[j])] for j, k in enumerate(("top1", "top3", "mcc"))}


def compare(
    reference: Predictor,
    candidate: Predictor,
    dataset: FaceDataset,
    thresholds: ParityThresholds | None = None,
    bootstrap: int = 1000,
    seed: int = 0,
    batch_size: int = 256,
) -> dict[str, Any]:
    """The parity report of two models on one data set; ``passed`` says whether all checks hold."""
    thresholds = thresholds or ParityThresholds()
    ref_report, ref_probs = score(reference, dataset, batch_size)
    cand_report, cand_probs = score(candidate, dataset, batch_size)
    y = dataset.labels
    ref_pred, cand_pred = ref_probs.argmax(axis=1), cand_probs.argmax(axis=1)
    agree = ref_pred == cand_pred
    report: dict[str, Any] = {
        "reference": ref_report,
        "candidate": cand_report,
        "n": int(len(y)),
        "data": dataset.source,
        "split": dataset.split,
    }
    for key in ("top1", "top3", "mcc", "macro_f1", "log_loss", "ece"):
        report[f"delta_{key}"] = cand_report[key] - ref_report[key]
    if "ferplus" in ref_report and ref_report["ferplus"]["top1"] is not None:
        for key in ("top1", "mean_vote_share"):
            report[f"delta_ferplus_{key}"] = cand_report["ferplus"][key] - ref_report["ferplus"][key]
    report["agreement"] = float(agree.mean())
    report["ci95"] = bootstrap_deltas(y, ref_probs, cand_probs, bootstrap, seed) if bootstrap else {}
    report["mcnemar_p"] = mcnemar_p(ref_pred == y, cand_pred == y)
    report["per_class_recall_delta"] = {
        label: cand_report["per_class_recall"][label] - ref_report["per_class_recall"][label] for label in LABELS
    }
    report["disagreements"] = [
        {"id": str(dataset.ids[i]), "label": LABELS[y[i]], "reference": LABELS[ref_pred[i]],
         "candidate": LABELS[cand_pred[i]]}
        for i in np.flatnonzero(~agree)
    ]
    checks = [
        ("top1 drop (pp)", -100 * report["delta_top1"], thresholds.max_top1_drop, "<="),
        ("top3 drop (pp)", -100 * report["delta_top3"], thresholds.max_top3_drop, "<="),
        ("mcc drop", -report["delta_mcc"], thresholds.max_mcc_drop, "<="),
        ("agreement", report["agreement"], thresholds.min_agreement, ">="),
    ]
    report["checks"] = [
        {"check": name, "value": value, "limit": limit,
         "passed": bool(value <= limit + 1e-12 if op == "<=" else value >= limit - 1e-12), "op": op}
        for name, value, limit, op in checks
    ]
    report["thresholds"] = asdict(thresholds)
    report["passed"] = all(c["passed"] for c in report["checks"])
    return report


def summary_table(report: dict[str, Any]) -> str:
    lines = [f"{'check':<16} {'value':>9} {'limit':>9}  result"]
    for c in report["checks"]:
        lines.append(f"{c['check']:<16} {_r4(c['value']):>9.4f} {c['op']}{c['limit']:>8.4f}  "
                     f"{'PASS' if c['passed'] else 'FAIL'}")
    lines.append(f"parity: {'PASS' if report['passed'] else 'FAIL'}")
    return "\n".join(lines)


def markdown(report: dict[str, Any]) -> str:
    ref, cand = report["reference"], report["candidate"]
    rows = [
        f"# Parity: {Path(cand['model']).name} vs {Path(ref['model']).name}",
        "",
        f"{report['n']} faces from `{Path(report['data']).name}` [{report['split']}]; "
        f"deltas are candidate minus reference; 95% paired-bootstrap intervals.",
        "",
        "| metric | reference | candidate | delta | 95% CI |",
        "|---|---:|---:|---:|---|",
    ]
    for key in ("top1", "top3", "mcc", "macro_f1", "log_loss", "ece"):
        ci = report["ci95"].get(f"delta_{key}")
        ci_text = f"[{_r4(ci[0]):+.4f}, {_r4(ci[1]):+.4f}]" if ci else ""
        rows.append(f"| {key} | {ref[key]:.4f} | {cand[key]:.4f} | {_r4(report[f'delta_{key}']):+.4f} | {ci_text} |")
    if "delta_ferplus_top1" in report:
        for key, name in (("top1", "FER+ plurality top1"), ("mean_vote_share", "FER+ mean vote share")):
            rows.append(f"| {name} | {ref['ferplus'][key]:.4f} | {cand['ferplus'][key]:.4f} | "
                        f"{_r4(report[f'delta_ferplus_{key}']):+.4f} | |")
        rows += ["", f"FER+ plurality scores count {ref['ferplus']['counts']['scored']} faces "
                 f"({_excluded(ref['ferplus']['counts'])})."]
    rows += ["", f"Agreement {report['agreement']:.4f}; McNemar p = {report['mcnemar_p']:.3g}; "
             f"{len(report['disagreements'])} faces disagree.", "",
             "| check | value | limit | result |", "|---|---:|---:|---|"]
    for c in report["checks"]:
        rows.append(f"| {c['check']} | {_r4(c['value']):.4f} | {c['op']} {c['limit']} | "
                    f"{'PASS' if c['passed'] else 'FAIL'} |")
    rows += ["", "| class | recall delta |", "|---|---:|"]
    rows += [f"| {k} | {_r4(v):+.4f} |" for k, v in report["per_class_recall_delta"].items()]
    rows += ["", f"**{'PASS' if report['passed'] else 'FAIL'}**", ""]
    return "\n".join(rows)


def _r4(value: float) -> float:
    """Rounded as printed, without a sign on zero: a drop of -1e-9 reads 0.0000, not -0.0000."""
    return round(value, 4) + 0.0


def _excluded(counts: dict[str, int]) -> str:
    return (f"excluded: {counts['ties']} ties, {counts['non_emotion']} non-emotion pluralities, "
            f"{counts['no_votes']} without votes")


def write_parity_files(report: dict[str, Any], json_path: str | Path) -> None:
    json_path = Path(json_path)
    stem = json_path.with_suffix("")
    write_json(json_path, report)
    write_text(f"{stem}.md", markdown(report))
    titles = [f"reference: {Path(report['reference']['model']).name}",
              f"candidate: {Path(report['candidate']['model']).name}"]
    confusion_matrices([np.array(report["reference"]["confusion_matrix"]),
                        np.array(report["candidate"]["confusion_matrix"])], titles, f"{stem}.confusion.png")
    reliability_diagram([report["reference"]["reliability"], report["candidate"]["reliability"]], titles,
                        f"{stem}.reliability.png")


def parity(config: ParityConfig) -> dict[str, Any]:
    config.thresholds.validate()
    check_range("--bootstrap", config.bootstrap, 0, MAX_BOOTSTRAP)
    check_range("--batch-size", config.batch_size, 1, MAX_BATCH)
    check_range("--seed", config.seed, 0, MAX_SEED)
    companions = [Output("--json", f"{Path(config.json).with_suffix('')}.md")] if config.json else []
    plan_outputs([*report_outputs(config.json), *companions],
                 [Input("--data", config.data), Input("--votes", config.votes),
                  run_input("REFERENCE", config.reference),
                  run_input("CANDIDATE", None if is_shipped(config.candidate) else config.candidate)])
    reference = load_predictor(config.reference, config.num_threads)
    candidate = load_predictor(config.candidate, config.num_threads)
    if tuple(reference.info.labels) != tuple(candidate.info.labels):
        from .errors import ModelError

        raise ModelError(f"{candidate.name}: its labels differ from the reference's; they cannot be compared")
    dataset = load_split(config.data, config.split, config.skip_bad, config.votes)
    log.info("parity on %s [%s], %d faces", dataset.source, dataset.split, len(dataset))
    report = compare(reference, candidate, dataset, config.thresholds, config.bootstrap, config.seed,
                     config.batch_size)
    stamp_model(report["reference"], resolve_model(config.reference))
    stamp_model(report["candidate"], resolve_model(config.candidate))
    stamp_run(report, config.data)
    if config.json:
        write_parity_files(report, config.json)
    return report
