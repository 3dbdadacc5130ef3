"""The TensorFlow-free on-device runtime: load an edgefer ``.tflite`` and classify faces.

>>> from edgefer.runtime import EmotionClassifier
>>> clf = EmotionClassifier("model.tflite")       # or None for the shipped model
>>> clf.predict("face.png").label
>>> [(box, p.label) for box, p in clf.detect("group_photo.jpg")]

Nothing here imports TensorFlow; OpenCV is imported only for the Haar face detector and
video. The default face detector, BlazeFace, runs on the same TFLite interpreter.
"""

from .blazeface import BlazeFaceDetector, DetectedFace
from .classifier import EmotionClassifier, FaceDetection, Prediction, probabilities
from .faces import Box, FaceDetector, HaarFaceDetector
from .model import TFLiteModel, default_model_path
from .video import frames

__all__ = [
    "BlazeFaceDetector",
    "Box",
    "DetectedFace",
    "EmotionClassifier",
    "FaceDetection",
    "FaceDetector",
    "HaarFaceDetector",
    "Prediction",
    "TFLiteModel",
    "default_model_path",
    "frames",
    "probabilities",
]
