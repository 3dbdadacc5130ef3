"""A torch-engine model as a scoring :class:`~edgefer.inference.Predictor`."""

from __future__ import annotations

import numpy as np

from ...metadata import ModelInfo
from .env import torch


class TorchPredictor:
    def __init__(self, model, info: ModelInfo, name: str, device) -> None:
        self.model, self.info, self.name, self.device = model, info, name, device

    @torch.no_grad()
    def raw(self, x: np.ndarray) -> np.ndarray:
        self.model.eval()
        batch = torch.from_numpy(np.ascontiguousarray(x)).to(self.device).permute(0, 3, 1, 2)
        return self.model(batch.contiguous(memory_format=torch.channels_last)).float().cpu().numpy()
