"""FER+ votes: ten annotators per FER2013 face (Barsoum et al., ICMI 2016), the second label set.

Votes are kept as raw counts in Microsoft's column order (:data:`COLUMNS`), one row per
face, a row of zeros meaning "no FER+ label" (FER+ removed the image). Everything else
is derived here, once, for training targets and for scoring:

- the **distribution** over our seven classes: the votes for the seven FER2013 emotions,
  normalised. ``contempt`` has no FER2013 class and ``unknown`` / ``NF`` (not a face) are
  no emotion, so their votes are dropped rather than folded into a class;
- a face is **usable** for training when at least half of its votes name one of the
  seven emotions; faces most annotators called unknown, not a face or contempt carry
  no target (they are counted and reported, never given a made-up one);
- the **plurality** label for scoring: the column with the most votes among all ten,
  when it is unique and is one of the seven emotions (ties and non-emotion pluralities
  are excluded from FER+ scores, and counted);
- the **vote share** of a prediction: the fraction of a face's annotators who chose it.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from .errors import DataError
from .labels import NUM_CLASSES

# What a data set's `labels` are: FER2013's own, or (a FER+ folder, which has none) the
# seven-emotion argmax of the votes.
FER2013_LABELS, FERPLUS_LABELS = "fer2013", "ferplus"
COLUMNS: tuple[str, ...] = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear",
                            "contempt", "unknown", "NF")
# For each of our LABELS, its column in COLUMNS.
_LABEL_COLUMN = np.array([COLUMNS.index(name) for name in
                          ("anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral")])
# For each column, its index in LABELS, or -1 (contempt, unknown, NF).
_COLUMN_LABEL = np.full(len(COLUMNS), -1)
_COLUMN_LABEL[_LABEL_COLUMN] = np.arange(NUM_CLASSES)
MAX_VOTES = 255  # per column: FER+ has ten annotators; anything larger is not a vote count


def parse_count(text: str, where: str, field: str) -> int:
    """One vote count: ASCII digits only, within 0..MAX_VOTES."""
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 3 or int(text) > MAX_VOTES:
        raise DataError(f"{where}: {field} {text[:20]!r} is not a vote count (a whole number 0-{MAX_VOTES})")
    return int(text)


def column_of(label: int) -> int:
    """The FER+ column of one of our class indices."""
    return int(_LABEL_COLUMN[label])


def has_votes(votes: np.ndarray) -> np.ndarray:
    return votes.sum(axis=1) > 0


def emotion_votes(votes: np.ndarray) -> np.ndarray:
    """(N, 10) counts -> (N, 7) counts for our classes, in LABELS order."""
    return votes[:, _LABEL_COLUMN].astype(np.float64)


def usable(votes: np.ndarray) -> np.ndarray:
    """Faces with a training target: at least half of their votes name one of the seven emotions."""
    total = votes.sum(axis=1)
    return (total > 0) & (2 * emotion_votes(votes).sum(axis=1) >= total)


def distribution(votes: np.ndarray) -> np.ndarray:
    """(N, 7) vote distributions over our classes; rows that are not :func:`usable` are NaN."""
    emo = emotion_votes(votes)
    out = np.full(emo.shape, np.nan)
    ok = usable(votes)
    out[ok] = emo[ok] / emo[ok].sum(axis=1, keepdims=True)
    return out


def plurality(votes: np.ndarray) -> np.ndarray:
    """Index in LABELS of each face's unique top column, or -1 (no votes, a tie, or no emotion on top)."""
    top = votes.argmax(axis=1)
    best = votes.max(axis=1)
    unique = (votes == best[:, None]).sum(axis=1) == 1
    label = _COLUMN_LABEL[top]
    return np.where((best > 0) & unique, label, -1)


def plurality_counts(votes: np.ndarray) -> dict[str, int]:
    """Why faces are in or out of FER+ plurality scores."""
    best = votes.max(axis=1)
    tie = (votes == best[:, None]).sum(axis=1) > 1
    voted = best > 0
    scored = plurality(votes) >= 0
    return {"scored": int(scored.sum()), "no_votes": int((~voted).sum()), "ties": int((voted & tie).sum()),
            "non_emotion": int((voted & ~tie & ~scored).sum())}


def vote_share(votes: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Fraction of each face's annotators who chose the predicted class (NaN without votes)."""
    total = votes.sum(axis=1).astype(np.float64)
    chosen = votes[np.arange(len(votes)), _LABEL_COLUMN[predicted]].astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, chosen / np.where(total > 0, total, 1), np.nan)


def scores(votes: np.ndarray, probs: np.ndarray) -> dict:
    """Top-1 against the FER+ plurality and the mean vote share of the prediction, with counts."""
    predicted = probs.argmax(axis=1)
    target = plurality(votes)
    scored = target >= 0
    share = vote_share(votes, predicted)
    voted = has_votes(votes)
    top3 = np.argsort(-probs, axis=1, kind="stable")[:, :3]
    return {
        "top1": float((predicted[scored] == target[scored]).mean()) if scored.any() else None,
        "top3": float((top3[scored] == target[scored, None]).any(axis=1).mean()) if scored.any() else None,
        "mean_vote_share": float(share[voted].mean()) if voted.any() else None,
        "counts": plurality_counts(votes),
    }


def read_votes_csv(path: str | Path, usages: list[str]) -> np.ndarray:
    """Microsoft's ``fer2013new.csv`` (or its shape), paired row by row with a FER2013 CSV.

    `usages` are the FER2013 file's Usage values, one per data row, in order. Returns
    (N, 10) uint8 counts; rows with an empty ``Image name`` (removed by FER+) are zeros.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file (--votes)")
    expected = ["usage", "image name", *(c.lower() for c in COLUMNS)]
    rows = []
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh)
            header = [h.strip().lower() for h in next(reader, [])]
            if header != expected:
                raise DataError(f"{path}: line 1: expected the FER+ header {','.join(['Usage', 'Image name', *COLUMNS])}")
            for row in reader:
                if not row or all(not c.strip() for c in row):
                    continue
                line = reader.line_num
                where = f"{path}: line {line}"
                if len(row) != len(expected):
                    raise DataError(f"{where}: expected {len(expected)} fields, found {len(row)}")
                n = len(rows)
                if n >= len(usages):
                    raise DataError(f"{where}: the votes file has more rows than the image file ({len(usages)})")
                if row[0].strip() != usages[n]:
                    raise DataError(f"{where}: Usage {row[0].strip()[:40]!r} does not match the image file's "
                                    f"{usages[n]!r} for the same row (data row {n + 1}); the files are not paired")
                counts = [parse_count(c, where, COLUMNS[i]) for i, c in enumerate(row[2:])]
                if not row[1].strip():
                    counts = [0] * len(COLUMNS)  # removed by FER+: no label, whatever the counts say
                elif sum(counts) == 0:
                    raise DataError(f"{where}: image {row[1].strip()[:60]!r} has no votes (they sum to 0)")
                rows.append(counts)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{path}: unreadable votes file ({exc})") from None
    if len(rows) != len(usages):
        raise DataError(f"{path}: {len(rows)} vote rows for {len(usages)} image rows; "
                        "a votes file pairs with its image file row by row")
    return np.array(rows, dtype=np.uint8).reshape(-1, len(COLUMNS))
