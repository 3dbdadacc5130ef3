"""Distillation teachers: finished torch-engine runs scoring the student's augmented batch."""

from __future__ import annotations

from ...errors import ConfigError
from ...labels import LABELS
from ..rundir import load_run
from .env import torch
from .nets import build_model, load_weights, model_input

F = torch.nn.functional


class Teachers:
    """The mean of several teachers' flip-averaged probabilities, on the training device."""

    def __init__(self, run_dirs: tuple[str, ...], device) -> None:
        self.members = []
        for run_dir in run_dirs:
            run = load_run(run_dir)
            if tuple(run.info.labels) != LABELS:
                raise ConfigError(f"--teacher {run_dir}: labels {list(run.info.labels)} differ from {list(LABELS)}")
            if run.engine != "torch" or run.config is None:
                raise ConfigError(f"--teacher {run_dir}: not a torch-engine run directory (train it with --engine torch)")
            model = build_model(run.config.family, "none", run.config.dropout, 0.0)
            load_weights(model, run.model_file)
            model.to(device).eval().requires_grad_(False)
            self.members.append((model, run.info.preprocess))

    @torch.no_grad()
    def probabilities(self, faces, temperature: float):
        """(B, 1, S, S) augmented faces in 0..255 -> (B, 7) soft targets at `temperature`."""
        total = 0.0
        for model, spec in self.members:
            x = faces
            if x.shape[-1] != spec.input_size:
                x = F.interpolate(x, size=(spec.input_size,) * 2, mode="bilinear", align_corners=False)
            x = model_input(x, spec)
            logits = (model(x) + model(x.flip(-1))) / 2
            total = total + F.softmax(logits.float() / temperature, dim=1)
        return total / len(self.members)
