"""The PyTorch engine of ``edgefer train`` (the ``torch`` extra): timm models, on-device data.

It never imports TensorFlow; its run directory is read by the Keras side through
:mod:`edgefer.training.transfer`, so export and parity need no torch.
"""
