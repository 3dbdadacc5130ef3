from __future__ import annotations

from typing import Optional

import typer

from ..errors import ConfigError
from ..training.config import AugmentConfig, TrainConfig
from .app import app
from .options import default_of, given, key_values, read_config_file

PRESET_NOTE = "(default: from the preset or --config)"


@app.command()
def train(
    data: Optional[str] = typer.Option(None, "--data", help="FER2013 CSV (.csv/.csv.gz) or image-folder root (not with --resume)."),
    out: Optional[str] = typer.Option(None, "--out", help="Run directory to create.", show_default=default_of(TrainConfig, "out")),
    preset: str = typer.Option("cpu", "--preset", help="Recipe: cpu, gpu or tiny (ignored with --config)."),
    config_file: Optional[str] = typer.Option(None, "--config", help="Recipe file (JSON or YAML); a run's config.json is one."),
    resume: Optional[str] = typer.Option(None, "--resume", help="Continue the run in this directory."),
    engine: Optional[str] = typer.Option(None, help="keras or torch (the torch extra)", show_default=default_of(TrainConfig, "engine")),
    family: Optional[str] = typer.Option(None, help=f"b0..b7, v2-b0..v2-b3, lite0..lite4 {PRESET_NOTE}"),
    weights: Optional[str] = typer.Option(None, help=f"none, imagenet, lite0-imagenet, a weights file or a run directory {PRESET_NOTE}"),
    input_size: Optional[int] = typer.Option(None, help=f"Model input side in px {PRESET_NOTE}"),
    epochs: Optional[int] = typer.Option(None, help=f"Total epochs, warm-up included {PRESET_NOTE}"),
    warmup_epochs: Optional[int] = typer.Option(None, help=f"Epochs with the backbone frozen {PRESET_NOTE}"),
    batch_size: Optional[int] = typer.Option(None, help=f"Global batch size {PRESET_NOTE}"),
    lr: Optional[float] = typer.Option(None, help=f"Peak learning rate of the fine-tune {PRESET_NOTE}"),
    schedule: Optional[str] = typer.Option(None, help=f"cosine or plateau {PRESET_NOTE}"),
    class_weights: Optional[str] = typer.Option(None, help=f"balanced, sqrt or none {PRESET_NOTE}"),
    dropout: Optional[float] = typer.Option(None, help=f"Dropout before the head {PRESET_NOTE}"),
    label_smoothing: Optional[float] = typer.Option(None, help=f"Label smoothing {PRESET_NOTE}"),
    early_stopping_patience: Optional[int] = typer.Option(None, "--early-stopping-patience", "--patience",
                                                          help=f"Epochs without val top-1 gain before stopping, 0 = off {PRESET_NOTE}"),
    ema_decay: Optional[float] = typer.Option(None, help=f"Per-step weight EMA of the fine-tune, 0 = off {PRESET_NOTE}"),
    augment: Optional[str] = typer.Option(None, help="Augmentation overrides, e.g. 'rotation_deg=12,erasing=0.25,jpeg=0.3' (fields of AugmentConfig)."),
    teacher: Optional[str] = typer.Option(None, "--teacher", help="Comma list of torch run directories to distil from (torch engine)."),
    distill_weight: Optional[float] = typer.Option(None, help="Weight of the teachers' soft targets vs the labels", show_default=default_of(TrainConfig, "distill_weight")),
    distill_temperature: Optional[float] = typer.Option(None, help="Distillation temperature", show_default=default_of(TrainConfig, "distill_temperature")),
    device: Optional[str] = typer.Option(None, help="Torch engine: auto, cpu or cuda", show_default=default_of(TrainConfig, "device")),
    compile_step: Optional[bool] = typer.Option(None, "--compile/--no-compile", help="Torch engine: torch.compile the step", show_default=default_of(TrainConfig, "compile")),
    max_train_samples: Optional[int] = typer.Option(None, help="Train on a stratified subset of this size."),
    train_split: Optional[str] = typer.Option(None, help="Training split (train/Training).", show_default=default_of(TrainConfig, "train_split")),
    val_split: Optional[str] = typer.Option(None, help="Validation split (val/PublicTest); split off the training set if absent.", show_default=default_of(TrainConfig, "val_split")),
    distribute: Optional[str] = typer.Option(None, help="none; Keras: mirrored or multi-worker (TF_CONFIG); torch: ddp (under torchrun).", show_default=default_of(TrainConfig, "distribute")),
    mixed_precision: Optional[bool] = typer.Option(None, "--mixed-precision/--no-mixed-precision", help=PRESET_NOTE),
    seed: Optional[int] = typer.Option(None, help="Random seed (data order, augmentation, initialisation).", show_default=default_of(TrainConfig, "seed")),
    skip_bad: Optional[bool] = typer.Option(None, "--skip-bad", help="Skip and count unreadable rows/images instead of failing."),
) -> None:
    """Train the float EfficientNet classifier; writes a resumable run directory."""
    from .. import training

    if resume:
        if data:
            raise ConfigError("--resume continues with the run's own data; leave out --data")
        training.resume(resume, **given(epochs=epochs))
        return
    overrides = given(
        data=data, out=out, engine=engine, family=family, weights=weights, input_size=input_size, epochs=epochs,
        warmup_epochs=warmup_epochs, batch_size=batch_size, lr=lr, schedule=schedule, class_weights=class_weights,
        dropout=dropout, label_smoothing=label_smoothing, early_stopping_patience=early_stopping_patience,
        ema_decay=ema_decay, distill_weight=distill_weight, distill_temperature=distill_temperature, device=device,
        compile=compile_step, max_train_samples=max_train_samples, train_split=train_split, val_split=val_split,
        distribute=distribute, mixed_precision=mixed_precision, seed=seed, skip_bad=skip_bad,
        teachers=tuple(t.strip() for t in teacher.split(",") if t.strip()) if teacher else None,
    )
    base = TrainConfig.from_dict(read_config_file(config_file)) if config_file else training.preset(preset)
    config = TrainConfig.from_dict({**base.to_dict(), **overrides})
    if augment:
        config.augment = _augment(config.augment, augment)
    if weights is None and family is not None and family != base.family:
        config.weights = "none"  # the recipe's ImageNet weights belong to its own family
    training.train(config)


def _augment(current: AugmentConfig, text: str) -> AugmentConfig:
    known = set(AugmentConfig.__dataclass_fields__)
    updates = key_values(text, "--augment")
    unknown = set(updates) - known
    if unknown:
        raise ConfigError(f"--augment: unknown field(s) {', '.join(sorted(unknown))} (choose from {', '.join(sorted(known))})")
    return AugmentConfig(**{**current.__dict__, **{k: (bool(v) if k == "flip" else v) for k, v in updates.items()}})
