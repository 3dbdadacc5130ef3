"""Training throughput: the full edgefer input pipeline vs the bare model step.

The bare step trains on one batch held in memory (no input work at all); the pipeline
run trains exactly as ``edgefer train`` does (gather, augmentation, preprocessing,
class weights). The pipeline must reach >= 90% of the bare rate.

    python benchmarks/bench_train_throughput.py ../shared/data/fer2013/fer2013-dev.csv.gz --size 96
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from edgefer.data import load_split
from edgefer.preprocessing import resize_faces
from edgefer.training.config import AugmentConfig
from edgefer.training.keras_env import keras, tf
from edgefer.training.models import build_model, preprocess_spec
from edgefer.training.pipeline import make_dataset


def _rate(model, data, steps: int, batch: int) -> float:
    model.fit(data, steps_per_epoch=3, epochs=1, verbose=0)  # trace and warm up
    start = time.perf_counter()
    model.fit(data, steps_per_epoch=steps, epochs=1, verbose=0)
    return steps * batch / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("data")
    parser.add_argument("--family", default="lite0")
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=40)
    args = parser.parse_args()

    ds = load_split(args.data, "Training")
    spec = preprocess_spec(args.family, args.size)
    x = resize_faces(ds.images, args.size)
    weights = np.ones(len(ds), np.float32)
    model = build_model(args.family, args.size, "none")
    model.compile(keras.optimizers.AdamW(1e-4), keras.losses.CategoricalCrossentropy(label_smoothing=0.1),
                  metrics=["accuracy"])

    pipeline = make_dataset(x, ds.labels, spec, args.batch, training=True, sample_weights=weights,
                            augment=AugmentConfig()).repeat()
    xb, yb, wb = next(iter(pipeline))
    bare = tf.data.Dataset.from_tensors((xb, yb, wb)).repeat()

    start = time.perf_counter()
    it = iter(pipeline)
    for _ in range(args.steps):
        next(it)
    input_only = args.steps * args.batch / (time.perf_counter() - start)
    bare_rate = _rate(model, bare, args.steps, args.batch)
    pipe_rate = _rate(model, pipeline, args.steps, args.batch)
    print("| model | input px | batch | input pipeline alone img/s | bare step img/s | full pipeline img/s | ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    print(f"| {args.family} | {args.size} | {args.batch} | {input_only:.0f} | {bare_rate:.1f} | {pipe_rate:.1f} "
          f"| {pipe_rate / bare_rate:.2f} |")


if __name__ == "__main__":
    main()
