"""What a training run learns from: FER2013's labels, FER+ votes, or a mix; the one definition both engines use.

- ``fer2013``: one-hot FER2013 labels (the Kaggle ``emotion`` column);
- ``ferplus-majority``: one-hot FER+ plurality; faces without a clear emotion plurality
  (ties, unknown, not a face, contempt, removed by FER+) are left out;
- ``ferplus-votes``: the vote distribution over the seven classes (Barsoum et al.'s
  "probability" mode; see :mod:`edgefer.ferplus` for contempt, unknown and NF votes);
  faces without usable votes are left out;
- ``mix``: ``(1 - votes_weight) * one-hot + votes_weight * votes``; faces without usable
  votes keep their one-hot label alone.

Left-out faces are counted and logged, never given a made-up target. Label smoothing,
class weights, mixup/cutmix and distillation all act on these soft targets.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from .. import ferplus
from ..data import FaceDataset
from ..ferplus import FER2013_LABELS
from ..errors import ConfigError
from ..labels import NUM_CLASSES

log = logging.getLogger(__name__)

LABEL_SOURCES = ("fer2013", "ferplus-majority", "ferplus-votes", "mix")


@dataclass
class Targets:
    keep: np.ndarray  # (N,) bool: faces with a target
    soft: np.ndarray  # (kept, 7) float32 rows summing to 1
    counts: dict[str, int]

    @property
    def hard(self) -> np.ndarray:
        """The argmax of each target: for class weights and training accuracy."""
        return self.soft.argmax(axis=1).astype(np.int64)


def check_source(ds: FaceDataset, labels: str) -> None:
    if labels not in LABEL_SOURCES:
        raise ConfigError(f"labels must be one of {', '.join(LABEL_SOURCES)}, got {labels!r}")
    if labels != "fer2013" and ds.votes is None:
        raise ConfigError(f"--labels {labels} needs FER+ votes, and {ds.source} has none: pair a FER2013 CSV "
                          "with Microsoft's fer2013new.csv (--votes FILE) or use a FER+ folder")
    if labels in ("fer2013", "mix") and ds.label_source != FER2013_LABELS:
        raise ConfigError(f"--labels {labels} needs FER2013's own labels, and {ds.source} has only FER+ votes; "
                          "use --labels ferplus-votes or ferplus-majority")


def training_targets(ds: FaceDataset, labels: str, votes_weight: float = 0.5) -> Targets:
    """The soft target of every face that has one under `labels`."""
    check_source(ds, labels)
    onehot = np.eye(NUM_CLASSES, dtype=np.float64)[ds.labels]
    if labels == "fer2013":
        keep, soft = np.ones(len(ds), bool), onehot
    elif labels == "ferplus-majority":
        plural = ferplus.plurality(ds.votes)
        keep = plural >= 0
        soft = np.eye(NUM_CLASSES)[np.where(keep, plural, 0)]
    else:
        dist = ferplus.distribution(ds.votes)
        ok = ~np.isnan(dist).any(axis=1)
        if labels == "ferplus-votes":
            keep, soft = ok, np.nan_to_num(dist)
        else:
            keep = np.ones(len(ds), bool)
            soft = np.where(ok[:, None], (1 - votes_weight) * onehot + votes_weight * np.nan_to_num(dist), onehot)
    counts = {"faces": len(ds), "with_target": int(keep.sum()), "left_out": int((~keep).sum())}
    if labels == "mix":
        counts["one_hot_only"] = int((~ferplus.usable(ds.votes)).sum())
    if counts["left_out"]:
        log.info("%s targets: %d of %d %s faces have none (no clear FER+ emotion) and are left out",
                 labels, counts["left_out"], len(ds), ds.split)
    if not keep.any():
        raise ConfigError(f"--labels {labels}: no face of {ds.source} ({ds.split}) has a target")
    return Targets(keep, soft[keep].astype(np.float32), counts)


def learns_ferplus(labels: str) -> bool:
    """Whether a run's targets come from FER+ alone, so FER+ plurality top-1 picks its epochs and models."""
    return labels.startswith("ferplus")


def selection_labels(ds: FaceDataset, labels: str) -> np.ndarray:
    """The hard label each validation face is scored against when choosing epochs and
    final models (-1: not scored): FER+ plurality for the FER+ sources, else the dataset's labels."""
    if learns_ferplus(labels) and ds.votes is not None:
        return ferplus.plurality(ds.votes)
    return ds.labels
