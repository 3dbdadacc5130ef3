"""The Keras engine of ``edgefer train``: the two-phase schedule, checkpoints that resume.

The run directory it writes is described in :mod:`edgefer.training.rundir`.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, ModelError
from ..fileio import atomic_path
from ..plots import training_curves
from ..preprocessing import model_input, resize_faces
from ..scoring import score
from . import rundir
from .batchnorm import recalibrate_batchnorm
from .config import TrainConfig
from .keras_env import keras, tf
from .keras_models import HEAD_LAYERS, build_model, load_keras_model
from .keras_predictor import KerasPredictor
from .pipeline import make_dataset
from .recipe import (
    TrainResult,
    class_weight_vector,
    labelled,
    load_data,
    model_info,
    scheduled_lr,
    selection_score,
    summary_lines,
    warn_if_too_short,
    write_metrics,
)
from .targets import selection_labels

log = logging.getLogger(__name__)

BEST_WEIGHTS_FILE = rundir.BEST_WEIGHTS["keras"]

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


class RunRecorder(keras.callbacks.Callback):
    """Per epoch: best weights, history and curves, then the resumable checkpoint."""

    def __init__(self, io_dir: Path, session: "_Session", config: TrainConfig, steps_per_epoch: int,
                 recalibration_batches) -> None:
        super().__init__()
        self.io_dir, self.manager, self.epoch_var = io_dir, session.manager, session.epoch_var
        self.history_rows, self.patience = session.history, config.early_stopping_patience
        self.config, self.steps_per_epoch = config, steps_per_epoch
        self.recalibration_batches = recalibration_batches
        self.stopped_early = False
        self._start = 0.0

    def on_test_begin(self, logs=None):
        # fit() validates after each epoch: score what the final model would be, not lagging statistics.
        if self.config.val_recalibrated_bn and self.config.bn_recalibration_batches:
            recalibrate_batchnorm(self.model, self.recalibration_batches())

    def _last_lr(self, head_only: bool) -> float:
        """The learning rate of the epoch's last step, from the schedule both engines share."""
        if self.config.schedule == "plateau" and not head_only:
            return _current_lr(self.model.optimizer)  # ReduceLROnPlateau's, which changes after this callback
        offset = 0 if head_only else self.config.warmup_epochs * self.steps_per_epoch
        done = int(self.model.optimizer.iterations.numpy())
        return scheduled_lr(self.config, offset + done - 1, self.steps_per_epoch)

    @property
    def best(self) -> float:
        return max((h["val_accuracy"] for h in self.history_rows), default=-1.0)

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.time()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        head_only = epoch < self.config.warmup_epochs
        row = {"epoch": epoch + 1, "head_only": float(head_only), "lr": self._last_lr(head_only),
               "seconds": time.time() - self._start}
        row.update({k: float(v) for k, v in logs.items() if k in rundir.HISTORY_KEYS})
        # Ties go to the later epoch: after short runs lagging BatchNorm statistics can
        # pin validation accuracy at chance for several epochs.
        improved = row.get("val_accuracy", -1.0) >= self.best
        self.history_rows.append(row)
        if improved:
            with atomic_path(self.io_dir / BEST_WEIGHTS_FILE, suffix=".h5") as tmp:
                self.model.save_weights(str(tmp))
        rundir.write_history(self.io_dir / rundir.HISTORY_FILE, self.history_rows)
        training_curves(self.history_rows, self.io_dir / rundir.CURVES_FILE)
        self.epoch_var.assign(epoch + 1)
        self.manager.save(checkpoint_number=epoch + 1)
        best_epoch = rundir.best_epoch(self.history_rows)
        log.info(
            "epoch %d/%d (%s, lr %.2g): loss %.4f, val top-1 %.4f top-3 %.4f (best %.4f at epoch %d)%s",
            epoch + 1, self.config.epochs, "head only" if head_only else "fine-tune", row["lr"],
            row.get("loss", float("nan")), row.get("val_accuracy", float("nan")), row.get("val_top3", float("nan")),
            self.best, best_epoch, "  [saved best]" if improved else "",
        )
        if self.patience and epoch + 1 - best_epoch >= self.patience:
            log.info("early stopping: no val top-1 gain in %d epochs", self.patience)
            self.stopped_early = True
            self.model.stop_training = True


@dataclass
class _Session:
    """The model, optimizers and checkpoint of one Keras training session."""

    model: Any
    head_opt: Any
    main_opt: Any
    epoch_var: Any
    manager: Any
    history: list[dict[str, float]]


def _build_session(config: TrainConfig, strategy, io_dir: Path, steps_per_epoch: int, resume: bool) -> _Session:
    with strategy.scope():
        model = build_model(config.family, config.input_size, config.weights, config.dropout,
                            config.drop_connect_rate)
        head_opt = _optimizer(config, config.warmup_lr)
        main_opt = _optimizer(config, _main_schedule(config, steps_per_epoch), ema=True)
        epoch_var = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        ckpt = tf.train.Checkpoint(model=model, head_optimizer=head_opt, optimizer=main_opt, epoch=epoch_var)
    if resume:
        rundir.remove_partial_checkpoints(io_dir / rundir.CHECKPOINT_DIR)
    manager = tf.train.CheckpointManager(ckpt, str(io_dir / rundir.CHECKPOINT_DIR), max_to_keep=1)
    history: list[dict[str, float]] = []
    if resume:
        if manager.latest_checkpoint is None:
            log.warning("%s: no checkpoint yet; starting from epoch 0", io_dir)
        else:
            _restore(ckpt, manager.latest_checkpoint)
            done = int(epoch_var.numpy())
            history = [h for h in rundir.read_history(io_dir / rundir.HISTORY_FILE) if h["epoch"] <= done]
            log.info("resuming %s after epoch %d", io_dir, done)
    return _Session(model, head_opt, main_opt, epoch_var, manager, history)


def _restore(ckpt, path: str) -> None:
    try:
        ckpt.restore(path)
    # TensorFlow reports a truncated or overwritten checkpoint by any of these.
    except (tf.errors.OpError, ValueError, IndexError, OSError, AssertionError) as exc:
        first_line = (str(exc).splitlines() or [exc.__class__.__name__])[0]
        raise ModelError(f"{path}: damaged checkpoint ({first_line}); resume from a copy or start a new run") from None


def _fit_phases(config: TrainConfig, strategy, session: _Session, recorder: "RunRecorder", train_data, val_data) -> None:
    """The frozen-backbone warm-up, then the full fine-tune, from wherever the run stopped."""
    callbacks: list = [recorder]
    if config.schedule == "plateau":
        callbacks.append(keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=2, verbose=1))
    start_epoch = int(session.epoch_var.numpy())
    phases = [(0, config.warmup_epochs, False, session.head_opt),
              (config.warmup_epochs, config.epochs, True, session.main_opt)]
    for begin, end, backbone_trainable, optimizer in phases:
        first = max(begin, start_epoch)
        if first >= end or recorder.stopped_early:
            continue
        with strategy.scope():
            _set_backbone_trainable(session.model, backbone_trainable)
            session.model.compile(
                optimizer=optimizer,
                loss=keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing),
                metrics=[keras.metrics.CategoricalAccuracy(name="accuracy"),
                         keras.metrics.TopKCategoricalAccuracy(3, name="top3")],
            )
        log.info("epochs %d-%d: %s", first + 1, end, "full fine-tune" if backbone_trainable else "head only, backbone frozen")
        # Keras's own per-epoch line only in a terminal (its progress bar); the recorder logs each epoch.
        session.model.fit(train_data, validation_data=val_data, epochs=end, initial_epoch=first,
                          callbacks=callbacks, verbose=config.verbose if sys.stdout.isatty() else 0)


def train(config: TrainConfig, resume: bool = False) -> TrainResult:
    config.validate()
    strategy = make_strategy(config.distribute)  # first: multi-worker must precede other TF work
    run_dir = rundir.prepare(config, resume)
    is_chief, task_index = worker_role()
    # Non-chief workers take part in every collective save but keep their files apart.
    io_dir = run_dir if is_chief else run_dir / f"worker-{task_index}"
    io_dir.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(config.seed)
    if config.mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_float16")

    train_ds, val_ds = load_data(config)
    info = model_info(config, run_dir)
    spec = info.preprocess
    rundir.write_start(io_dir, config, info, resume)
    log.info("data: %d training faces, %d validation faces (%s); %s at %d px",
             len(train_ds), len(val_ds), val_ds.split, config.family, config.input_size)

    train_ds, targets = labelled(config, train_ds)
    train_x = resize_faces(train_ds.images, spec.input_size)
    class_w = class_weight_vector(targets.hard, config.class_weights)
    train_data = make_dataset(train_x, targets.soft, spec, config.batch_size, training=True,
                              seed=config.seed, sample_weights=targets.soft @ class_w, augment=config.augment)
    val_y = selection_labels(val_ds, config.labels)  # what the epochs are scored against
    val_data = make_dataset(resize_faces(val_ds.images[val_y >= 0], spec.input_size), val_y[val_y >= 0], spec,
                            config.batch_size, training=False)
    steps_per_epoch = max(1, len(train_x) // config.batch_size)
    session = _build_session(config, strategy, io_dir, steps_per_epoch, resume)
    recorder = RunRecorder(io_dir, session, config, steps_per_epoch,
                           lambda: _recalibration_batches(config, spec, train_x))
    if is_chief:
        warn_if_too_short(config)
    started = time.time()
    _fit_phases(config, strategy, session, recorder, train_data, val_data)
    train_seconds = time.time() - started

    report = _finish(config, session.model, info, io_dir, train_x, val_ds)
    metrics = write_metrics(io_dir, report, config, val_ds.split, {
        "epochs_run": len(recorder.history_rows),
        "best_epoch": rundir.best_epoch(recorder.history_rows),
        "stopped_early": recorder.stopped_early,
        "seconds_this_session": train_seconds,
        "train_faces": len(train_ds),
        "val_faces": len(val_ds),
        "class_weights": class_w.tolist(),
    })
    if is_chief:
        for line in summary_lines(config, io_dir, metrics, recorder.history_rows):
            log.info("%s", line)
    return TrainResult(io_dir, metrics, recorder.history_rows)


def _recalibration_batches(config: TrainConfig, spec, train_x: np.ndarray):
    order = np.random.default_rng(config.seed).permutation(len(train_x))
    chunks = np.array_split(order, max(1, len(order) // config.batch_size))[: config.bn_recalibration_batches]
    for idx in chunks:
        yield model_input(train_x[idx], spec)  # already at model size: no resize


def _kept_final_weights(final, path: Path):
    """The weights of the final model a resumed run finished with before, now also in `final`
    (None for a run that never finished, or whose file no longer loads into this architecture)."""
    if not path.is_file():
        return None
    try:
        weights = load_keras_model(path).get_weights()
        final.set_weights(weights)
    except (ModelError, ValueError, OSError) as exc:
        log.warning("%s: not kept as a final model candidate (%s)", path, exc)
        return None
    return weights


def _finish(config, model, info, io_dir, train_x, val_ds) -> dict[str, Any]:
    """Pick the final model: best or last epoch, running or re-estimated BatchNorm statistics.

    Running statistics lag the weights in short runs, which also fools the per-epoch
    validation that chose the "best" epoch; so both epochs are scored both ways.
    """
    final = build_model(config.family, config.input_size, "none", config.dropout, config.drop_connect_rate)
    predictor = KerasPredictor.from_model(final, info, str(io_dir / rundir.KERAS_MODEL_FILE))
    last = "last (EMA)" if config.ema_decay and config.epochs > config.warmup_epochs else "last"
    candidates = {last: model.get_weights()}
    if (io_dir / BEST_WEIGHTS_FILE).is_file():
        final.load_weights(str(io_dir / BEST_WEIGHTS_FILE))
        candidates["best"] = final.get_weights()
    scored = []
    for epoch_name, weights in candidates.items():
        final.set_weights(weights)
        report, _ = score(predictor, val_ds)
        scored.append((selection_score(config, report), f"{epoch_name} epoch, running statistics", weights, report))
        if config.bn_recalibration_batches:
            recalibrate_batchnorm(final, _recalibration_batches(config, info.preprocess, train_x))
            report, _ = score(predictor, val_ds)
            scored.append((selection_score(config, report), f"{epoch_name} epoch, re-estimated statistics",
                           final.get_weights(), report))
    final_file = io_dir / rundir.KERAS_MODEL_FILE
    kept = _kept_final_weights(final, final_file)
    if kept is not None:
        report, _ = score(predictor, val_ds)
        scored.append((selection_score(config, report), rundir.KEPT_FINAL_MODEL, kept, report))
    for top1, name, _, _ in scored:
        log.info("final model candidate: %-40s val top-1 %.4f", name, top1)
    # A tie keeps the run's final model: a resume never replaces it with one no better.
    top1, choice, weights, report = max(scored, key=lambda c: (c[0], c[1] == rundir.KEPT_FINAL_MODEL))
    if choice != rundir.KEPT_FINAL_MODEL:
        final.set_weights(weights)
        with atomic_path(final_file, suffix=".keras") as tmp:
            final.save(str(tmp))
    report["final_model"] = {"choice": choice, "candidates": {name: t for t, name, _, _ in scored}}
    return report
