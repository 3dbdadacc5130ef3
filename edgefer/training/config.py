"""Training options (one dataclass, the CLI fills it) and the named presets."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..configtypes import MAX_BATCH, MAX_SEED, check_ranges, load_structured, typed_values
from ..errors import ConfigError
from ..families import get_family
from .pretrained import parse_weights
from .targets import LABEL_SOURCES

CLASS_WEIGHT_MODES = ("balanced", "sqrt", "none")
SCHEDULES = ("cosine", "plateau")
DISTRIBUTE = ("none", "mirrored", "multi-worker", "ddp")
ENGINES = ("keras", "torch")
DEVICES = ("auto", "cpu", "cuda")
# Which engine runs each distribution mode.
_DISTRIBUTE_ENGINE = {"mirrored": "keras", "multi-worker": "keras", "ddp": "torch"}


MAX_EPOCHS = 10_000
# Declared ranges, checked before any work: NaN, infinities and absurd values are refused
# with the range in the message (an infinite lr or a NaN rotation would train to NaN weights).
AUGMENT_RANGES = {"rotation_deg": "[0, 180]", "zoom": "[0, 1)", "shift": "[0, 1)", "brightness": "[0, 1]",
                  "contrast": "[0, 1]", **{name: "[0, 1]" for name in ("erasing", "mixup", "blur", "noise", "jpeg",
                                                                       "downscale", "gamma")}}
TRAIN_RANGES = {
    "epochs": f"[1, {MAX_EPOCHS}]", "warmup_epochs": f"[0, {MAX_EPOCHS}]", "batch_size": f"[1, {MAX_BATCH}]",
    "lr": "(0, 10]", "warmup_lr": "(0, 10]", "weight_decay": "[0, 1]", "label_smoothing": "[0, 1)",
    "dropout": "[0, 1)", "drop_connect_rate": "[0, 1)", "votes_weight": "[0, 1]",
    "early_stopping_patience": f"[0, {MAX_EPOCHS}]", "seed": f"[0, {MAX_SEED}]", "val_fraction": "[0, 1)",
    "max_train_samples": "[0, inf)", "bn_recalibration_batches": "[0, 1000000]", "ema_decay": "[0, 1)",
    "distill_weight": "[0, 1]", "distill_temperature": "(0, 100]", "verbose": "[0, 2]",
}


@dataclass
class AugmentConfig:
    flip: bool = True
    rotation_deg: float = 10.0
    zoom: float = 0.1
    shift: float = 0.1
    brightness: float = 0.2
    contrast: float = 0.2
    # Applied by the torch engine (on the device, per sample): the degradations of real
    # cameras, each with this probability, and regularisers that mix or hide pixels.
    erasing: float = 0.0  # probability of one random erased rectangle
    mixup: float = 0.0  # probability that a batch is mixed (mixup or cutmix, half each)
    blur: float = 0.0
    noise: float = 0.0
    jpeg: float = 0.0
    downscale: float = 0.0
    gamma: float = 0.0

    def validate(self) -> None:
        check_ranges(self, AUGMENT_RANGES, "augment.")


@dataclass
class TrainConfig:
    data: str = ""
    out: str = "runs/train"
    engine: str = "keras"
    family: str = "lite0"
    weights: str = "lite0-imagenet"
    input_size: int = 96
    epochs: int = 24
    warmup_epochs: int = 1  # backbone frozen, head only
    batch_size: int = 64
    lr: float = 1e-3
    warmup_lr: float = 1e-3
    weight_decay: float = 1e-4
    schedule: str = "cosine"
    label_smoothing: float = 0.1
    dropout: float = 0.3
    drop_connect_rate: float = 0.2
    class_weights: str = "balanced"
    # What the run learns from (edgefer.training.targets): fer2013, ferplus-majority,
    # ferplus-votes or mix; FER+ votes come with the data (a FER+ folder, a voted face
    # pack) or, for a FER2013 CSV, from `votes` (Microsoft's fer2013new.csv).
    labels: str = "fer2013"
    votes: str = ""
    votes_weight: float = 0.5  # mix: the weight of the vote distribution against the one-hot label
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    early_stopping_patience: int = 6
    seed: int = 0
    train_split: str = "train"
    val_split: str = "val"
    val_fraction: float = 0.1
    max_train_samples: int = 0  # 0: all; a quick look at a recipe otherwise
    skip_bad: bool = False
    distribute: str = "none"
    mixed_precision: bool = False
    bn_recalibration_batches: int = 50
    # Validate each epoch with re-estimated BatchNorm statistics (as the final model may
    # be) instead of the lagging running ones; costs a forward pass over those batches.
    val_recalibrated_bn: bool = False
    # Exponential moving average of the fine-tune weights, per step (0 = off). Its
    # weights replace the last epoch's as a final-model candidate.
    ema_decay: float = 0.0
    # Distillation (torch engine): run directories whose flip-averaged probabilities,
    # averaged over teachers, are soft targets on the same augmented batch.
    teachers: tuple[str, ...] = ()
    distill_weight: float = 0.0  # weight of the teachers' soft targets vs the labels
    distill_temperature: float = 2.0
    device: str = "auto"  # torch engine: auto (CUDA when present), cpu or cuda
    compile: bool = False  # torch engine: torch.compile the training step
    verbose: int = 1

    def validate(self) -> None:
        family = get_family(self.family)
        family.check_input_size(self.input_size)
        check_ranges(self, TRAIN_RANGES)
        self.augment.validate()
        if not self.data:
            raise ConfigError("no training data given (--data PATH)")
        checks = [
            (self.schedule in SCHEDULES, f"schedule must be one of {SCHEDULES}"),
            (self.class_weights in CLASS_WEIGHT_MODES, f"class_weights must be one of {CLASS_WEIGHT_MODES}"),
            (self.labels in LABEL_SOURCES, f"labels must be one of {LABEL_SOURCES}"),
            (0 <= self.votes_weight <= 1, f"votes_weight must be in [0, 1], got {self.votes_weight}"),
            (self.distribute in DISTRIBUTE, f"distribute must be one of {DISTRIBUTE}"),
            (self.engine in ENGINES, f"engine must be one of {ENGINES}"),
            (self.device in DEVICES, f"device must be one of {DEVICES}"),
            (_DISTRIBUTE_ENGINE.get(self.distribute, self.engine) == self.engine,
             f"--distribute {self.distribute} needs --engine {_DISTRIBUTE_ENGINE.get(self.distribute)}"),
            (not self.teachers or self.engine == "torch", "distillation from --teacher needs --engine torch"),
            (0 <= self.distill_weight <= 1, "distill_weight must be in [0, 1]"),
            (not self.distill_weight or self.teachers, "distill_weight > 0 needs --teacher RUN_DIR"),
            (self.distill_temperature > 0, "distill_temperature must be positive"),
            (self.epochs >= 1, "epochs must be >= 1"),
            (0 <= self.warmup_epochs < self.epochs or self.epochs == self.warmup_epochs == 1,
             f"warmup_epochs ({self.warmup_epochs}) must be smaller than epochs ({self.epochs}): "
             "raise --epochs or lower --warmup-epochs"),
            (self.batch_size >= 1, "batch_size must be >= 1"),
            (self.lr > 0 and self.warmup_lr > 0, "learning rates must be positive"),
            (0 <= self.dropout < 1, "dropout must be in [0, 1)"),
            (0 <= self.label_smoothing < 1, "label_smoothing must be in [0, 1)"),
            (0 <= self.ema_decay < 1, "ema_decay must be in [0, 1)"),
        ]
        for ok, msg in checks:
            if not ok:
                raise ConfigError(msg)
        parse_weights(self.weights, family.name, self.engine)  # a family mismatch fails before any work

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        data = dict(data)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ConfigError(f"unknown training option(s): {', '.join(sorted(unknown))}")
        data = typed_values(cls, data)
        augment = data.get("augment", {})
        unknown = set(augment) - {f.name for f in dataclasses.fields(AugmentConfig)}
        if unknown:
            raise ConfigError(f"unknown augment option(s): {', '.join(sorted(unknown))}")
        data["augment"] = AugmentConfig(**typed_values(AugmentConfig, augment, "augment."))
        data["teachers"] = tuple(data.get("teachers", ()))
        return cls(**data)

    @classmethod
    def load(cls, path: str | Path) -> "TrainConfig":
        path = Path(path)
        try:
            return cls.from_dict(load_structured(path.read_text(), str(path)))
        except (OSError, ValueError, TypeError) as exc:
            raise ConfigError(f"{path}: unreadable training config ({exc})") from None


# The cpu preset is what fits about two hours on two cores: Lite0 with the offline
# ImageNet weights at 96 px (3.3 min/epoch measured). The gpu preset follows the
# write-up (224 px, pretrained, mixed precision, large batch).
PRESETS: dict[str, dict[str, Any]] = {
    "cpu": dict(family="lite0", weights="lite0-imagenet", input_size=96, epochs=24, warmup_epochs=1,
                batch_size=64, lr=5e-4, warmup_lr=1e-3, class_weights="sqrt", schedule="cosine"),
    "gpu": dict(family="lite0", weights="lite0-imagenet", input_size=224, epochs=40, warmup_epochs=2,
                batch_size=256, lr=2e-3, warmup_lr=2e-3, class_weights="sqrt", mixed_precision=True),
    # Seconds, not hours: for the demo and smoke tests.
    "tiny": dict(family="lite0", weights="none", input_size=48, epochs=2, warmup_epochs=0,
                 batch_size=32, lr=2e-3, max_train_samples=512, early_stopping_patience=0,
                 bn_recalibration_batches=16, val_recalibrated_bn=True),
}


def preset(name: str, **overrides: Any) -> TrainConfig:
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r} (choose from {', '.join(PRESETS)})")
    return TrainConfig(**{**PRESETS[name], **overrides})
