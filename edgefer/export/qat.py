"""Quantize-aware fine-tuning (tfmot) of any edgefer classifier, starting from its float weights.

tfmot refuses layers it has no quantize config for: the Keras applications' ``Rescaling``
and ``Normalization`` layers and the squeeze-excite ``Multiply``. The recipe (measured
on EfficientNetB0) clones the model, annotates every layer, gives those layers an
output-only config (the converter then knows their int8 output range) and applies
under ``quantize_scope``. BatchNorm layers that follow a convolution are annotated
without a config so tfmot's transforms fold them into the convolution; leaving them
out added 98 float ops.

QAT models do not reload from ``.keras`` (the quantize layers' variables mismatch), so
checkpoints are weights-only HDF5 files, reloaded by rebuilding the QAT model from
the float model through the same annotate/apply path (:func:`load_qat_weights`).
"""

from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from ..errors import ConfigError, ModelError
from ..training.keras_env import keras, tf

log = logging.getLogger(__name__)

# Called after every epoch with (epoch, epochs, steps done, mean loss, frozen?).
Progress = Callable[[int, int, int, float, bool], None]


def _tfmot_quantize():
    """tfmot's Keras quantization API, refusing Keras 3 up front with an actionable message."""
    if not tf.keras.__name__.startswith("tf_keras"):
        raise ConfigError(
            "quantize-aware training needs Keras 2: set TF_USE_LEGACY_KERAS=1 before TensorFlow "
            "is imported (and install tf-keras)"
        )
    import tensorflow_model_optimization as tfmot

    return tfmot.quantization.keras


def _output_only_config_class():
    quantize = _tfmot_quantize()

    class OutputOnlyQuantizeConfig(quantize.QuantizeConfig):
        """Quantizes a layer's output only: for layers tfmot has no config for."""

        def get_weights_and_quantizers(self, layer):
            return []

        def get_activations_and_quantizers(self, layer):
            return []

        def set_quantize_weights(self, layer, quantize_weights):
            pass

        def set_quantize_activations(self, layer, quantize_activations):
            pass

        def get_output_quantizers(self, layer):
            return [quantize.quantizers.MovingAverageQuantizer(
                num_bits=8, per_axis=False, symmetric=False, narrow_range=False)]

        def get_config(self):
            return {}

    return OutputOnlyQuantizeConfig


def _follows_linear_conv(layer) -> bool:
    """True when `layer` takes its only input from a Conv2D/DepthwiseConv2D without activation,
    the pattern tfmot's transforms fold a BatchNorm into."""
    nodes = layer._inbound_nodes  # noqa: SLF001 - Keras 2 keeps the graph here
    if len(nodes) != 1:
        return False
    inbound = tf.nest.flatten(nodes[0].inbound_layers)
    return (
        len(inbound) == 1
        and isinstance(inbound[0], (keras.layers.Conv2D, keras.layers.DepthwiseConv2D))
        and inbound[0].get_config().get("activation") == "linear"
    )


def quantize_model(model):
    """The QAT twin of a flat Keras model (same weights), ready to train and convert."""
    quantize = _tfmot_quantize()
    from tensorflow_model_optimization.python.core.quantization.keras.default_8bit import (
        default_8bit_quantize_registry,
    )

    registry = default_8bit_quantize_registry.Default8BitQuantizeRegistry()
    output_only = _output_only_config_class()
    nested = [layer.name for layer in model.layers if isinstance(layer, keras.Model)]
    if nested:
        raise ModelError(f"cannot quantize nested models ({', '.join(nested)}); edgefer builds flat models")
    # Decided on the original graph: the clone's layers are not connected yet when annotated.
    folds = {layer.name for layer in model.layers
             if isinstance(layer, keras.layers.BatchNormalization) and _follows_linear_conv(layer)}

    def annotate(layer):
        if isinstance(layer, keras.layers.InputLayer):
            return layer.__class__.from_config(layer.get_config())
        clone = layer.__class__.from_config(layer.get_config())
        if layer.name in folds or registry.supports(layer):
            return quantize.quantize_annotate_layer(clone)
        return quantize.quantize_annotate_layer(clone, output_only())

    with quantize.quantize_scope({"OutputOnlyQuantizeConfig": output_only}):
        annotated = keras.models.clone_model(model, clone_function=annotate)
        annotated.set_weights(model.get_weights())
        return quantize.quantize_apply(annotated)


def _range_targets(qat_model) -> list[tuple[Any, Any, str, str]]:
    """(min var, max var, float layer name, kind) for every moving-average activation range.

    kind "input" is the model input; "output" and "post_activation" are the layer's
    output (its activation runs inside the layer); "pre_activation" the same layer with
    a linear activation.
    """
    _tfmot_quantize()
    from tensorflow_model_optimization.python.core.quantization.keras.quantize_layer import (
        QuantizeLayer,
    )

    targets = []
    for layer in qat_model.layers:
        ranges: dict[str, dict[str, Any]] = {}
        for var in layer.non_trainable_weights:
            short = var.name.split("/")[-1].split(":")[0]
            for kind in ("output", "post_activation", "pre_activation"):
                for end in ("min", "max"):
                    if short == f"{kind}_{end}":
                        ranges.setdefault(kind, {})[end] = var
            if isinstance(layer, QuantizeLayer) and short in (f"{layer.name}_min", f"{layer.name}_max"):
                ranges.setdefault("input", {})[short.rsplit("_", 1)[1]] = var
        inner = getattr(layer, "layer", None)
        for kind, pair in ranges.items():
            if set(pair) == {"min", "max"}:
                targets.append((pair["min"], pair["max"], inner.name if inner is not None else "", kind))
    return targets


def calibrate_ranges(qat_model, float_model, batches: Iterable[np.ndarray]) -> int:
    """Start every activation range from the float model's activations; returns ranges set.

    tfmot's moving-average quantizers start at [-6, 6] and move 0.1% per training step,
    so a short fine-tune would convert with ranges that clip or waste most of the int8
    grid (agreement with float fell to 8% after 20 steps). As torchvision calibrates its
    observers before QAT, each range starts at the mean batch min/max (0 included, as
    tfmot keeps it) on calibration data. Weight ranges follow the weights at every
    training step and need no start.
    """
    targets = _range_targets(qat_model)
    probes, pre_activation = [], []
    for _, _, name, kind in targets:
        if kind == "input":
            probes.append(float_model.input)
        elif kind == "pre_activation":
            probes.append(float_model.get_layer(name).input)
            pre_activation.append(len(probes) - 1)
        else:
            probes.append(float_model.get_layer(name).output)
    probe = keras.Model(float_model.input, probes)
    sums = np.zeros((len(targets), 2))
    count = 0
    for x in batches:
        values = probe(x, training=False)
        values = values if isinstance(values, (list, tuple)) else [values]
        for i, ((_, _, name, _), value) in enumerate(zip(targets, values)):
            if i in pre_activation:
                value = _without_activation(float_model.get_layer(name), value)
            sums[i] += (min(float(tf.reduce_min(value)), 0.0), max(float(tf.reduce_max(value)), 0.0))
        count += 1
    if count:
        for (min_var, max_var, _, _), (low, high) in zip(targets, sums / count):
            min_var.assign(np.full(min_var.shape, low, np.float32))
            max_var.assign(np.full(max_var.shape, high, np.float32))
    return len(targets) if count else 0


def _without_activation(layer, inputs):
    """`layer` applied to `inputs` with its activation switched off (the pre-activation value)."""
    activation = layer.activation
    layer.activation = keras.activations.linear
    try:
        return layer(inputs, training=False)
    finally:
        layer.activation = activation


def save_qat_weights(qat_model, path: str | os.PathLike) -> None:
    """Weights-only HDF5: the one QAT checkpoint format that round-trips."""
    from ..fileio import atomic_path

    with atomic_path(path, suffix=".h5") as tmp:
        qat_model.save_weights(str(tmp))


def load_qat_weights(float_model, path: str | os.PathLike):
    """Rebuild the QAT model from its float model and load a :func:`save_qat_weights` file."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: no such QAT weights file")
    qat_model = quantize_model(float_model)
    try:
        qat_model.load_weights(str(path))
    except (OSError, ValueError) as exc:
        raise ModelError(f"{path}: QAT weights do not fit this model ({exc})") from None
    return qat_model


@dataclass
class QatSchedule:
    """Steps, learning rate and freeze points of one QAT run; built from an ExportConfig."""

    epochs: int
    steps_per_epoch: int
    max_steps: int  # 0: epochs * steps_per_epoch
    learning_rate: float
    # torchvision's QAT reference freezes BatchNorm statistics and then the observer
    # ranges for the last part of fine-tuning, so the weights settle against a fixed
    # quantization grid; moving BatchNorm statistics in QAT pull the model away from
    # the float model it must reproduce.
    bn_freeze_fraction: float
    range_freeze_fraction: float
    # Weight of the float teacher in the loss (1: match the float model's probabilities
    # only, 0: the labels only). The int8 model's job is to reproduce the float model;
    # fitting labels alone pulls the weights towards a different model.
    distill: float
    label_smoothing: float = 0.0

    @classmethod
    def from_config(cls, config, steps_per_epoch: int, label_smoothing: float = 0.0) -> "QatSchedule":
        """The schedule an :class:`~edgefer.export.config.ExportConfig` asks for."""
        return cls(epochs=config.qat_epochs, steps_per_epoch=steps_per_epoch, max_steps=config.qat_steps,
                   learning_rate=config.qat_lr, bn_freeze_fraction=config.qat_bn_freeze_fraction,
                   range_freeze_fraction=config.qat_range_freeze_fraction, distill=config.qat_distill,
                   label_smoothing=label_smoothing)

    @property
    def total_steps(self) -> int:
        total = self.epochs * self.steps_per_epoch
        return min(total, self.max_steps) if self.max_steps else total

    def _step_from_end(self, fraction: float) -> int:
        return int(math.ceil(self.total_steps * (1.0 - fraction)))

    @property
    def bn_freeze_step(self) -> int:
        return self._step_from_end(self.bn_freeze_fraction)

    @property
    def range_freeze_step(self) -> int:
        # Never before the first step: weight ranges are only set by a training-mode pass.
        return max(1, self._step_from_end(self.range_freeze_fraction))


def _set_batchnorm_frozen(qat_model, frozen: bool) -> None:
    # A non-trainable Keras 2 BatchNorm runs in inference mode even when training=True.
    for layer in qat_model.layers:
        inner = getattr(layer, "layer", layer)
        if isinstance(inner, keras.layers.BatchNormalization):
            inner.trainable = not frozen


def fine_tune(qat_model, batches, schedule: QatSchedule, progress: Progress | None = None,
              teacher=None) -> list[dict[str, float]]:
    """Train `qat_model` (logits output) on (x, one-hot y, weight) batches; returns per-epoch rows.

    With ``schedule.distill > 0`` the `teacher` (the float logits model) gives soft targets
    on the same augmented batch; class weights apply to the label term only.
    Frozen BatchNorm layers are non-trainable; with ranges frozen the model runs with
    ``training=False`` (quantizers fixed, gradients still flowing). Trainability is
    restored at the end: HDF5 weight files are ordered by it."""
    total = schedule.total_steps
    lr = keras.optimizers.schedules.CosineDecay(schedule.learning_rate, max(1, total), alpha=0.0)
    optimizer = keras.optimizers.Adam(learning_rate=lr)
    loss_fn = keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=schedule.label_smoothing)
    soft_loss_fn = keras.losses.CategoricalCrossentropy(from_logits=True)
    distill = schedule.distill
    if distill and teacher is None:
        raise ConfigError("QAT distillation needs the float model as teacher")

    def make_step(training: bool):
        variables = qat_model.trainable_variables

        @tf.function
        def step(x, y, w):
            with tf.GradientTape() as tape:
                out = qat_model(x, training=training)
                loss = 0.0
                if distill < 1:
                    loss += (1 - distill) * loss_fn(y, out, sample_weight=w)
                if distill > 0:
                    loss += distill * soft_loss_fn(tf.nn.softmax(teacher(x, training=False)), out)
            optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
            return loss

        return step

    steps: dict[tuple[bool, bool], Any] = {}
    history: list[dict[str, float]] = []
    done = 0
    started = last_line = time.time()
    epochs = max(1, math.ceil(total / max(1, schedule.steps_per_epoch)))
    try:
        for epoch in range(1, epochs + 1):
            losses = []
            for x, y, w in batches.take(min(schedule.steps_per_epoch, total - done)):
                phase = (done >= schedule.bn_freeze_step, done >= schedule.range_freeze_step)
                if phase not in steps:
                    # Tracing a new training step takes tens of seconds on a small CPU.
                    log.info("QAT step %d/%d: building the training step (BatchNorm %s, ranges %s; %.0f s)",
                             done + 1, total, "frozen" if phase[0] else "training",
                             "frozen" if phase[1] else "training", time.time() - started)
                    _set_batchnorm_frozen(qat_model, phase[0])
                    steps[phase] = make_step(training=not phase[1])
                losses.append(float(steps[phase](x, y, w)))
                done += 1
                if time.time() - last_line > 30:
                    log.info("QAT step %d/%d (%.0f s)", done, total, time.time() - started)
                    last_line = time.time()
            mean_loss = float(np.mean(losses)) if losses else float("nan")
            ranges_frozen = done > schedule.range_freeze_step
            history.append({"epoch": epoch, "steps": done, "loss": mean_loss, "ranges_frozen": float(ranges_frozen)})
            if progress:
                progress(epoch, epochs, done, mean_loss, ranges_frozen)
                last_line = time.time()
            if done >= total:
                break
    finally:
        _set_batchnorm_frozen(qat_model, False)
    return history
