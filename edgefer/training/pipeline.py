"""tf.data input pipeline: seeded shuffling, batched augmentation, the shared preprocessing.

Faces are resized to the model size once, with the shared (Pillow) definition, and
kept as uint8; batches are gathered by index, augmented on the whole batch at once
and scaled with :meth:`PreprocessSpec.normalize`, so the pipeline stays far ahead of
the model step on two cores.
"""

from __future__ import annotations

import math

import numpy as np

from ..labels import NUM_CLASSES
from ..preprocessing import PreprocessSpec
from .config import AugmentConfig
from .keras_env import tf


def affine_transforms(batch: int, size: int, aug: AugmentConfig, seed) -> "tf.Tensor":
    """Per-sample rotation/zoom/shift as (batch, 8) projective transforms (output -> input)."""
    u = tf.random.stateless_uniform((batch, 4), seed=seed, minval=-1.0, maxval=1.0)
    theta = u[:, 0] * (aug.rotation_deg * math.pi / 180.0)
    scale = 1.0 + u[:, 1] * aug.zoom  # > 1 zooms in
    tx, ty = u[:, 2] * aug.shift * size, u[:, 3] * aug.shift * size
    c = (size - 1) / 2.0
    a0, a1 = tf.cos(theta) / scale, -tf.sin(theta) / scale
    b0, b1 = tf.sin(theta) / scale, tf.cos(theta) / scale
    a2 = c - a0 * c - a1 * c - tx
    b2 = c - b0 * c - b1 * c - ty
    zeros = tf.zeros_like(a0)
    return tf.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)


def augment_batch(images, aug: AugmentConfig, seed):
    """(B, S, S, 1) float32 in 0..255 -> augmented, same range."""
    seeds = tf.random.experimental.stateless_split(seed, 4)
    batch, size = tf.shape(images)[0], images.shape[1]
    if aug.flip:
        flip = tf.random.stateless_uniform((batch, 1, 1, 1), seed=seeds[0]) < 0.5
        images = tf.where(flip, tf.image.flip_left_right(images), images)
    if aug.rotation_deg or aug.zoom or aug.shift:
        images = tf.raw_ops.ImageProjectiveTransformV3(
            images=images,
            transforms=affine_transforms(batch, size, aug, seeds[1]),
            output_shape=tf.shape(images)[1:3],
            fill_value=0.0,
            interpolation="BILINEAR",
            fill_mode="REFLECT",
        )
    if aug.contrast:
        factor = 1.0 + tf.random.stateless_uniform((batch, 1, 1, 1), seed=seeds[2], minval=-aug.contrast, maxval=aug.contrast)
        mean = tf.reduce_mean(images, axis=[1, 2, 3], keepdims=True)
        images = (images - mean) * factor + mean
    if aug.brightness:
        delta = tf.random.stateless_uniform((batch, 1, 1, 1), seed=seeds[3], minval=-aug.brightness, maxval=aug.brightness)
        images = images + delta * 255.0
    return tf.clip_by_value(images, 0.0, 255.0)


def to_model_input(images, spec: PreprocessSpec):
    """(B, S, S, 1) float 0..255 -> normalised (B, S, S, C): the TF twin of preprocessing.model_input."""
    if spec.channels > 1:
        images = tf.repeat(images, spec.channels, axis=-1)
    return spec.normalize(images)


def make_dataset(
    images: np.ndarray,
    targets: np.ndarray,
    spec: PreprocessSpec,
    batch_size: int,
    *,
    training: bool,
    seed: int = 0,
    sample_weights: np.ndarray | None = None,
    augment: AugmentConfig | None = None,
):
    """Batches of (x, target, sample weight) from uint8 (N, S, S) faces already at model size.

    `targets`: class indices (N,) or soft targets (N, 7) (edgefer.training.targets); the
    batches carry probability rows either way.
    """
    if images.shape[1:] != (spec.input_size, spec.input_size):
        raise ValueError(f"images are {images.shape[1:]}, the spec wants {spec.input_size}")
    n = len(images)
    weights = np.ones(n, np.float32) if sample_weights is None else sample_weights.astype(np.float32)
    soft = (np.eye(NUM_CLASSES, dtype=np.float32)[targets] if targets.ndim == 1 else targets).astype(np.float32)

    def gather(index):
        return images[index], soft[index], weights[index]

    def load(index):
        x, y, w = tf.numpy_function(gather, [index], (tf.uint8, tf.float32, tf.float32), stateful=False)
        x = tf.reshape(x, (-1, spec.input_size, spec.input_size, 1))
        return tf.cast(x, tf.float32), tf.reshape(y, (-1, NUM_CLASSES)), tf.reshape(w, (-1,))

    ds = tf.data.Dataset.range(n)
    if training:
        ds = ds.shuffle(n, seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size, drop_remainder=training and n >= batch_size).map(load)
    if training and augment is not None:
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
        ds = tf.data.Dataset.zip((ds, seeds)).map(
            lambda xyw, s: (augment_batch(xyw[0], augment, s), xyw[1], xyw[2]),
            num_parallel_calls=tf.data.AUTOTUNE,
        )

    def finish(x, y, w):
        if sample_weights is None:
            return to_model_input(x, spec), y
        return to_model_input(x, spec), y, w

    ds = ds.map(finish, num_parallel_calls=tf.data.AUTOTUNE)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return ds.with_options(options).prefetch(tf.data.AUTOTUNE)
