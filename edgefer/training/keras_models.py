"""The Keras classifiers edgefer trains: a registered family's backbone (edgefer.families) and the head.

Every model is built flat (no nested backbone Model) so tfmot can annotate each layer,
takes the input described by its :class:`PreprocessSpec`, and ends in a 7-way ``logits``
Dense layer followed by a float32 ``probabilities`` softmax.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ConfigError, ModelError
from ..families import get_family
from ..labels import NUM_CLASSES
from ..preprocessing import PreprocessSpec
from .keras_env import keras
from .pretrained import parse_weights
from .tensorfile import load_model_weights
from .transfer import load_torch_state

LOGITS_LAYER, OUTPUT_LAYER = "logits", "probabilities"
# Trained in the frozen-backbone warm-up; everything else is the backbone.
HEAD_LAYERS = ("image", "avg_pool", "head_dropout", LOGITS_LAYER, OUTPUT_LAYER)


def preprocess_spec(family: str, input_size: int) -> PreprocessSpec:
    return get_family(family).preprocess_spec(input_size)


def build_model(
    family: str = "lite0",
    input_size: int = 48,
    weights: str = "none",
    dropout: float = 0.3,
    drop_connect_rate: float = 0.2,
):
    """A flat Keras classifier: spec-normalised input -> the family's backbone -> dropout -> logits -> softmax."""
    spec = get_family(family)
    start = parse_weights(weights, family, "keras")
    inputs = keras.Input(shape=spec.preprocess_spec(input_size).input_shape, name="image")
    features = spec.keras_backbone(spec, inputs, drop_connect_rate, start.source == "download")
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(features)
    x = keras.layers.Dropout(dropout, name="head_dropout")(x)
    logits = keras.layers.Dense(NUM_CLASSES, name=LOGITS_LAYER)(x)
    outputs = keras.layers.Activation("softmax", dtype="float32", name=OUTPUT_LAYER)(logits)
    model = keras.Model(inputs, outputs, name=f"edgefer_{family.replace('-', '_')}")
    if start.source == "imagenet":
        from .lite_weights import load_imagenet

        load_imagenet(model, family, head=HEAD_LAYERS)
    elif start.source == "file":
        load_weights_file(model, start.path)
    return model


def load_weights_file(model, path: str | os.PathLike) -> None:
    """Warm-start weights: a Keras .h5 (by layer name; the head is skipped if it differs),
    or a torch run's .safetensors (mapped onto this model, which must be the same family)."""
    path = Path(path)
    if path.is_dir():
        from .rundir import find_model_file

        path = find_model_file(path)[0]
    if not path.is_file():
        raise ConfigError(f"--weights {path}: no such file (or use none, imagenet, FAMILY-imagenet)")
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
