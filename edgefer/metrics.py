"""Classification metrics in plain NumPy, so TFLite models are scored without TensorFlow.

Rates are fractions in [0, 1]. Definitions follow scikit-learn (macro averages, the
multi-class MCC of Gorodkin, one-vs-rest ROC-AUC, log loss with clipped probabilities);
tests check them against scikit-learn.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .labels import LABELS, NUM_CLASSES

ECE_BINS = 15


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, k: int = NUM_CLASSES) -> np.ndarray:
    return np.bincount(y_true * k + y_pred, minlength=k * k).reshape(k, k)


def top_k_accuracy(y_true: np.ndarray, probs: np.ndarray, k: int) -> float:
    # Ties are broken towards the lower class index, as argsort does everywhere else here.
    top = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    return float((top == y_true[:, None]).any(axis=1).mean())


def mcc(cm: np.ndarray) -> float:
    t, p = cm.sum(axis=1).astype(np.float64), cm.sum(axis=0).astype(np.float64)
    c, s = float(np.trace(cm)), float(cm.sum())
    denom = np.sqrt((s * s - p @ p) * (s * s - t @ t))
    return float((c * s - t @ p) / denom) if denom > 0 else 0.0


def precision_recall_f1(cm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    tp = np.diag(cm).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(cm.sum(axis=0) > 0, tp / cm.sum(axis=0), 0.0)
        recall = np.where(cm.sum(axis=1) > 0, tp / cm.sum(axis=1), 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    return precision, recall, f1


def log_loss(y_true: np.ndarray, probs: np.ndarray, eps: float = 1e-7) -> float:
    p = np.clip(probs / probs.sum(axis=1, keepdims=True), eps, 1.0)
    return float(-np.log(p[np.arange(len(y_true)), y_true]).mean())


def _rank(x: np.ndarray) -> np.ndarray:
    """Average ranks (1-based) with ties sharing their mean rank."""
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x), np.float64)
    ranks[order] = np.arange(1, len(x) + 1)
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return (sums / counts)[inverse]


def roc_auc_ovr(y_true: np.ndarray, probs: np.ndarray) -> float:
    """Macro one-vs-rest ROC-AUC over the classes present (Mann-Whitney U)."""
    aucs = []
    for c in range(probs.shape[1]):
        pos = y_true == c
        n_pos, n_neg = int(pos.sum()), int((~pos).sum())
        if n_pos == 0 or n_neg == 0:
            continue
        r = _rank(probs[:, c])
        aucs.append((r[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
    return float(np.mean(aucs)) if aucs else float("nan")


def expected_calibration_error(y_true: np.ndarray, probs: np.ndarray, bins: int = ECE_BINS) -> float:
    conf, correct = probs.max(axis=1), (probs.argmax(axis=1) == y_true)
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        mask = index == b
        if mask.any():
            ece += mask.mean() * abs(correct[mask].mean() - conf[mask].mean())
    return float(ece)


def reliability(y_true: np.ndarray, probs: np.ndarray, bins: int = ECE_BINS) -> dict[str, list[float]]:
    conf, correct = probs.max(axis=1), (probs.argmax(axis=1) == y_true)
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, bins - 1)
    acc, mean_conf, count = [], [], []
    for b in range(bins):
        mask = index == b
        count.append(int(mask.sum()))
        acc.append(float(correct[mask].mean()) if mask.any() else float("nan"))
        mean_conf.append(float(conf[mask].mean()) if mask.any() else float("nan"))
    return {"bin_edges": edges.tolist(), "accuracy": acc, "confidence": mean_conf, "count": count}


def classification_report(y_true: np.ndarray, probs: np.ndarray) -> dict[str, Any]:
    """The evaluate report: the keys promised by ``edgefer evaluate --json``."""
    y_true = np.asarray(y_true, dtype=np.int64)
    probs = np.asarray(probs, dtype=np.float64)
    y_pred = probs.argmax(axis=1)
    cm = confusion_matrix(y_true, y_pred)
    precision, recall, f1 = precision_recall_f1(cm)
    present = cm.sum(axis=1) > 0
    return {
        "n": int(len(y_true)),
        "top1": float((y_pred == y_true).mean()),
        "top3": top_k_accuracy(y_true, probs, 3),
        "macro_f1": float(f1[present].mean()),
        "macro_precision": float(precision[present].mean()),
        "macro_recall": float(recall[present].mean()),
        "mcc": mcc(cm),
        "log_loss": log_loss(y_true, probs),
        "roc_auc": roc_auc_ovr(y_true, probs),
        "ece": expected_calibration_error(y_true, probs),
        "per_class_recall": {LABELS[i]: float(recall[i]) for i in range(NUM_CLASSES)},
        "per_class_precision": {LABELS[i]: float(precision[i]) for i in range(NUM_CLASSES)},
        "confusion_matrix": cm.tolist(),
    }
