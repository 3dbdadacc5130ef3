"""Pictures people would rather look at than JSON: confusion matrices, curves, reliability."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from .fileio import atomic_path
from .labels import LABELS


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        return None  # plots are a nicety of the training extra; JSON reports always exist
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")


def _draw_confusion(ax, cm: np.ndarray, title: str) -> None:
    norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(LABELS)), LABELS, rotation=45, ha="right")
    ax.set_yticks(range(len(LABELS)), LABELS)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(j, i, f"{norm[i, j]:.2f}\n{cm[i, j]}", ha="center", va="center", fontsize=7,
                    color="white" if norm[i, j] > 0.5 else "black")


def confusion_matrices(cms: Sequence[np.ndarray], titles: Sequence[str], path: str | Path) -> bool:
    plt = _pyplot()
    if plt is None:
        return False
    fig, axes = plt.subplots(1, len(cms), figsize=(6 * len(cms), 5.5), squeeze=False)
    for ax, cm, title in zip(axes[0], cms, titles):
        _draw_confusion(ax, np.asarray(cm), title)
    _save(fig, path)
    plt.close(fig)
    return True


def training_curves(history: list[dict], path: str | Path) -> bool:
    plt = _pyplot()
    if plt is None or not history:
        return False
    epochs = [h["epoch"] for h in history]
    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(15, 4))
    for key, label in (("loss", "train"), ("val_loss", "val")):
        ax1.plot(epochs, [h.get(key, np.nan) for h in history], marker="o", label=label)
    for key, label in (("accuracy", "train top-1"), ("val_accuracy", "val top-1"), ("val_top3", "val top-3")):
        ax2.plot(epochs, [h.get(key, np.nan) for h in history], marker="o", label=label)
    ax3.plot(epochs, [h.get("lr", np.nan) for h in history], marker="o")
    ax1.set_title("loss"), ax2.set_title("accuracy"), ax3.set_title("learning rate")
    for ax in (ax1, ax2, ax3):
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    ax1.legend(), ax2.legend()
    _save(fig, path)
    plt.close(fig)
    return True


def reliability_diagram(curves: Sequence[dict], titles: Sequence[str], path: str | Path) -> bool:
    plt = _pyplot()
    if plt is None:
        return False
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.plot([0, 1], [0, 1], "k--", lw=1, label="perfect")
    for curve, title in zip(curves, titles):
        ax.plot(curve["confidence"], curve["accuracy"], marker="o", label=title)
    ax.set_xlabel("confidence (top-1 probability)")
    ax.set_ylabel("accuracy")
    ax.set_xlim(0, 1), ax.set_ylim(0, 1)
    ax.legend()
    ax.set_title("reliability")
    _save(fig, path)
    plt.close(fig)
    return True
