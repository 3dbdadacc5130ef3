"""Temperature scaling: one scalar T so that softmax(logits / T) is calibrated.

T is fitted by minimising the negative log-likelihood on held-out data (Guo et al.,
2017). It never changes the argmax, so accuracy, agreement and MCC are unaffected.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..metrics import expected_calibration_error
from ..inference import softmax

# log T is searched in [ln 0.05, ln 20]: wider than any sane model needs.
_LOG_T_RANGE = (math.log(0.05), math.log(20.0))


def nll(logits: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    z = logits / temperature
    z = z - z.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-log_p[np.arange(len(labels)), labels].mean())


def fit_temperature(logits: np.ndarray, labels: np.ndarray, iterations: int = 60) -> float:
    """The NLL-minimising temperature, by golden-section search on log T (NLL is unimodal in T)."""
    logits = np.asarray(logits, np.float64)
    labels = np.asarray(labels, np.int64)
    lo, hi = _LOG_T_RANGE
    ratio = (math.sqrt(5.0) - 1.0) / 2.0
    a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
    fa, fb = nll(logits, labels, math.exp(a)), nll(logits, labels, math.exp(b))
    for _ in range(iterations):
        if fa < fb:
            hi, b, fb = b, a, fa
            a = hi - ratio * (hi - lo)
            fa = nll(logits, labels, math.exp(a))
        else:
            lo, a, fa = a, b, fb
            b = lo + ratio * (hi - lo)
            fb = nll(logits, labels, math.exp(b))
    return float(math.exp((lo + hi) / 2.0))


def temperature_report(logits: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    """Fitted temperature with NLL and 15-bin ECE before (T=1) and after."""
    temperature = fit_temperature(logits, labels)
    return {
        "temperature": temperature,
        "nll_before": nll(logits, labels, 1.0),
        "nll_after": nll(logits, labels, temperature),
        "ece_before": expected_calibration_error(labels, softmax(logits, 1.0)),
        "ece_after": expected_calibration_error(labels, softmax(logits, temperature)),
    }
