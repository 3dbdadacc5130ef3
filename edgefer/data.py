"""FER2013 data: the Kaggle CSV (``emotion,pixels,Usage``) and image-folder trees.

Every loader returns :class:`FaceDataset` objects holding canonical uint8 48x48 faces,
so the CSV and the folder form of the same faces give identical arrays.
"""

from __future__ import annotations

import csv
import gzip
import io
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import ferplus
from .ferplus import FER2013_LABELS, FERPLUS_LABELS
from .datapack import SUFFIX, read_pack, write_pack
from .errors import DataError
from .labels import LABELS, NUM_CLASSES, label_index
from .outputs import Input, Output, plan_outputs
from .preprocessing import FACE_SIZE, to_face, to_gray

log = logging.getLogger(__name__)

PIXELS = FACE_SIZE * FACE_SIZE
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
ALL = "all"
FERPLUS_LABEL_FILE = "label.csv"
# The split names that may be carved out of the data when it lacks them (train_val).
CARVED_TRAIN, CARVED_VAL = "train", "val"
# Kaggle's Usage values and the usual folder names are one vocabulary for --split.
_SPLIT_ALIASES = {
    "training": "train", "train": "train",
    "publictest": "val", "val": "val", "valid": "val", "validation": "val",
    "privatetest": "test", "test": "test",
    # Microsoft's FER+ folders
    "fer2013train": "train", "fer2013valid": "val", "fer2013test": "test",
}


@dataclass
class FaceDataset:
    images: np.ndarray  # (N, 48, 48) uint8
    labels: np.ndarray  # (N,) int64 indices into LABELS
    ids: np.ndarray  # (N,) str: CSV line number or image path, for reports
    source: str
    split: str
    # (N, 10) uint8 FER+ vote counts (edgefer.ferplus.COLUMNS), zeros where FER+ has no
    # label; None when the source has no votes.
    votes: np.ndarray | None = None
    # What `labels` are: FER2013's own labels, or (a FER+ folder, which has none) the
    # seven-emotion argmax of the votes.
    label_source: str = FER2013_LABELS

    def __post_init__(self) -> None:
        if len(self.images) != len(self.labels) or len(self.images) != len(self.ids):
            raise ValueError("images, labels and ids differ in length")
        if self.votes is not None and self.votes.shape != (len(self.labels), len(ferplus.COLUMNS)):
            raise ValueError(f"votes are {self.votes.shape}, expected ({len(self.labels)}, {len(ferplus.COLUMNS)})")

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: np.ndarray, split: str | None = None) -> "FaceDataset":
        return FaceDataset(
            self.images[index], self.labels[index], self.ids[index], self.source, split or self.split,
            None if self.votes is None else self.votes[index], self.label_source,
        )

    def class_counts(self) -> np.ndarray:
        return np.bincount(self.labels, minlength=NUM_CLASSES)

    def require_all_classes(self) -> None:
        if len(self) == 0:
            raise DataError(f"{self.source}: split {self.split!r} is empty")
        missing = [LABELS[i] for i, c in enumerate(self.class_counts()) if c == 0]
        if missing:
            raise DataError(
                f"{self.source}: split {self.split!r} has no faces of class(es) {', '.join(missing)}"
            )


def split_key(name: str) -> str:
    return _SPLIT_ALIASES.get(name.strip().lower().replace("_", "").replace("-", ""), name.lower())


def _open_text(path: Path) -> io.TextIOBase:
    # utf-8-sig: spreadsheet programs start a CSV with a byte-order mark, which is no part of the header.
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")


def _row_error(path: Path, line: int, msg: str, skip_bad: bool, bad: list[int]) -> None:
    if not skip_bad:
        raise DataError(f"{path}: line {line}: {msg}")
    bad.append(line)


def _parse_pixels(text: str) -> np.ndarray | str:
    """One row's pixel string -> uint8 array, or an error message."""
    tokens = text.split()
    if len(tokens) != PIXELS:
        return f"expected {PIXELS} pixel values, found {len(tokens)}"
    bad = next((t for t in tokens if not (t.isascii() and t.isdigit()) or len(t) > 3), None)
    if bad is not None:
        return f"pixel value {bad[:20]!r} is not an integer in 0..255"
    values = np.array(tokens, dtype=np.int64)
    if values.max() > 255:
        return "pixel values must lie in 0..255"
    return values.astype(np.uint8)


def load_csv(path: str | Path, skip_bad: bool = False, votes: str | Path | None = None) -> dict[str, FaceDataset]:
    """Kaggle FER2013 CSV (optionally .gz) -> {Usage: FaceDataset}. Rows without Usage go to 'all'.

    `votes`: a FER+ votes file paired with this one row by row (:func:`ferplus.read_votes_csv`).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    labels, usages, pixel_rows, lines, ordinals = [], [], [], [], []
    every_usage: list[str] = []  # one per data row, bad ones included: what a votes file pairs with
    bad: list[int] = []
    try:
        with _open_text(path) as fh:
            reader = csv.reader(fh)
            header = [h.strip().lower() for h in next(reader, [])]
            if "emotion" not in header or "pixels" not in header:
                raise DataError(f"{path}: line 1: header must name 'emotion' and 'pixels' columns")
            i_emo, i_pix = header.index("emotion"), header.index("pixels")
            i_use = header.index("usage") if "usage" in header else None
            for row in reader:
                line = reader.line_num
                if not row or all(not c.strip() for c in row):
                    continue
                usage = row[i_use].strip() if i_use is not None and i_use < len(row) else ALL
                every_usage.append(usage)
                if len(row) != len(header):
                    _row_error(path, line, f"expected {len(header)} fields, found {len(row)}", skip_bad, bad)
                    continue
                emotion = row[i_emo].strip()
                if not (emotion.isascii() and emotion.isdigit()) or len(emotion) > 1 or int(emotion) >= NUM_CLASSES:
                    _row_error(path, line, f"unknown emotion label {emotion[:20]!r} (expected 0-6)", skip_bad, bad)
                    continue
                labels.append(int(emotion))
                usages.append(usage)
                pixel_rows.append(row[i_pix])
                lines.append(line)
                ordinals.append(len(every_usage) - 1)
    except (OSError, EOFError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{path}: unreadable CSV ({exc})") from None

    vote_rows = None if votes is None else ferplus.read_votes_csv(votes, every_usage)[np.array(ordinals, dtype=np.int64)]
    images = _parse_all_pixels(path, pixel_rows, lines, skip_bad, bad)
    if bad:
        keep = np.isin(np.array(lines), np.array(bad), invert=True)
        log.warning("%s: skipped %d bad row(s) (first at line %d)", path, len(bad), bad[0])
    else:
        keep = np.ones(len(lines), dtype=bool)
    images = images[keep]
    labels_arr = np.array(labels, dtype=np.int64)[keep]
    usage_arr = np.array(usages, dtype=object)[keep]
    ids = np.array([str(n) for n in lines], dtype=object)[keep]
    vote_rows = None if vote_rows is None else vote_rows[keep]
    if len(labels_arr) == 0:
        raise DataError(f"{path}: no faces in the file")
    out = {}
    for usage in dict.fromkeys(usage_arr):  # first-seen order
        index = np.flatnonzero(usage_arr == usage)
        out[usage] = FaceDataset(images[index], labels_arr[index], ids[index], str(path), usage,
                                 None if vote_rows is None else vote_rows[index])
    return out


def _parse_all_pixels(
    path: Path, rows: list[str], lines: list[int], skip_bad: bool, bad: list[int]
) -> np.ndarray:
    # Fast path: one C-level parse of everything (32k faces in ~2 s). Only when the
    # count or the range is off do we walk the rows to name the bad one.
    n = len(rows)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            flat = np.fromstring(" ".join(rows), dtype=np.int64, sep=" ") if n else np.zeros(0, np.int64)
    except ValueError:  # a non-numeric token: NumPy stops there
        flat = np.zeros(0, np.int64)
    if flat.size == n * PIXELS and (n == 0 or (flat.min() >= 0 and flat.max() <= 255)):
        counts = np.array([r.strip().count(" ") + 1 for r in rows]) if n else np.zeros(0)
        if (counts == PIXELS).all():
            return flat.astype(np.uint8).reshape(n, FACE_SIZE, FACE_SIZE)
    images = np.zeros((n, FACE_SIZE, FACE_SIZE), dtype=np.uint8)
    for i, (text, line) in enumerate(zip(rows, lines)):
        parsed = _parse_pixels(text)
        if isinstance(parsed, str):
            _row_error(path, line, parsed, skip_bad, bad)
        else:
            images[i] = parsed.reshape(FACE_SIZE, FACE_SIZE)
    return images


def _class_dirs(folder: Path) -> list[tuple[int, Path]]:
    out = []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        index = label_index(sub.name)
        if index is None:
            raise DataError(f"{sub}: unknown class folder (expected one of {', '.join(LABELS)} or an alias)")
        out.append((index, sub))
    return out


def _load_class_tree(folder: Path, split: str, skip_bad: bool) -> FaceDataset:
    faces, labels, ids = [], [], []
    skipped = 0
    for index, class_dir in _class_dirs(folder):
        for file in sorted(class_dir.rglob("*")):
            if not file.is_file() or file.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            try:
                faces.append(to_face(file))
            except DataError:
                if not skip_bad:
                    raise
                skipped += 1
                continue
            labels.append(index)
            ids.append(str(file))
    if skipped:
        log.warning("%s: skipped %d unreadable image(s)", folder, skipped)
    images = np.stack(faces) if faces else np.zeros((0, FACE_SIZE, FACE_SIZE), np.uint8)
    return FaceDataset(images, np.array(labels, np.int64), np.array(ids, dtype=object), str(folder), split)


def _face_box(text: str, where: str) -> tuple[int, int, int, int]:
    parts = text.strip().strip("()").split(",")
    if len(parts) != 4 or not all(p.strip().isascii() and p.strip().isdigit() and len(p.strip()) < 6 for p in parts):
        raise DataError(f"{where}: face box {text[:40]!r} is not (x, y, width, height)")
    x, y, w, h = (int(p) for p in parts)
    if w == 0 or h == 0:
        raise DataError(f"{where}: face box {text[:40]!r} is empty")
    return x, y, w, h


def _load_ferplus_split(folder: Path, skip_bad: bool) -> FaceDataset:
    """One split of Microsoft's FER+ layout: ``label.csv`` (image, face box, ten votes) beside the PNGs.

    FER+ has no FER2013 labels: `labels` are the seven-emotion argmax of the votes, and
    faces none of whose votes name one of the seven carry no label (counted, left out).
    """
    label_file = folder / FERPLUS_LABEL_FILE
    faces, votes, ids = [], [], []
    skipped = no_emotion = 0
    try:
        with open(label_file, encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh)
            for row in reader:
                if not row or all(not c.strip() for c in row):
                    continue
                where = f"{label_file}: line {reader.line_num}"
                if len(row) != 2 + len(ferplus.COLUMNS):
                    raise DataError(f"{where}: expected {2 + len(ferplus.COLUMNS)} fields "
                                    f"(image, face box, ten votes), found {len(row)}")
                counts = [ferplus.parse_count(c, where, name) for c, name in zip(row[2:], ferplus.COLUMNS)]
                if sum(counts) == 0:
                    raise DataError(f"{where}: image {row[0].strip()[:60]!r} has no votes (they sum to 0)")
                image = folder / row[0].strip()
                if not row[0].strip() or Path(row[0].strip()).is_absolute() or ".." in Path(row[0].strip()).parts:
                    raise DataError(f"{where}: image name {row[0][:60]!r} must be a file name inside {folder}")
                if not image.is_file():
                    raise DataError(f"{where}: image {row[0].strip()!r} named in {label_file.name} is missing")
                x, y, w, h = _face_box(row[1], where)
                try:
                    face = to_face(to_gray(image)[y : y + h, x : x + w])
                except DataError:
                    if not skip_bad:
                        raise
                    skipped += 1
                    continue
                if not ferplus.emotion_votes(np.array([counts])).sum():
                    no_emotion += 1
                    continue
                faces.append(face)
                votes.append(counts)
                ids.append(str(image))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{label_file}: unreadable ({exc})") from None
    if skipped:
        log.warning("%s: skipped %d unreadable image(s)", folder, skipped)
    if no_emotion:
        log.warning("%s: %d face(s) whose votes name none of the seven emotions carry no label; left out",
                    folder, no_emotion)
    vote_arr = np.array(votes, dtype=np.uint8).reshape(-1, len(ferplus.COLUMNS))
    images = np.stack(faces) if faces else np.zeros((0, FACE_SIZE, FACE_SIZE), np.uint8)
    labels = ferplus.emotion_votes(vote_arr).argmax(axis=1).astype(np.int64)
    return FaceDataset(images, labels, np.array(ids, dtype=object), str(folder), folder.name, vote_arr,
                       FERPLUS_LABELS)


def load_folder(root: str | Path, skip_bad: bool = False) -> dict[str, FaceDataset]:
    """ROOT/<split>/<class>/*.png|jpg, ROOT/<class>/*.png|jpg (one split named 'all'), or
    Microsoft's FER+ layout ROOT/<split>/label.csv beside the images."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: no such directory")
    subdirs = sorted(p for p in root.iterdir() if p.is_dir())
    if not subdirs:
        raise DataError(f"{root}: no split or class folders inside")
    if any((p / FERPLUS_LABEL_FILE).is_file() for p in subdirs):
        return {p.name: _load_ferplus_split(p, skip_bad) for p in subdirs if (p / FERPLUS_LABEL_FILE).is_file()}
    if all(label_index(p.name) is not None for p in subdirs):
        splits = {ALL: _load_class_tree(root, ALL, skip_bad)}
    else:
        splits = {p.name: _load_class_tree(p, p.name, skip_bad) for p in subdirs}
    if all(len(ds) == 0 for ds in splits.values()):
        raise DataError(f"{root}: no images ({', '.join(IMAGE_SUFFIXES)}) found")
    return splits


def load_splits(path: str | Path, skip_bad: bool = False, votes: str | Path | None = None) -> dict[str, FaceDataset]:
    """Every split of a data set; `votes` pairs a FER+ votes file with a FER2013 CSV."""
    path = Path(path)
    if votes and not path.name.endswith((".csv", ".csv.gz")):
        raise DataError(f"{votes}: --votes pairs with a FER2013 CSV; {path} is not one (FER+ folders and "
                        "face packs made from voted data carry their votes)")
    if path.is_dir():
        return load_folder(path, skip_bad)
    if path.name.endswith((".csv", ".csv.gz")):
        return load_csv(path, skip_bad, votes or None)
    if not path.exists():
        raise DataError(f"{path}: no such file or directory")
    if path.suffix == SUFFIX:
        return {name: FaceDataset(split.images, split.labels, split.ids, str(path), name, split.votes,
                                  split.label_source)
                for name, split in read_pack(path).items()}
    raise DataError(f"{path}: expected a FER2013 .csv/.csv.gz file, a .facepack or an image-folder directory")


def _holds(splits: dict[str, FaceDataset], name: str) -> bool:
    return any(key == name or split_key(key) == split_key(name) for key in splits)


def pick_split(splits: dict[str, FaceDataset], name: str, source: str = "data") -> FaceDataset:
    """Select a split by its own name or an alias (train/Training, val/PublicTest, test/PrivateTest)."""
    for key, ds in splits.items():
        if key == name or split_key(key) == split_key(name):
            return ds
    raise DataError(f"{source}: no split {name!r} (available: {', '.join(splits)})")


def load_split(path: str | Path, split: str | None = None, skip_bad: bool = False,
               votes: str | Path | None = None) -> FaceDataset:
    """One split; with split=None the file must hold just one, or a 'test'/'val' split is used."""
    splits = load_splits(path, skip_bad, votes)
    if split is not None:
        ds = pick_split(splits, split, str(path))
    elif len(splits) == 1:
        ds = next(iter(splits.values()))
    else:
        for preferred in ("test", "val"):
            found = [d for k, d in splits.items() if split_key(k) == preferred]
            if found:
                ds = found[0]
                break
        else:
            raise DataError(f"{path}: several splits ({', '.join(splits)}); choose one with --split")
    if len(ds) == 0:
        raise DataError(f"{path}: split {ds.split!r} is empty")
    return ds


def stratified_split(ds: FaceDataset, fraction: float, seed: int) -> tuple[FaceDataset, FaceDataset]:
    """Seeded split keeping class proportions: (rest, held_out)."""
    if not 0.0 < fraction < 1.0:
        raise DataError(f"validation fraction must be between 0 and 1, got {fraction}")
    rng = np.random.default_rng(seed)
    held = []
    for c in range(NUM_CLASSES):
        index = np.flatnonzero(ds.labels == c)
        rng.shuffle(index)
        held.append(index[: int(round(len(index) * fraction))])
    held_index = np.sort(np.concatenate(held))
    rest_index = np.setdiff1d(np.arange(len(ds)), held_index)
    return ds.subset(rest_index), ds.subset(held_index, f"{ds.split}-heldout")


def train_val(
    path: str | Path,
    train_split: str = "train",
    val_split: str | None = "val",
    val_fraction: float = 0.1,
    seed: int = 0,
    skip_bad: bool = False,
    votes: str | Path | None = None,
) -> tuple[FaceDataset, FaceDataset]:
    """The training and validation sets.

    Splits are taken by name. Only the default names carve: ``train`` takes all of data
    without splits (no Usage column, class folders at the root), and ``val`` (or None,
    or the training split named again) holds out a stratified seeded `val_fraction` of
    the training set when the data has no such split. Any other name the data does not
    hold is an error naming the splits it holds.
    """
    splits = load_splits(path, skip_bad, votes)
    if train_split == CARVED_TRAIN and set(splits) == {ALL}:
        train = next(iter(splits.values()))
    else:
        train = pick_split(splits, train_split, str(path))
    if val_split is None or (val_split == CARVED_VAL and not _holds(splits, val_split)):
        val = None
    else:
        val = pick_split(splits, val_split, str(path))
    if val is None or val is train:
        train, val = stratified_split(train, val_fraction, seed)
    train.require_all_classes()
    val.require_all_classes()
    return train, val


def balanced_class_weights(labels: np.ndarray) -> np.ndarray:
    """n / (k * count_c), as sklearn's 'balanced' (classes with no faces get weight 0)."""
    counts = np.bincount(labels, minlength=NUM_CLASSES).astype(np.float64)
    weights = np.zeros(NUM_CLASSES)
    present = counts > 0
    weights[present] = len(labels) / (present.sum() * counts[present])
    return weights


@dataclass
class PackConfig:
    source: str = ""
    out: str = ""
    splits: tuple[str, ...] = ()  # every split when empty
    skip_bad: bool = False
    votes: str = ""  # a FER+ votes file paired with a FER2013 CSV source: the pack carries them


def pack(config: PackConfig) -> dict:
    """``edgefer data pack``: the chosen splits of a data set as one face pack."""
    if not config.out.endswith(SUFFIX):
        raise DataError(f"{config.out}: a face pack's name ends in {SUFFIX} (that is how --data recognises it)")
    plan_outputs([Output("--out", config.out)], [Input("SOURCE", config.source), Input("--votes", config.votes)])
    splits = load_splits(config.source, config.skip_bad, config.votes or None)
    if config.splits:
        chosen = [pick_split(splits, name, config.source) for name in config.splits]
        splits = {ds.split: ds for ds in chosen}
    size = write_pack(config.out, splits)
    return {"out": config.out, "bytes": size, "faces": {name: len(ds) for name, ds in splits.items()}}
