"""Data-parallel training across processes (``--distribute ddp`` under torchrun).

NCCL between GPUs, gloo on CPUs. Every rank draws the same epoch order and trains on
its slice of each global batch; gradients are averaged, so weights stay identical.
The chief (rank 0) writes the run directory; the others keep their final weights in
``worker-N/`` beside it, which is how a test checks that the ranks agree.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ...errors import ConfigError
from ..config import TrainConfig
from .env import torch


@dataclass(frozen=True)
class Cluster:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def chief(self) -> bool:
        return self.rank == 0

    def start(self, device) -> None:
        if self.world > 1:
            backend = "nccl" if device.type == "cuda" else "gloo"
            torch.distributed.init_process_group(backend, rank=self.rank, world_size=self.world)

    def stop(self) -> None:
        if self.world > 1 and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()

    def wrap(self, model, device, frozen_phase: bool):
        """DDP around `model`; `frozen_phase`: some epochs train the head alone, so DDP must
        expect parameters without gradients."""
        if self.world == 1:
            return model
        ids = [device.index] if device.type == "cuda" else None
        return torch.nn.parallel.DistributedDataParallel(model, device_ids=ids, find_unused_parameters=frozen_phase)


    def sync_buffers(self, *models) -> None:
        """The chief's BatchNorm statistics on every rank (each rank saw other faces)."""
        if self.world == 1:
            return
        for model in models:
            for buffer in model.buffers():
                torch.distributed.broadcast(buffer, src=0)


def cluster(config: TrainConfig) -> Cluster:
    if config.distribute != "ddp":
        return Cluster()
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        raise ConfigError("--distribute ddp runs under torchrun, e.g. "
                          "torchrun --nproc_per_node 2 -m edgefer train --engine torch --distribute ddp ...")
    found = Cluster(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ.get("LOCAL_RANK", 0)))
    if config.batch_size % found.world:
        raise ConfigError(f"--batch-size {config.batch_size} must split evenly over {found.world} workers")
    return found
