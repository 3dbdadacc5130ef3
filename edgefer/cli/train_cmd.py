from __future__ import annotations

from typing import Optional

import typer

from ..errors import ConfigError
from . import app

PRESET_NOTE = "[default: from the preset]"


@app.command()
def train(
    data: str = typer.Option("", "--data", help="FER2013 CSV (.csv/.csv.gz) or image-folder root (not with --resume)."),
    out: str = typer.Option("runs/train", "--out", help="Run directory to create."),
    preset: str = typer.Option("cpu", "--preset", help="Recipe: cpu, gpu or tiny."),
    resume: Optional[str] = typer.Option(None, "--resume", help="Continue the run in this directory."),
    family: Optional[str] = typer.Option(None, help=f"b0..b7, v2-b0..v2-b3, lite0..lite4 {PRESET_NOTE}"),
    weights: Optional[str] = typer.Option(None, help=f"none, imagenet, lite0-imagenet or a weights file {PRESET_NOTE}"),
    input_size: Optional[int] = typer.Option(None, help=f"Model input side, 48-300 px {PRESET_NOTE}"),
    epochs: Optional[int] = typer.Option(None, help=f"Total epochs, warm-up included {PRESET_NOTE}"),
    warmup_epochs: Optional[int] = typer.Option(None, help=f"Epochs with the backbone frozen {PRESET_NOTE}"),
    batch_size: Optional[int] = typer.Option(None, help=f"Global batch size {PRESET_NOTE}"),
    lr: Optional[float] = typer.Option(None, help=f"Peak learning rate of the fine-tune {PRESET_NOTE}"),
    schedule: Optional[str] = typer.Option(None, help=f"cosine or plateau {PRESET_NOTE}"),
    class_weights: Optional[str] = typer.Option(None, help=f"balanced, sqrt or none {PRESET_NOTE}"),
    dropout: Optional[float] = typer.Option(None, help=f"Dropout before the head {PRESET_NOTE}"),
    label_smoothing: Optional[float] = typer.Option(None, help=f"Label smoothing {PRESET_NOTE}"),
    patience: Optional[int] = typer.Option(None, help=f"Early-stopping patience in epochs, 0 = off {PRESET_NOTE}"),
    ema_decay: Optional[float] = typer.Option(None, help=f"Per-step weight EMA of the fine-tune, 0 = off {PRESET_NOTE}"),
    max_train_samples: Optional[int] = typer.Option(None, help="Train on a stratified subset of this size."),
    train_split: str = typer.Option("train", help="Training split (train/Training)."),
    val_split: str = typer.Option("val", help="Validation split (val/PublicTest); split off the training set if absent."),
    distribute: str = typer.Option("none", help="none, mirrored (local devices) or multi-worker (TF_CONFIG)."),
    mixed_precision: Optional[bool] = typer.Option(None, "--mixed-precision/--no-mixed-precision", help=PRESET_NOTE),
    seed: int = typer.Option(0, help="Random seed (data order, augmentation, initialisation)."),
    skip_bad: bool = typer.Option(False, "--skip-bad", help="Skip and count unreadable rows/images instead of failing."),
) -> None:
    """Train the float EfficientNet classifier; writes a resumable run directory."""
    from ..training import config as cfg
    from ..training import trainer

    if resume:
        if data:
            raise ConfigError("--resume continues with the run's own data; leave out --data")
        trainer.resume(resume, **({"epochs": epochs} if epochs else {}))
        return
    overrides = dict(
        family=family, weights=weights, input_size=input_size, epochs=epochs, warmup_epochs=warmup_epochs,
        batch_size=batch_size, lr=lr, schedule=schedule, class_weights=class_weights, dropout=dropout,
        label_smoothing=label_smoothing, early_stopping_patience=patience, max_train_samples=max_train_samples,
        ema_decay=ema_decay, mixed_precision=mixed_precision,
    )
    config = cfg.preset(
        preset, data=data, out=out, train_split=train_split, val_split=val_split, distribute=distribute,
        seed=seed, skip_bad=skip_bad, **{k: v for k, v in overrides.items() if v is not None},
    )
    if weights is None and family is not None and family != config.family:
        config.weights = "none"
    trainer.train(config)
