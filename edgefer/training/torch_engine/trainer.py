"""The PyTorch engine of ``edgefer train``: data and augmentation on the device, one run directory.

The schedule is the Keras engine's (frozen-backbone warm-up, then a warmed-up cosine
fine-tune, label smoothing, class weights, weight EMA, early stopping) so a recipe
means the same on both; on CUDA it adds bf16 autocast, channels-last and optionally
``torch.compile``. The run directory follows :mod:`edgefer.training.rundir`; the final
weights are ``model.safetensors``, which the Keras side maps onto its twin.
"""

from __future__ import annotations

import copy
import logging
import pickle
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import ConfigError, ModelError
from ...fileio import atomic_path
from ...plots import training_curves
from ...preprocessing import resize_faces
from ...scoring import score
from .. import rundir
from ..config import TrainConfig
from ..targets import selection_labels
from ..recipe import (
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
from .augment import augment, mix
from .distributed import Cluster, cluster
from .env import torch
from .nets import build_model, model_input, save_weights
from .predictor import TorchPredictor
from .teachers import Teachers

log = logging.getLogger(__name__)
F = torch.nn.functional
CHECKPOINT_FILE = "last.pt"


def resolve_device(name: str, local_rank: int = 0):
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda: no CUDA GPU is visible to torch on this machine")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(f"cuda:{local_rank}" if name == "cuda" else name)


@dataclass
class _Data:
    train_x: Any  # uint8 (N, S, S) on the device
    train_t: Any  # float32 (N, 7) soft targets (edgefer.training.targets)
    train_y: Any  # their argmax, for the training accuracy
    val_x: Any  # the validation faces scored against the run's labels
    val_y: Any
    class_w: Any


class _Session:
    """Model, EMA, optimizer and the state a checkpoint must carry."""

    def __init__(self, config: TrainConfig, device, cluster: Cluster) -> None:
        self.config, self.device, self.cluster = config, device, cluster
        self.model = build_model(config.family, config.weights, config.dropout, config.drop_connect_rate)
        self.model.to(device).to(memory_format=torch.channels_last)
        self.net = cluster.wrap(self.model, device, config.warmup_epochs > 0)  # what the training step runs: DDP across ranks
        self.ema = copy.deepcopy(self.model).eval().requires_grad_(False) if config.ema_decay else None
        if self.ema is not None:  # state-dict tensors share storage with the modules: pair them once
            pairs = list(zip(self.ema.state_dict().values(), self.model.state_dict().values()))
            self._ema_pairs = ([e for e, _ in pairs if e.dtype.is_floating_point],
                               [p for e, p in pairs if e.dtype.is_floating_point],
                               [(e, p) for e, p in pairs if not e.dtype.is_floating_point])
        decay, no_decay = [], []
        for name, p in self.model.named_parameters():
            (no_decay if p.ndim <= 1 else decay).append(p)  # BatchNorm and biases: no weight decay
        self.optimizer = torch.optim.AdamW(
            [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
            lr=config.lr)
        self.epoch, self.step = 0, 0
        self.history: list[dict[str, float]] = []

    def checkpoint(self, path: Path) -> None:
        state = {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                 "epoch": self.epoch, "step": self.step,
                 "ema": self.ema.state_dict() if self.ema is not None else {}}
        with atomic_path(path, suffix=".pt") as tmp:
            torch.save(state, tmp)

    def restore(self, path: Path) -> None:
        try:
            state = torch.load(path, map_location=self.device, weights_only=True)  # no pickle code runs
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            if self.ema is not None and state["ema"]:
                self.ema.load_state_dict(state["ema"])
            self.epoch, self.step = int(state["epoch"]), int(state["step"])
        # A truncated file ends in EOFError, a foreign one in an unpickling or type error.
        except (RuntimeError, KeyError, ValueError, OSError, EOFError, TypeError, IndexError,
                pickle.UnpicklingError) as exc:
            first_line = (str(exc).splitlines() or [exc.__class__.__name__])[0]
            raise ModelError(f"{path}: damaged, or not a checkpoint of this run ({first_line})") from None

    @torch.no_grad()
    def update_ema(self) -> None:
        if self.ema is None:
            return
        ema_float, model_float, counters = self._ema_pairs
        torch._foreach_lerp_(ema_float, model_float, 1 - self.config.ema_decay)  # one fused launch per step
        for e, p in counters:
            e.copy_(p)


def _load(config: TrainConfig, spec, device) -> tuple[_Data, Any, Any]:
    train_ds, val_ds = load_data(config)
    train_ds, targets = labelled(config, train_ds)
    as_tensor = lambda a: torch.from_numpy(np.ascontiguousarray(a)).to(device)  # noqa: E731
    class_w = class_weight_vector(targets.hard, config.class_weights)
    val_y = selection_labels(val_ds, config.labels)
    scored = np.flatnonzero(val_y >= 0)
    data = _Data(as_tensor(resize_faces(train_ds.images, spec.input_size)), as_tensor(targets.soft),
                 as_tensor(targets.hard), as_tensor(resize_faces(val_ds.images[scored], spec.input_size)),
                 as_tensor(val_y[scored].astype(np.int64)), as_tensor(class_w.astype(np.float32)))
    return data, train_ds, val_ds


def _loss(config: TrainConfig, logits, targets, perm, lam: float, class_w, soft=None):
    """Soft-target cross-entropy, smoothed towards uniform and weighted by each target's
    expected class weight; a mixed batch is scored against both partners' targets
    (one-hot targets give exactly torch's cross_entropy with label smoothing)."""
    log_p = F.log_softmax(logits.float(), dim=1)
    k = targets.shape[1]

    def weighted_ce(t):
        smoothed = t * (1 - config.label_smoothing) + config.label_smoothing / k
        return (t @ class_w) * -(smoothed * log_p).sum(dim=1)

    label_loss = (lam * weighted_ce(targets) + (1 - lam) * weighted_ce(targets[perm])).mean()
    if soft is None:
        return label_loss
    t = config.distill_temperature
    kd = F.kl_div(F.log_softmax(logits.float() / t, dim=1), soft, reduction="batchmean") * t * t
    return (1 - config.distill_weight) * label_loss + config.distill_weight * kd


def _train_epoch(session: _Session, data: _Data, spec, teachers, step_fn, gen) -> dict[str, float]:
    """One epoch; `gen` draws the augmentation, a generator shared by all ranks the order."""
    config, model, cluster = session.config, session.model, session.cluster
    n, bs = len(data.train_x), config.batch_size
    steps = max(1, n // bs)
    head_only = session.epoch < config.warmup_epochs
    for name, p in model.named_parameters():
        p.requires_grad_(not head_only or name.startswith("logits."))
    model.train()
    shared = torch.Generator(device=data.train_x.device).manual_seed(config.seed * 100_003 + session.epoch)
    order = torch.randperm(n, generator=shared, device=data.train_x.device)
    totals = torch.zeros(3, device=data.train_x.device)
    for i in range(steps):
        idx = order[i * bs : (i + 1) * bs][cluster.rank :: cluster.world]
        faces = augment(data.train_x[idx].unsqueeze(1).float(), config.augment, gen)
        faces, perm, lam = mix(faces, config.augment, gen)
        soft = teachers.probabilities(faces, config.distill_temperature) if teachers else None
        for group in session.optimizer.param_groups:
            group["lr"] = scheduled_lr(config, session.step, steps)
        loss, logits = step_fn(model_input(faces, spec), data.train_t[idx], perm, lam, soft)
        session.update_ema()
        session.step += 1
        y = data.train_y[idx]
        top3 = logits.topk(3, dim=1).indices
        totals += torch.stack([loss.detach() * len(idx), (logits.argmax(1) == y).sum(), (top3 == y[:, None]).any(1).sum()])
    loss, correct, top3 = (totals / (steps * (bs // cluster.world))).tolist()
    return {"loss": loss, "accuracy": correct, "top3": top3, "lr": scheduled_lr(config, session.step - 1, steps),
            "head_only": float(head_only)}


@torch.no_grad()
def _validate(model, data: _Data, spec, batch_size: int) -> dict[str, float]:
    model.eval()
    losses, correct, top3 = 0.0, 0, 0
    for start in range(0, len(data.val_x), batch_size):
        x = data.val_x[start : start + batch_size].unsqueeze(1).float()
        y = data.val_y[start : start + batch_size]
        logits = model(model_input(x, spec)).float()
        losses += float(F.cross_entropy(logits, y, reduction="sum"))
        correct += int((logits.argmax(1) == y).sum())
        top3 += int((logits.topk(3, dim=1).indices == y[:, None]).any(1).sum())
    n = max(1, len(data.val_x))
    return {"val_loss": losses / n, "val_accuracy": correct / n, "val_top3": top3 / n}


def _make_step(session: _Session, data: _Data):
    config, model, optimizer = session.config, session.net, session.optimizer
    autocast = session.device.type == "cuda" and config.mixed_precision

    def step(x, targets, perm, lam, soft):
        with torch.autocast(session.device.type, dtype=torch.bfloat16, enabled=autocast):
            logits = model(x)
        loss = _loss(config, logits, targets, perm, lam, data.class_w, soft)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss, logits.detach().float()

    return torch.compile(step) if config.compile else step


@torch.no_grad()
def _recalibrated(model, data: _Data, spec, config: TrainConfig):
    """A copy of `model` with BatchNorm statistics re-estimated on training faces (no augmentation).

    Running statistics lag the weights in short runs, as in the Keras engine; this is
    the same remedy (torch's cumulative average: momentum None).
    """
    model = copy.deepcopy(model).eval()
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None
        norm.train()
    gen = torch.Generator(device=data.train_x.device).manual_seed(config.seed)
    order = torch.randperm(len(data.train_x), generator=gen, device=data.train_x.device)
    for i in range(min(config.bn_recalibration_batches, max(1, len(order) // config.batch_size))):
        idx = order[i * config.batch_size : (i + 1) * config.batch_size]
        model(model_input(data.train_x[idx].unsqueeze(1).float(), spec))
    for norm in norms:
        norm.momentum = 0.1
        norm.eval()
    return model


def _validated_model(session: _Session, data: _Data, spec):
    """What each epoch is scored as: EMA or live weights, with re-estimated statistics if the recipe asks."""
    model, config = session.ema or session.model, session.config
    if config.val_recalibrated_bn and config.bn_recalibration_batches:
        return _recalibrated(model, data, spec, config)
    return model


def _finish(session: _Session, io_dir: Path, info, data: _Data, val_ds, spec) -> dict[str, Any]:
    """Score last, EMA and best weights, each with running and re-estimated BatchNorm statistics;
    keep the best on the validation faces as model.safetensors."""
    config, device = session.config, session.device
    candidates = {"last": session.model}
    if session.ema is not None:
        candidates["last (EMA)"] = session.ema
    best_file = io_dir / rundir.BEST_WEIGHTS["torch"]
    if best_file.is_file():
        candidates["best"] = _model_from(config, best_file, device)
    if config.bn_recalibration_batches:
        candidates.update({f"{name}, re-estimated statistics": _recalibrated(model, data, spec, config)
                           for name, model in list(candidates.items())})
    final_file = io_dir / rundir.TORCH_MODEL_FILE
    kept = _kept_final_model(config, final_file, device)
    if kept is not None:
        candidates[rundir.KEPT_FINAL_MODEL] = kept
    scored = []
    for name, model in candidates.items():
        report, _ = score(TorchPredictor(model, info, name, device), val_ds)
        log.info("final model candidate: %-40s val top-1 %.4f", name, selection_score(config, report))
        scored.append((selection_score(config, report), name, model, report))
    # A tie keeps the run's final model: a resume never replaces it with one no better.
    _, choice, model, report = max(scored, key=lambda c: (c[0], c[1] == rundir.KEPT_FINAL_MODEL))
    if choice != rundir.KEPT_FINAL_MODEL:
        save_weights(model, final_file)
    report["model"] = str(final_file)
    report["final_model"] = {"choice": choice, "candidates": {name: t for t, name, _, _ in scored}}
    return report


def _model_from(config: TrainConfig, path: Path, device):
    """The run's network with the weights saved in `path`."""
    from .nets import load_weights

    model = build_model(config.family, "none", config.dropout, 0.0).to(device)
    load_weights(model, path)
    return model


def _kept_final_model(config: TrainConfig, path: Path, device):
    """The final model a resumed run finished with before, to be beaten by the new candidates
    (None for a run that never finished, or whose file no longer loads)."""
    if not path.is_file():
        return None
    try:
        return _model_from(config, path, device)
    except (ModelError, ConfigError) as exc:
        log.warning("%s: not kept as a final model candidate (%s)", path, exc)
        return None


def train(config: TrainConfig, resume: bool = False) -> TrainResult:
    config.validate()
    ranks = cluster(config)
    device = resolve_device(config.device, ranks.local_rank)
    run_dir = rundir.prepare(config, resume)
    ranks.start(device)  # every rank has checked the run directory before the chief writes to it
    try:
        return _train(config, resume, ranks, device, run_dir)
    finally:
        ranks.stop()


def _train(config: TrainConfig, resume: bool, ranks: Cluster, device, run_dir: Path) -> TrainResult:
    io_dir = run_dir if ranks.chief else run_dir / f"worker-{ranks.rank}"
    io_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.seed)
    info = model_info(config, run_dir)
    spec = info.preprocess
    data, train_ds, val_ds = _load(config, spec, device)
    rundir.write_start(io_dir, config, info, resume)
    session = _Session(config, device, ranks)
    teachers = Teachers(config.teachers, device) if config.teachers else None
    checkpoint = io_dir / rundir.CHECKPOINT_DIR / CHECKPOINT_FILE
    if resume and checkpoint.is_file():
        session.restore(checkpoint)
        session.history = [h for h in rundir.read_history(io_dir / rundir.HISTORY_FILE) if h["epoch"] <= session.epoch]
        log.info("resuming %s after epoch %d", io_dir, session.epoch)
    log.info("torch engine on %s (rank %d of %d): %d training faces, %d validation faces (%s); %s at %d px",
             device, ranks.rank, ranks.world, len(train_ds), len(val_ds), val_ds.split, config.family,
             config.input_size)
    if ranks.chief:
        warn_if_too_short(config)
    step_fn = _make_step(session, data)
    started, stopped_early = time.time(), False
    while session.epoch < config.epochs and not stopped_early:
        gen = torch.Generator(device=device).manual_seed((config.seed * 100_003 + session.epoch) * 1_009 + ranks.rank)
        t0 = time.time()
        row = {"epoch": session.epoch + 1, **_train_epoch(session, data, spec, teachers, step_fn, gen)}
        ranks.sync_buffers(*[m for m in (session.model, session.ema) if m is not None])
        row.update(_validate(_validated_model(session, data, spec), data, spec, 512))
        row["seconds"] = time.time() - t0
        session.epoch += 1
        stopped_early = _record(session, io_dir, row, len(data.train_x))
        session.checkpoint(checkpoint)
    report = _finish(session, io_dir, info, data, val_ds, spec)
    metrics = write_metrics(io_dir, report, config, val_ds.split, {
        "epochs_run": len(session.history), "best_epoch": rundir.best_epoch(session.history),
        "stopped_early": stopped_early, "seconds_this_session": time.time() - started,
        "train_faces": len(train_ds), "val_faces": len(val_ds), "device": str(device), "workers": ranks.world,
        "class_weights": data.class_w.cpu().tolist(),
    })
    if ranks.chief:
        for line in summary_lines(config, io_dir, metrics, session.history):
            log.info("%s", line)
    return TrainResult(io_dir, metrics, session.history)


def _record(session: _Session, run_dir: Path, row: dict[str, float], n_train: int) -> bool:
    """History, curves and best weights after an epoch; True when early stopping says stop."""
    improved = row["val_accuracy"] >= max((h["val_accuracy"] for h in session.history), default=-1.0)
    session.history.append(row)
    if improved:
        save_weights(session.ema or session.model, run_dir / rundir.BEST_WEIGHTS["torch"])
    rundir.write_history(run_dir / rundir.HISTORY_FILE, session.history)
    training_curves(session.history, run_dir / rundir.CURVES_FILE)
    best = rundir.best_epoch(session.history)
    log.info("epoch %d/%d (%s, lr %.2g): loss %.4f, val top-1 %.4f top-3 %.4f (best epoch %d), %.0f img/s%s",
             row["epoch"], session.config.epochs, "head only" if row["head_only"] else "fine-tune", row["lr"],
             row["loss"], row["val_accuracy"], row["val_top3"], best, n_train / max(row["seconds"], 1e-9),
             "  [saved best]" if improved else "")
    patience = session.config.early_stopping_patience
    return bool(patience and row["epoch"] - best >= patience)
