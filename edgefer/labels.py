"""The seven FER2013 emotion classes, in the Kaggle code order."""

from __future__ import annotations

LABELS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
NUM_CLASSES = len(LABELS)

# Folder datasets in the wild spell the classes in several ways (FER+, AffectNet
# exports, Kaggle's own image dump); all of them map onto the canonical names.
_ALIASES = {
    "angry": "angry", "anger": "angry",
    "disgust": "disgust", "disgusted": "disgust", "contempt": None,
    "fear": "fear", "fearful": "fear", "scared": "fear",
    "happy": "happy", "happiness": "happy", "joy": "happy",
    "sad": "sad", "sadness": "sad",
    "surprise": "surprise", "surprised": "surprise",
    "neutral": "neutral",
}


def canonical_label(name: str) -> str | None:
    """Canonical label for a class name or alias, or None if it is not one of the seven."""
    return _ALIASES.get(name.strip().lower())


def label_index(name: str) -> int | None:
    label = canonical_label(name)
    return None if label is None else LABELS.index(label)
