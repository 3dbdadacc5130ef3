from __future__ import annotations

from typing import Optional

import typer

from ..errors import ConfigError
from ..families import list_families, names_text
from ..training.config import AugmentConfig, TrainConfig
from ..training.config import preset as preset_config
from ..training.pretrained import weights_help
from ..training.targets import LABEL_SOURCES
from .app import app
from .options import DATA_HELP, given, key_values, read_config_file, shown

_PRESET = "cpu"


def _d(name: str) -> str:
    """The value an option left out takes with the default preset (--preset and --config change it)."""
    return shown(getattr(preset_config(_PRESET), name))


@app.command()
def train(
    data: Optional[str] = typer.Option(None, "--data", help=DATA_HELP[:-1] + " (not with --resume)."),
    out: Optional[str] = typer.Option(None, "--out", help="Run directory to create.", show_default=_d("out")),
    preset: str = typer.Option(_PRESET, "--preset", help="Recipe: cpu, gpu or tiny; sets the defaults below (ignored with --config)."),
    config_file: Optional[str] = typer.Option(None, "--config", help="Recipe file (JSON or YAML) instead of a preset; a run's config.json is one."),
    resume: Optional[str] = typer.Option(None, "--resume", help="Continue the interrupted run in this directory."),
    engine: Optional[str] = typer.Option(None, help="keras (the train extra) or torch (the torch extra).", show_default=_d("engine")),
    family: Optional[str] = typer.Option(None, help=f"{names_text(list_families())}.", show_default=_d("family")),
    weights: Optional[str] = typer.Option(None, help=weights_help(), show_default=_d("weights")),
    input_size: Optional[int] = typer.Option(None, help="Model input side in px.", show_default=_d("input_size")),
    epochs: Optional[int] = typer.Option(None, help="Total epochs, head-only warm-up included.", show_default=_d("epochs")),
    warmup_epochs: Optional[int] = typer.Option(None, help="Head-only epochs first (backbone frozen); fewer than --epochs leaves time to fine-tune.", show_default=_d("warmup_epochs")),
    batch_size: Optional[int] = typer.Option(None, help="Global batch size.", show_default=_d("batch_size")),
    lr: Optional[float] = typer.Option(None, help="Peak learning rate of the fine-tune (the head-only epochs use the recipe's warmup_lr).", show_default=_d("lr")),
    schedule: Optional[str] = typer.Option(None, help="cosine or plateau.", show_default=_d("schedule")),
    class_weights: Optional[str] = typer.Option(None, help="balanced, sqrt or none.", show_default=_d("class_weights")),
    labels: Optional[str] = typer.Option(None, "--labels", help=f"What to learn from: {', '.join(LABEL_SOURCES)} (FER2013 labels, FER+ plurality, FER+ vote distribution, or a weighted mix).", show_default=_d("labels")),
    votes: Optional[str] = typer.Option(None, "--votes", help="FER+ votes (Microsoft's fer2013new.csv) paired row by row with a FER2013 CSV --data.", show_default=_d("votes")),
    votes_weight: Optional[float] = typer.Option(None, "--votes-weight", help="--labels mix: weight of the vote distribution against the one-hot label.", show_default=_d("votes_weight")),
    dropout: Optional[float] = typer.Option(None, help="Dropout before the head.", show_default=_d("dropout")),
    label_smoothing: Optional[float] = typer.Option(None, help="Label smoothing.", show_default=_d("label_smoothing")),
    early_stopping_patience: Optional[int] = typer.Option(None, "--early-stopping-patience", "--patience",
                                                          help="Epochs without val top-1 gain before stopping, 0 = off.", show_default=_d("early_stopping_patience")),
    ema_decay: Optional[float] = typer.Option(None, help="Per-step weight EMA of the fine-tune, 0 = off.", show_default=_d("ema_decay")),
    augment: Optional[str] = typer.Option(None, help="Augmentation overrides, e.g. rotation_deg=12,erasing=0.25,jpeg=0.3 (fields of AugmentConfig)."),
    teacher: Optional[str] = typer.Option(None, "--teacher", help="Comma list of torch run directories to distil from (torch engine).", show_default=_d("teachers")),
    distill_weight: Optional[float] = typer.Option(None, help="Weight of the teachers' soft targets vs the labels.", show_default=_d("distill_weight")),
    distill_temperature: Optional[float] = typer.Option(None, help="Distillation temperature.", show_default=_d("distill_temperature")),
    device: Optional[str] = typer.Option(None, help="Torch engine: auto, cpu or cuda.", show_default=_d("device")),
    compile_step: Optional[bool] = typer.Option(None, "--compile/--no-compile", help="Torch engine: torch.compile the training step.", show_default=_d("compile")),
    max_train_samples: Optional[int] = typer.Option(None, help="Train on a stratified subset of this size, 0 = all.", show_default=_d("max_train_samples")),
    train_split: Optional[str] = typer.Option(None, help="Training split (train/Training).", show_default=_d("train_split")),
    val_split: Optional[str] = typer.Option(None, help="Validation split (val/PublicTest); split off the training set if absent.", show_default=_d("val_split")),
    distribute: Optional[str] = typer.Option(None, help="none; Keras: mirrored or multi-worker (TF_CONFIG); torch: ddp (under torchrun).", show_default=_d("distribute")),
    mixed_precision: Optional[bool] = typer.Option(None, "--mixed-precision/--no-mixed-precision", help="16-bit compute on GPUs (Keras mixed_float16, torch bf16 autocast).", show_default=_d("mixed_precision")),
    seed: Optional[int] = typer.Option(None, help="Random seed (data order, augmentation, initialisation).", show_default=_d("seed")),
    skip_bad: Optional[bool] = typer.Option(None, "--skip-bad", help="Skip and count unreadable rows/images instead of failing."),
) -> None:
    """Train the float EfficientNet classifier; writes a resumable run directory.

    Defaults shown are the cpu preset's; --preset or --config change them.
    """
    from .. import training

    if resume:
        if data:
            raise ConfigError("--resume continues with the run's own data; leave out --data")
        training.resume(resume, **given(epochs=epochs))
        return
    overrides = given(
        data=data, out=out, engine=engine, family=family, weights=weights, input_size=input_size, epochs=epochs,
        warmup_epochs=warmup_epochs, batch_size=batch_size, lr=lr, schedule=schedule, class_weights=class_weights,
        dropout=dropout, label_smoothing=label_smoothing, labels=labels, votes=votes, votes_weight=votes_weight, early_stopping_patience=early_stopping_patience,
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
