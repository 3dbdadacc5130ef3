"""edgefer: facial-emotion recognition with EfficientNet, from training to int8 on the edge.

The base package (this module, ``edgefer.runtime``, data, preprocessing, metrics) never
imports TensorFlow; training and export live in ``edgefer.training`` and ``edgefer.export``
and need the ``train`` extra.
"""

from .labels import LABELS, NUM_CLASSES
from .preprocessing import PreprocessSpec

__version__ = "0.1.0"

__all__ = ["LABELS", "NUM_CLASSES", "PreprocessSpec", "__version__"]
