"""Training the float EfficientNet classifier (needs the ``train`` extra: TensorFlow + tf-keras)."""

from .config import AugmentConfig, TrainConfig, preset, PRESETS
from .models import FAMILIES, build_model
from .trainer import TrainResult, resume, train

__all__ = ["AugmentConfig", "FAMILIES", "PRESETS", "TrainConfig", "TrainResult", "build_model", "preset", "resume", "train"]
