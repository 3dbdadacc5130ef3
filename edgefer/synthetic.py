"""Synthetic FER-style data for tests and the demo: small, deterministic and learnable.

Each class draws a bright horizontal band at its own height on a noisy background,
so a tiny model separates the classes within an epoch or two.
"""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import numpy as np
from PIL import Image

from .labels import LABELS


def faces(n_per_class: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for c in range(len(LABELS)):
        for _ in range(n_per_class):
            img = rng.integers(0, 90, (48, 48)).astype(np.int64)
            top = 3 + 6 * c + int(rng.integers(-1, 2))
            img[top : top + 5, 4:44] += 150
            images.append(np.clip(img, 0, 255).astype(np.uint8))
            labels.append(c)
    order = rng.permutation(len(labels))
    return np.stack(images)[order], np.array(labels)[order]


def write_csv(path: Path, splits: dict[str, tuple[np.ndarray, np.ndarray]], gz: bool = False) -> Path:
    opener = gzip.open if gz else open
    with opener(path, "wt", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["emotion", "pixels", "Usage"])
        for usage, (images, labels) in splits.items():
            for img, label in zip(images, labels):
                writer.writerow([int(label), " ".join(map(str, img.ravel())), usage])
    return path


def write_folder(root: Path, splits: dict[str, tuple[np.ndarray, np.ndarray]], names=LABELS) -> Path:
    for split, (images, labels) in splits.items():
        for i, (img, label) in enumerate(zip(images, labels)):
            folder = root / split / names[label]
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(img, mode="L").save(folder / f"{i:05d}.png")
    return root


def fer_csv(path: Path, n_train: int = 40, n_val: int = 12, seed: int = 0) -> Path:
    return write_csv(path, {"Training": faces(n_train, seed), "PublicTest": faces(n_val, seed + 1)})


def votes_for(labels: np.ndarray, seed: int = 0, shift: int = 0, removed_every: int = 0) -> np.ndarray:
    """(N, 10) FER+ vote counts (edgefer.ferplus.COLUMNS) whose plurality is class ``(label + shift) % 7``.

    Seven of ten votes go to that class and three to others, so targets built from the
    votes differ from the labels exactly where `shift` says; every `removed_every`-th
    row is all zeros (a face FER+ removed).
    """
    from .ferplus import COLUMNS, column_of

    rng = np.random.default_rng(seed)
    votes = np.zeros((len(labels), len(COLUMNS)), np.uint8)
    for i, label in enumerate(labels):
        votes[i, column_of((int(label) + shift) % len(LABELS))] = 7
        for other in rng.integers(0, len(COLUMNS), 3):
            votes[i, other] += 1
        if removed_every and i % removed_every == removed_every - 1:
            votes[i] = 0
    return votes


def write_votes_csv(path: Path, usages: list[str], votes: np.ndarray) -> Path:
    """Microsoft's fer2013new.csv layout; all-zero rows get an empty image name (removed by FER+)."""
    from .ferplus import COLUMNS

    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["Usage", "Image name", *COLUMNS])
        for i, (usage, row) in enumerate(zip(usages, votes)):
            writer.writerow([usage, f"fer{i:07d}.png" if row.sum() else "", *map(int, row)])
    return path


def write_ferplus_folder(root: Path, splits: dict[str, tuple[np.ndarray, np.ndarray]]) -> Path:
    """Microsoft's FER+ layout: ROOT/<split>/label.csv (image, face box, ten votes) beside the PNGs."""
    for split, (images, votes) in splits.items():
        folder = root / split
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / "label.csv", "w", newline="") as fh:
            writer = csv.writer(fh)
            for i, (img, row) in enumerate(zip(images, votes)):
                name = f"fer{i:07d}.png"
                Image.fromarray(img, mode="L").save(folder / name)
                writer.writerow([name, "(0, 0, 48, 48)", *map(int, row)])
    return root
