"""``edgefer train``: the run directory, the two-phase schedule, checkpoints that resume.

A run directory holds everything about a run:

- ``config.json``      the full TrainConfig (``--resume`` reads it back)
- ``model_info.json``  labels and preprocessing of the model
- ``checkpoints/``     the last epoch: weights, optimizer state, epoch counter
- ``best_weights.h5``  the weights of the best validation epoch so far
- ``history.csv``, ``curves.png``  per-epoch metrics
- ``model.keras``      the final model (best of best/last epoch, with running or re-estimated BatchNorm statistics)
- ``metrics.json``, ``confusion.png``, ``reliability.png``  its validation report
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..data import FaceDataset, balanced_class_weights, stratified_split, train_val
from ..errors import ConfigError
from ..evaluate import score, write_report_files
from ..fileio import atomic_path, write_json, write_text
from ..metadata import ModelInfo
from ..plots import training_curves
from ..predictors import MODEL_FILE, MODEL_INFO_FILE, KerasPredictor
from ..preprocessing import model_input, resize_faces
from .batchnorm import recalibrate_batchnorm
from .config import TrainConfig
from .keras_env import keras, tf
from .models import HEAD_LAYERS, build_model, preprocess_spec
from .pipeline import make_dataset

log = logging.getLogger(__name__)

CONFIG_FILE, HISTORY_FILE, BEST_WEIGHTS = "config.json", "history.csv", "best_weights.h5"
HISTORY_KEYS = ("epoch", "loss", "accuracy", "top3", "val_loss", "val_accuracy", "val_top3", "lr", "seconds")


@dataclass
class TrainResult:
    run_dir: Path
    metrics: dict[str, Any]
    history: list[dict[str, float]]


def make_strategy(mode: str):
    if mode == "mirrored":
        return tf.distribute.MirroredStrategy()
    if mode == "multi-worker":
        if "TF_CONFIG" not in os.environ:
            raise ConfigError("--distribute multi-worker needs TF_CONFIG describing the cluster")
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


def worker_role() -> tuple[bool, int]:
    """(is_chief, task index) from TF_CONFIG; a single process is the chief."""
    tf_config = json.loads(os.environ.get("TF_CONFIG", "{}"))
    task = tf_config.get("task", {})
    kind, index = task.get("type", "chief"), int(task.get("index", 0))
    has_chief = "chief" in tf_config.get("cluster", {})
    return (kind == "chief" or (kind == "worker" and index == 0 and not has_chief)), index


def class_weight_vector(labels: np.ndarray, mode: str) -> np.ndarray:
    weights = balanced_class_weights(labels)
    if mode == "sqrt":
        weights = np.sqrt(weights)
    elif mode == "none":
        weights = np.ones_like(weights)
    return weights / np.sum(weights * np.bincount(labels, minlength=len(weights))) * len(labels)


def _optimizer(config: TrainConfig, learning_rate, ema: bool = False):
    # Keras copies the averaged weights into the model when fit() ends.
    averaging = dict(use_ema=True, ema_momentum=config.ema_decay) if ema and config.ema_decay else {}
    if config.weight_decay > 0:
        opt = keras.optimizers.AdamW(learning_rate=learning_rate, weight_decay=config.weight_decay, **averaging)
        opt.exclude_from_weight_decay(var_names=["bn", "bias"])
        return opt
    return keras.optimizers.Adam(learning_rate=learning_rate, **averaging)


def _main_schedule(config: TrainConfig, steps_per_epoch: int):
    if config.schedule == "plateau":
        return config.lr
    total = max(1, (config.epochs - config.warmup_epochs) * steps_per_epoch)
    warmup = min(steps_per_epoch, total // 10)
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=config.lr * 0.1, decay_steps=total - warmup, alpha=0.01,
        warmup_target=config.lr, warmup_steps=warmup,
    )


def _current_lr(optimizer) -> float:
    lr = optimizer.learning_rate  # Keras 2 optimizers report the scheduled value here
    return float(lr.numpy()) if hasattr(lr, "numpy") else float(lr)


def _set_backbone_trainable(model, trainable: bool) -> None:
    for layer in model.layers:
        if layer.name not in HEAD_LAYERS:
            layer.trainable = trainable


def read_history(path: Path) -> list[dict[str, float]]:
    if not path.is_file():
        return []
    with open(path, newline="") as fh:
        return [{k: float(v) for k, v in row.items() if v != ""} for row in csv.DictReader(fh)]


def write_history(path: Path, history: list[dict[str, float]]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=HISTORY_KEYS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(history)
    write_text(path, buf.getvalue())


def _best_epoch(history: list[dict[str, float]]) -> int:
    best = max((h.get("val_accuracy", -1.0) for h in history), default=None)
    return max((int(h["epoch"]) for h in history if h.get("val_accuracy", -1.0) == best), default=0)


class RunRecorder(keras.callbacks.Callback):
    """Per epoch: best weights, history and curves, then the resumable checkpoint."""

    def __init__(self, io_dir: Path, manager, epoch_var, history, patience: int) -> None:
        super().__init__()
        self.io_dir, self.manager, self.epoch_var = io_dir, manager, epoch_var
        self.history_rows, self.patience = history, patience
        self.stopped_early = False
        self._start = 0.0

    @property
    def best(self) -> float:
        return max((h["val_accuracy"] for h in self.history_rows), default=-1.0)

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.time()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        row = {"epoch": epoch + 1, "lr": _current_lr(self.model.optimizer), "seconds": time.time() - self._start}
        row.update({k: float(v) for k, v in logs.items() if k in HISTORY_KEYS})
        # Ties go to the later epoch: after short runs lagging BatchNorm statistics can
        # pin validation accuracy at chance for several epochs.
        improved = row.get("val_accuracy", -1.0) >= self.best
        self.history_rows.append(row)
        if improved:
            with atomic_path(self.io_dir / BEST_WEIGHTS) as tmp:
                self.model.save_weights(str(tmp.with_suffix(".h5")))
                os.replace(tmp.with_suffix(".h5"), tmp)
        write_history(self.io_dir / HISTORY_FILE, self.history_rows)
        training_curves(self.history_rows, self.io_dir / "curves.png")
        self.epoch_var.assign(epoch + 1)
        self.manager.save(checkpoint_number=epoch + 1)
        best_epoch = _best_epoch(self.history_rows)
        log.info(
            "epoch %d: val top-1 %.4f top-3 %.4f (best %.4f at epoch %d)%s",
            epoch + 1, row.get("val_accuracy", float("nan")), row.get("val_top3", float("nan")),
            self.best, best_epoch, "  [saved best]" if improved else "",
        )
        if self.patience and epoch + 1 - best_epoch >= self.patience:
            log.info("early stopping: no val top-1 gain in %d epochs", self.patience)
            self.stopped_early = True
            self.model.stop_training = True


def _subsample(ds: FaceDataset, n: int, seed: int) -> FaceDataset:
    if not n or n >= len(ds):
        return ds
    return stratified_split(ds, n / len(ds), seed)[1]


def _prepare_run_dir(config: TrainConfig, resume: bool) -> Path:
    run_dir = Path(config.out)
    if resume:
        if not (run_dir / CONFIG_FILE).is_file():
            raise ConfigError(f"{run_dir}: not a run directory to resume (no {CONFIG_FILE})")
    elif (run_dir / CONFIG_FILE).exists():
        raise ConfigError(f"{run_dir}: already holds a run; use --resume {run_dir} or another --out")
    return run_dir


def resume(run_dir: str | Path, **overrides: Any) -> TrainResult:
    """Continue an interrupted run from its last checkpoint (`overrides` e.g. epochs=40)."""
    config = TrainConfig.load(Path(run_dir) / CONFIG_FILE)
    config.out = str(run_dir)
    changed = {k: v for k, v in overrides.items() if getattr(config, k) != v}
    for key, value in changed.items():
        log.info("resume: %s %s -> %s", key, getattr(config, key), value)
        setattr(config, key, value)
    if changed:
        config.validate()
        write_json(Path(run_dir) / CONFIG_FILE, config.to_dict())  # the run dir describes what ran
    return train(config, resume=True)


def train(config: TrainConfig, resume: bool = False) -> TrainResult:
    config.validate()
    strategy = make_strategy(config.distribute)  # first: multi-worker must precede other TF work
    run_dir = _prepare_run_dir(config, resume)
    is_chief, task_index = worker_role()
    # Non-chief workers take part in every collective save but keep their files apart.
    io_dir = run_dir if is_chief else run_dir / f"worker-{task_index}"
    io_dir.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(config.seed)
    if config.mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_float16")

    train_ds, val_ds = train_val(config.data, config.train_split, config.val_split,
                                 config.val_fraction, config.seed, config.skip_bad)
    train_ds = _subsample(train_ds, config.max_train_samples, config.seed)
    spec = preprocess_spec(config.family, config.input_size)
    info = ModelInfo(preprocess=spec, output="logits", edgefer_version=__version__,
                     source={"family": config.family, "weights": config.weights, "run": str(run_dir)})
    if not resume:
        write_json(io_dir / CONFIG_FILE, config.to_dict())
    write_json(io_dir / MODEL_INFO_FILE, info.to_dict())
    log.info("data: %d training faces, %d validation faces (%s); %s at %d px",
             len(train_ds), len(val_ds), val_ds.split, config.family, config.input_size)

    train_x = resize_faces(train_ds.images, spec.input_size)
    val_x = resize_faces(val_ds.images, spec.input_size)
    class_w = class_weight_vector(train_ds.labels, config.class_weights)
    train_data = make_dataset(train_x, train_ds.labels, spec, config.batch_size, training=True,
                              seed=config.seed, sample_weights=class_w[train_ds.labels], augment=config.augment)
    val_data = make_dataset(val_x, val_ds.labels, spec, config.batch_size, training=False)
    steps_per_epoch = max(1, len(train_x) // config.batch_size)

    with strategy.scope():
        model = build_model(config.family, config.input_size, config.weights, config.dropout,
                            config.drop_connect_rate)
        head_opt = _optimizer(config, config.warmup_lr)
        main_lr = _main_schedule(config, steps_per_epoch)
        main_opt = _optimizer(config, main_lr, ema=True)
        epoch_var = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        ckpt = tf.train.Checkpoint(model=model, head_optimizer=head_opt, optimizer=main_opt, epoch=epoch_var)
    manager = tf.train.CheckpointManager(ckpt, str(io_dir / "checkpoints"), max_to_keep=1)
    history: list[dict[str, float]] = []
    if resume:
        if manager.latest_checkpoint is None:
            log.warning("%s: no checkpoint yet; starting from epoch 0", run_dir)
        else:
            ckpt.restore(manager.latest_checkpoint)
            history = [h for h in read_history(io_dir / HISTORY_FILE) if h["epoch"] <= int(epoch_var.numpy())]
            log.info("resuming %s after epoch %d", run_dir, int(epoch_var.numpy()))
    start_epoch = int(epoch_var.numpy())

    recorder = RunRecorder(io_dir, manager, epoch_var, history, config.early_stopping_patience)
    callbacks: list = [recorder]
    if config.schedule == "plateau":
        callbacks.append(keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=2, verbose=1))
    started = time.time()
    phases = [(0, config.warmup_epochs, False, head_opt), (config.warmup_epochs, config.epochs, True, main_opt)]
    for begin, end, backbone_trainable, optimizer in phases:
        first = max(begin, start_epoch)
        if first >= end or recorder.stopped_early:
            continue
        with strategy.scope():
            _set_backbone_trainable(model, backbone_trainable)
            model.compile(
                optimizer=optimizer,
                loss=keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing),
                metrics=[keras.metrics.CategoricalAccuracy(name="accuracy"),
                         keras.metrics.TopKCategoricalAccuracy(3, name="top3")],
            )
        log.info("epochs %d-%d: %s", first + 1, end, "full fine-tune" if backbone_trainable else "head only, backbone frozen")
        model.fit(train_data, validation_data=val_data, epochs=end, initial_epoch=first,
                  callbacks=callbacks, verbose=config.verbose if sys.stdout.isatty() else 2)
    train_seconds = time.time() - started

    metrics = _finish(config, model, info, io_dir, train_x, val_ds)
    metrics["training"] = {
        "epochs_run": len(recorder.history_rows),
        "best_epoch": _best_epoch(recorder.history_rows),
        "stopped_early": recorder.stopped_early,
        "seconds_this_session": train_seconds,
        "train_faces": len(train_ds),
        "val_faces": len(val_ds),
        "class_weights": class_w.tolist(),
        "edgefer_version": __version__,
    }
    write_report_files(metrics, io_dir / "metrics.json", f"{config.family} on {val_ds.split}")
    return TrainResult(io_dir, metrics, recorder.history_rows)


def _recalibration_batches(config: TrainConfig, spec, train_x: np.ndarray):
    order = np.random.default_rng(config.seed).permutation(len(train_x))
    chunks = np.array_split(order, max(1, len(order) // config.batch_size))[: config.bn_recalibration_batches]
    for idx in chunks:
        yield model_input(train_x[idx], spec)  # already at model size: no resize


def _finish(config, model, info, io_dir, train_x, val_ds) -> dict[str, Any]:
    """Pick the final model: best or last epoch, running or re-estimated BatchNorm statistics.

    Running statistics lag the weights in short runs, which also fools the per-epoch
    validation that chose the "best" epoch; so both epochs are scored both ways.
    """
    final = build_model(config.family, config.input_size, "none", config.dropout, config.drop_connect_rate)
    predictor = KerasPredictor.from_model(final, info, str(io_dir / MODEL_FILE))
    last = "last (EMA)" if config.ema_decay and config.epochs > config.warmup_epochs else "last"
    candidates = {last: model.get_weights()}
    if (io_dir / BEST_WEIGHTS).is_file():
        final.load_weights(str(io_dir / BEST_WEIGHTS))
        candidates["best"] = final.get_weights()
    scored = []
    for epoch_name, weights in candidates.items():
        final.set_weights(weights)
        report, _ = score(predictor, val_ds)
        scored.append((report["top1"], f"{epoch_name} epoch, running statistics", weights, report))
        if config.bn_recalibration_batches:
            recalibrate_batchnorm(final, _recalibration_batches(config, info.preprocess, train_x))
            report, _ = score(predictor, val_ds)
            scored.append((report["top1"], f"{epoch_name} epoch, re-estimated statistics", final.get_weights(), report))
    for top1, name, _, _ in scored:
        log.info("final model candidate: %-40s val top-1 %.4f", name, top1)
    top1, choice, weights, report = max(scored, key=lambda c: c[0])
    final.set_weights(weights)
    with atomic_path(io_dir / MODEL_FILE) as tmp:
        keras_tmp = tmp.with_suffix(".keras")
        final.save(str(keras_tmp))
        os.replace(keras_tmp, tmp)
    report["final_model"] = {"choice": choice, "candidates": {name: t for t, name, _, _ in scored}}
    return report
