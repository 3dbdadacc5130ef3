"""EfficientNet-Lite in Keras, built flat and without squeeze-excite.

EfficientNet-Lite (Google, 2020) is the edge variant of EfficientNet: no squeeze-excite,
ReLU6, stem and head not scaled, inputs scaled as (x - 127) / 128. It has no Multiply,
Rescaling or Normalization layers, so tfmot quantizes it as it is, and ReLU6 keeps
activation ranges tight for int8.

Convolutions use TensorFlow "same" padding, which is what the official weights were
trained with (tf-keras's application builder pads stride-2 convolutions differently
for odd input sizes).
"""

from __future__ import annotations

import math

from .keras_env import keras

# (repeats, kernel, stride, expand_ratio, filters_in, filters_out), EfficientNet-B0 baseline.
_BASE_BLOCKS = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
STEM_FILTERS, HEAD_FILTERS = 32, 1280
BN_EPSILON, BN_MOMENTUM = 1e-3, 0.99


def _round_filters(filters: int, width: float, divisor: int = 8) -> int:
    filters *= width
    new = max(divisor, int(filters + divisor / 2) // divisor * divisor)
    if new < 0.9 * filters:
        new += divisor
    return int(new)


def block_plan(width: float, depth: float) -> list[tuple[int, int, int, int, int]]:
    """One (kernel, stride, expand, filters_in, filters_out) per block, after scaling
    (edgefer.families holds each Lite variant's width and depth)."""
    plan = []
    last = len(_BASE_BLOCKS) - 1
    for stage, (repeats, kernel, stride, expand, f_in, f_out) in enumerate(_BASE_BLOCKS):
        f_in = STEM_FILTERS if stage == 0 else _round_filters(f_in, width)
        f_out = _round_filters(f_out, width)
        # Lite keeps the first and last stage at their base depth.
        n = repeats if stage in (0, last) else int(math.ceil(depth * repeats))
        for i in range(n):
            plan.append((kernel, stride if i == 0 else 1, expand, f_in if i == 0 else f_out, f_out))
    return plan


def _conv_bn(x, filters, kernel, stride, name, activation=True, depthwise=False):
    layers = keras.layers
    if depthwise:
        x = layers.DepthwiseConv2D(kernel, stride, padding="same", use_bias=False, name=f"{name}conv")(x)
    else:
        x = layers.Conv2D(filters, kernel, stride, padding="same", use_bias=False, name=f"{name}conv")(x)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, momentum=BN_MOMENTUM, name=f"{name}bn")(x)
    if activation:
        x = layers.ReLU(6.0, name=f"{name}relu6")(x)
    return x


def lite_backbone(inputs, width: float, depth: float, drop_connect_rate: float = 0.2):
    """Flat EfficientNet-Lite feature extractor on `inputs`; returns the 1280-channel map."""
    plan = block_plan(width, depth)
    x = _conv_bn(inputs, STEM_FILTERS, 3, 2, "stem_")
    for b, (kernel, stride, expand, f_in, f_out) in enumerate(plan):
        shortcut = x
        p = f"block{b}_"
        if expand != 1:
            x = _conv_bn(x, f_in * expand, 1, 1, p + "expand_")
        x = _conv_bn(x, None, kernel, stride, p + "dw_", depthwise=True)
        x = _conv_bn(x, f_out, 1, 1, p + "project_", activation=False)
        if stride == 1 and f_in == f_out:
            rate = drop_connect_rate * b / len(plan)
            if rate > 0:
                # Stochastic depth: drops the whole residual branch per sample.
                x = keras.layers.Dropout(rate, noise_shape=(None, 1, 1, 1), name=p + "drop")(x)
            x = keras.layers.Add(name=p + "add")([x, shortcut])
    return _conv_bn(x, HEAD_FILTERS, 1, 1, "top_")

