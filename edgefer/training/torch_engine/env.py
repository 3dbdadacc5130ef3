"""torch and timm for the torch engine, with a one-line error where they are missing."""

from __future__ import annotations

import sys

from ...errors import ConfigError

if "tensorflow" in sys.modules and "torch" not in sys.modules:
    # torchvision (imported by timm) crashes the process when loaded after TensorFlow.
    raise ConfigError("the torch engine must be imported before TensorFlow in one process; "
                      "import edgefer.training.torch_engine first, or use a separate process")

try:
    import timm
    import torch
except ImportError as exc:
    raise ConfigError(f"--engine torch needs the torch extra ({exc.name} is missing): "
                      "pip install 'edgefer[torch]'") from None

__all__ = ["timm", "torch"]
