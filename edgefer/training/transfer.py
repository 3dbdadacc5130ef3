"""Torch-layout weights into the Keras twin: how a torch run enters the Keras/tfmot/TFLite chain,
and how the Keras engine reads the ImageNet backbones the torch engine reads.

The timm ``tf_`` models and edgefer's Keras builders define the same layers in the
same order: walking both, each weight-bearing Keras layer takes the next torch module
of the same kind (conv, depthwise conv, BatchNorm, dense), transposed to Keras layout.
Kinds and shapes are checked at every step, so a mismatch names the layer instead of
building a silently different model. Needs NumPy and Keras, never torch.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from ..errors import ModelError
from .keras_env import keras

_BN_KEYS = ("weight", "bias", "running_mean", "running_var")


def _torch_modules(tensors: dict[str, np.ndarray]) -> Iterator[tuple[str, dict[str, np.ndarray]]]:
    """(module prefix, {parameter name: array}) in network order."""
    groups: dict[str, dict[str, np.ndarray]] = {}
    for name, value in tensors.items():
        prefix, _, leaf = name.rpartition(".")
        if leaf != "num_batches_tracked":
            groups.setdefault(prefix, {})[leaf] = value
    return iter(groups.items())


def _keras_weights(layer, params: dict[str, np.ndarray]) -> list[np.ndarray] | None:
    """`params` in `layer`'s layout, or None when the torch module is of another kind."""
    if isinstance(layer, keras.layers.BatchNormalization):
        return [params[k] for k in _BN_KEYS] if set(_BN_KEYS) <= set(params) else None
    weight = params.get("weight")
    if weight is None:
        return None
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        return [weight.transpose(2, 3, 0, 1)] if weight.ndim == 4 and weight.shape[1] == 1 else None
    if isinstance(layer, keras.layers.Conv2D):
        if weight.ndim != 4 or "running_mean" in params:
            return None
        return [weight.transpose(2, 3, 1, 0)] + ([params["bias"]] if "bias" in params else [])
    if isinstance(layer, keras.layers.Dense):
        return [weight.T, params["bias"]] if weight.ndim == 2 else None
    return None


def _weighted_layers(model) -> list:
    # Normalization layers of the Keras applications hold fixed input statistics, which
    # the torch twin applies from the family registry instead.
    return [layer for layer in model.layers
            if layer.weights and not isinstance(layer, keras.layers.Normalization)]


def load_torch_state(model, tensors: dict[str, np.ndarray], name: str = "weights", skip: tuple[str, ...] = ()) -> int:
    """Set every weight of the Keras `model`, but the layers named in `skip`, from a state dict
    in network order (a torch-engine model, or a family's ImageNet backbone); returns layers set."""
    modules = list(_torch_modules(tensors))
    layers = [layer for layer in _weighted_layers(model) if layer.name not in skip]
    if len(modules) != len(layers):
        raise ModelError(f"{name}: {len(modules)} torch modules for {len(layers)} Keras layers; "
                         "not weights of this model family")
    for layer, (prefix, params) in zip(layers, modules):
        weights = _keras_weights(layer, params)
        expected = [tuple(w.shape) for w in layer.get_weights()]
        if weights is None or [w.shape for w in weights] != expected:
            got = {k: v.shape for k, v in params.items()}
            raise ModelError(f"{name}: torch module {prefix} {got} does not fit Keras layer "
                             f"{layer.name} {expected}")
        layer.set_weights([w.astype(np.float32) for w in weights])
    return len(layers)
