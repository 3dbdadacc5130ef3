"""edgefer classifiers in PyTorch: a timm ``tf_`` backbone, the family's input scaling, a 7-way head.

The layout mirrors the Keras twin (:func:`edgefer.training.keras_models.build_model`):
input scaling, backbone, global average pool, dropout, ``logits``. State-dict order
follows the network, which is what :mod:`edgefer.training.transfer` relies on.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...errors import ConfigError, ModelError
from ...families import Family, get_family
from ...labels import NUM_CLASSES
from .. import tensorfile
from ..pretrained import imagenet_backbone, parse_weights
from ..rundir import find_model_file
from .env import timm, torch

nn = torch.nn

class EdgeferNet(nn.Module):
    def __init__(self, family: Family, dropout: float = 0.3, drop_connect_rate: float = 0.2) -> None:
        super().__init__()
        self.family = family
        # Fixed, not saved: they follow from the family (the Keras twin's in-graph layers).
        self.register_buffer("in_scale", torch.tensor(family.in_graph.scale).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("in_offset", torch.tensor(family.in_graph.offset).view(1, 3, 1, 1), persistent=False)
        self.backbone = timm.create_model(family.timm_name, pretrained=False, num_classes=0,
                                          drop_path_rate=drop_connect_rate)
        self.dropout = nn.Dropout(dropout)
        self.logits = nn.Linear(self.backbone.num_features, NUM_CLASSES)

    def forward(self, x):
        """(N, 3, S, S) inputs scaled by the model's PreprocessSpec -> (N, 7) logits."""
        return self.logits(self.dropout(self.backbone(x * self.in_scale + self.in_offset)))

    def head_parameters(self):
        return self.logits.parameters()


def model_input(faces, spec):
    """(B, 1, S, S) float faces in 0..255 -> the model's input, channels-last:
    :func:`edgefer.preprocessing.model_input` on device tensors."""
    return spec.normalize(faces.expand(-1, spec.channels, -1, -1)).contiguous(memory_format=torch.channels_last)


def build_model(family_name: str, weights: str = "none", dropout: float = 0.3,
                drop_connect_rate: float = 0.2) -> EdgeferNet:
    start = parse_weights(weights, family_name, "torch")
    model = EdgeferNet(get_family(family_name), dropout, drop_connect_rate)
    if start.source == "imagenet":
        load_imagenet(model)
    elif start.source == "file":
        load_weights(model, Path(start.path))
    return model


def load_imagenet(model: EdgeferNet) -> int:
    """The family's offline ImageNet weights (the cache or the package) onto the timm backbone.

    The weights' state dict (lukemelas layout for Lite) lists the same tensors as timm's, in
    the same order with the same shapes, so they are matched in order and shape-checked.
    """
    family = model.family
    source = imagenet_backbone(family.name)
    own = model.backbone.state_dict()
    target = [k for k in own if not k.endswith("num_batches_tracked")]
    if len(source) != len(target):
        raise ModelError(f"{family.name}: {len(source)} ImageNet tensors for {len(target)} in the timm model")
    state = {}
    for (src_name, value), name in zip(source.items(), target):
        if value.shape != tuple(own[name].shape):
            raise ModelError(f"{family.name}: ImageNet tensor {src_name} {value.shape} does not fit {name} "
                             f"{tuple(own[name].shape)}")
        state[name] = torch.from_numpy(np.ascontiguousarray(value, dtype=np.float32))
    model.backbone.load_state_dict(state, strict=False)
    return len(state)


def state_arrays(model: EdgeferNet, dtype=np.float32) -> dict[str, np.ndarray]:
    """The model's tensors as NumPy arrays, in network order (BatchNorm counters dropped)."""
    return {k: v.detach().float().cpu().numpy().astype(dtype) for k, v in model.state_dict().items()
            if not k.endswith("num_batches_tracked")}


def save_weights(model: EdgeferNet, path, dtype=np.float32) -> None:
    tensorfile.save_model_weights(path, state_arrays(model, dtype), model.family.name)


def load_weights(model: EdgeferNet, path) -> None:
    """Warm start from a torch run (its directory or weights file) of the same family."""
    path = Path(path)
    if path.is_dir():
        path, engine = find_model_file(path)
        if engine != "torch":
            raise ConfigError(f"{path}: a Keras run; the torch engine starts from torch runs (or --weights none)")
    tensors = tensorfile.load_model_weights(path, model.family.name)
    own = model.state_dict()
    missing = [k for k in own if k not in tensors and not k.endswith("num_batches_tracked")]
    if missing:
        raise ModelError(f"{path}: {len(missing)} tensors missing, e.g. {missing[0]}")
    for name, value in tensors.items():
        if name not in own or tuple(own[name].shape) != value.shape:
            raise ModelError(f"{path}: tensor {name} {value.shape} does not fit this model")
    model.load_state_dict({k: torch.from_numpy(v.astype(np.float32)) for k, v in tensors.items()}, strict=False)
