import numpy as np
import pytest
from PIL import Image

from edgefer.errors import ConfigError, DataError
from edgefer.preprocessing import PreprocessSpec, model_input, to_face


@pytest.mark.parametrize(
    "image",
    [
        np.full((48, 48), 200, np.uint8),
        np.full((120, 90, 3), 200, np.uint8),
        np.dstack([np.full((30, 30, 3), 200, np.uint8), np.full((30, 30), 255, np.uint8)]),  # opaque RGBA
        np.full((64, 64, 1), 200, np.uint8),
        np.full((48, 48), 200 / 255, np.float32),
        Image.new("RGB", (300, 200), (200, 200, 200)),
        Image.new("P", (50, 50)),
    ],
    ids=["gray48", "rgb", "rgba", "hw1", "float01", "pil-rgb", "pil-palette"],
)
def test_any_image_becomes_a_48x48_uint8_face(image):
    face = to_face(image)
    assert face.shape == (48, 48) and face.dtype == np.uint8
    if not (isinstance(image, Image.Image) and image.mode == "P"):
        assert abs(int(face.mean()) - 200) <= 1


def test_face_from_file_and_bad_files(tmp_path):
    Image.new("L", (48, 48), 77).save(tmp_path / "f.png")
    assert (to_face(tmp_path / "f.png") == 77).all()
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8garbage")
    with pytest.raises(DataError, match="bad.jpg: not a readable image"):
        to_face(tmp_path / "bad.jpg")
    with pytest.raises(DataError, match="no such image"):
        to_face(tmp_path / "missing.png")


@pytest.mark.parametrize(
    "array, message",
    [
        (np.zeros((2, 48, 48, 3), np.uint8), "shape"),
        (np.zeros((48, 48, 2), np.uint8), "shape"),
        (np.zeros((48, 48), np.complex64), "dtype"),
        (np.full((48, 48), np.nan, np.float32), "NaN"),
        (np.full((48, 48), 1000, np.int32), "0..255"),
    ],
)
def test_bad_arrays_are_refused(array, message):
    with pytest.raises(DataError, match=message):
        to_face(array)


def test_model_input_resizes_replicates_and_scales():
    spec = PreprocessSpec(input_size=96, channels=3, mean=127.0, std=128.0)
    x = model_input(np.full((2, 48, 48), 255, np.uint8), spec)
    assert x.shape == (2, 96, 96, 3) and x.dtype == np.float32
    np.testing.assert_allclose(x, (255 - 127) / 128)
    raw = model_input(np.full((1, 48, 48), 10, np.uint8), PreprocessSpec(input_size=48, mean=0.0, std=1.0))
    np.testing.assert_allclose(raw, 10.0)


def test_spec_round_trips_and_validates():
    spec = PreprocessSpec(input_size=112, channels=1, mean=0.5, std=2.0)
    assert PreprocessSpec.from_dict(spec.to_dict()) == spec
    with pytest.raises(ConfigError):
        PreprocessSpec(input_size=8)
    with pytest.raises(ConfigError, match="unknown"):
        PreprocessSpec.from_dict({"size": 3})
