"""Training throughput of either engine: the input work alone, the bare model step, and both.

The bare step trains on one batch held in memory (no input work at all); the full run
trains as ``edgefer train`` does (gather, augmentation, preprocessing, class weights).
For the Keras engine the pipeline must reach >= 90% of the bare rate; for the torch
engine everything runs on the device, and the table adds the time of the 40-epoch recipe.

    python benchmarks/bench_train_throughput.py ../shared/data/fer2013/fer2013-dev.csv.gz --size 96
    python benchmarks/bench_train_throughput.py DATA --engine torch --size 64 --batch 512 --device cuda --bf16 --compile
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from edgefer.data import load_split
from edgefer.preprocessing import resize_faces
from edgefer.training.config import AugmentConfig

HEADER = ("| engine | model | input px | batch | device | input work alone img/s | bare step img/s "
          "| full step img/s | ratio | 40 epochs of Training |\n|---|---|---:|---:|---|---:|---:|---:|---:|---:|")


def keras_rates(args, ds) -> tuple[float, float, float]:
    from edgefer.training.keras_env import keras, tf
    from edgefer.training.keras_models import build_model, preprocess_spec
    from edgefer.training.pipeline import make_dataset

    spec = preprocess_spec(args.family, args.size)
    x = resize_faces(ds.images, args.size)
    model = build_model(args.family, args.size, "none")
    model.compile(keras.optimizers.AdamW(1e-4), keras.losses.CategoricalCrossentropy(label_smoothing=0.1))
    pipeline = make_dataset(x, ds.labels, spec, args.batch, training=True, sample_weights=np.ones(len(ds), np.float32),
                            augment=AugmentConfig()).repeat()
    xb, yb, wb = next(iter(pipeline))
    bare = tf.data.Dataset.from_tensors((xb, yb, wb)).repeat()

    def rate(data) -> float:
        model.fit(data, steps_per_epoch=3, epochs=1, verbose=0)  # trace and warm up
        start = time.perf_counter()
        model.fit(data, steps_per_epoch=args.steps, epochs=1, verbose=0)
        return args.steps * args.batch / (time.perf_counter() - start)

    start = time.perf_counter()
    it = iter(pipeline)
    for _ in range(args.steps):
        next(it)
    return args.steps * args.batch / (time.perf_counter() - start), rate(bare), rate(pipeline)


def torch_rates(args, ds) -> tuple[float, float, float]:
    from edgefer.families import get_family
    from edgefer.training.config import TrainConfig
    from edgefer.training.torch_engine.augment import augment, mix
    from edgefer.training.torch_engine.distributed import Cluster
    from edgefer.training.torch_engine.env import torch
    from edgefer.training.torch_engine.nets import model_input
    from edgefer.training.torch_engine.trainer import (
        _Data,
        _make_step,
        _Session,
        resolve_device,
    )

    config = TrainConfig(family=args.family, input_size=args.size, batch_size=args.batch, weights="none",
                         mixed_precision=args.bf16, compile=args.compile, device=args.device,
                         augment=AugmentConfig(erasing=0.25, mixup=0.2, blur=0.1, noise=0.1, jpeg=0.1,
                                               downscale=0.1, gamma=0.1))
    device = resolve_device(config.device)
    spec = get_family(args.family).preprocess_spec(args.size)
    faces = torch.from_numpy(resize_faces(ds.images, args.size)).to(device)
    labels = torch.from_numpy(ds.labels.astype(np.int64)).to(device)
    targets = torch.nn.functional.one_hot(labels, 7).float()
    data = _Data(faces, targets, labels, faces[:0], labels[:0], torch.ones(7, device=device))
    session = _Session(config, device, Cluster())
    session.model.train()
    step = _make_step(session, data)
    gen = torch.Generator(device=device).manual_seed(0)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    def batch():
        idx = torch.randint(0, len(faces), (args.batch,), generator=gen, device=device)
        x, perm, lam = mix(augment(faces[idx].unsqueeze(1).float(), config.augment, gen), config.augment, gen)
        return model_input(x, spec), targets[idx], perm, lam

    def timed(fn) -> float:
        for _ in range(3):
            fn()  # compile and warm up
        sync()
        start = time.perf_counter()
        for _ in range(args.steps):
            fn()
        sync()
        return args.steps * args.batch / (time.perf_counter() - start)

    fixed = batch()
    return timed(batch), timed(lambda: step(*fixed, None)), timed(lambda: step(*batch(), None))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data")
    parser.add_argument("--engine", choices=("keras", "torch"), default="keras")
    parser.add_argument("--family", default="lite0")
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--device", default="auto", help="torch engine: auto, cpu or cuda")
    parser.add_argument("--bf16", action="store_true", help="torch engine: bf16 autocast (CUDA)")
    parser.add_argument("--compile", action="store_true", help="torch engine: torch.compile the step")
    args = parser.parse_args()

    ds = load_split(args.data, "Training")
    rates = torch_rates(args, ds) if args.engine == "torch" else keras_rates(args, ds)
    input_only, bare, full = rates
    device = args.device if args.engine == "torch" else "tf"
    print(HEADER)
    print(f"| {args.engine} | {args.family} | {args.size} | {args.batch} | {device} | {input_only:.0f} | {bare:.1f} "
          f"| {full:.1f} | {full / bare:.2f} | {40 * len(ds) / full:.0f} s |")


if __name__ == "__main__":
    main()
