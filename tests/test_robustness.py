"""The robustness suite: shapes, determinism and the direction of every shift (no models, no data)."""

from __future__ import annotations

import numpy as np
import pytest

from edgefer import robustness
from edgefer.robustness import SHIFTS, shift_rng, shifted


def _faces(n: int = 6, seed: int = 0) -> np.ndarray:
    """Face-like test images: a smooth gradient, dark 'eyes' and 'mouth', fine texture."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:48, 0:48].astype(np.float64)
    out = []
    for _ in range(n):
        base = 90 + 80 * np.exp(-((yy - 24) ** 2 + (xx - 24) ** 2) / (2 * rng.uniform(12, 18) ** 2))
        for cy, cx, r in ((18, 16, 3), (18, 32, 3), (34, 24, 5)):
            base[(yy - cy) ** 2 + (xx - cx) ** 2 <= r * r] -= 60
        base += rng.normal(0, 6, base.shape)  # texture: high-frequency energy to remove
        out.append(base)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _high_freq(faces: np.ndarray) -> float:
    x = faces.astype(np.float64)
    return float(np.abs(np.diff(x, axis=1)).mean() + np.abs(np.diff(x, axis=2)).mean())


FACES = _faces()


def test_registry_order_and_names():
    assert list(SHIFTS) == ["clean", "jpeg_q20", "blur_r1", "noise_s12", "down_up_24",
                            "darker_60", "contrast_0.5", "rotate_12", "shift_4px"]


@pytest.mark.parametrize("name", list(SHIFTS))
def test_shape_dtype_and_input_untouched(name):
    before = FACES.copy()
    out = shifted(name, FACES)
    assert out.shape == FACES.shape and out.dtype == np.uint8
    assert out is not FACES
    np.testing.assert_array_equal(FACES, before)


@pytest.mark.parametrize("name", list(SHIFTS))
def test_deterministic_for_a_seed(name):
    np.testing.assert_array_equal(shifted(name, FACES, seed=3), shifted(name, FACES, seed=3))
    np.testing.assert_array_equal(SHIFTS[name](FACES, shift_rng(name, 3)), shifted(name, FACES, seed=3))


def test_random_shifts_depend_on_the_seed():
    faces = _faces(32)
    for name in ("noise_s12", "rotate_12", "shift_4px"):
        assert not np.array_equal(shifted(name, faces, seed=0), shifted(name, faces, seed=1)), name


@pytest.mark.parametrize("name", [n for n in SHIFTS if n != "clean"])
def test_every_shift_changes_the_image(name):
    assert not np.array_equal(shifted(name, FACES), FACES)


def test_clean_is_identity():
    np.testing.assert_array_equal(shifted("clean", FACES), FACES)


def test_jpeg_differs_but_stays_close():
    out = shifted("jpeg_q20", FACES)
    err = np.abs(out.astype(np.int16) - FACES).mean()
    assert 0.5 < err < 12


def test_blur_lowers_high_frequency_energy():
    assert _high_freq(shifted("blur_r1", FACES)) < 0.6 * _high_freq(FACES)


def test_down_up_lowers_high_frequency_energy():
    assert _high_freq(shifted("down_up_24", FACES)) < 0.8 * _high_freq(FACES)


def test_noise_has_the_stated_sigma_and_no_bias():
    flat = np.full((20, 48, 48), 128, np.uint8)
    diff = shifted("noise_s12", flat).astype(np.float64) - 128
    assert abs(diff.mean()) < 0.5
    assert abs(diff.std() - robustness.NOISE_SIGMA) < 0.5


def test_darker_lowers_the_mean_and_clips_at_zero():
    out = shifted("darker_60", FACES)
    np.testing.assert_array_equal(out, np.clip(FACES.astype(np.int16) - 60, 0, 255).astype(np.uint8))
    assert out.mean() < FACES.mean() - 50
    assert shifted("darker_60", np.full((1, 48, 48), 30, np.uint8)).max() == 0


def test_contrast_halves_the_spread_and_keeps_the_mean():
    out = shifted("contrast_0.5", FACES).astype(np.float64)
    x = FACES.astype(np.float64)
    np.testing.assert_allclose(out.std(axis=(1, 2)), 0.5 * x.std(axis=(1, 2)), rtol=0.05)
    np.testing.assert_allclose(out.mean(axis=(1, 2)), x.mean(axis=(1, 2)), atol=0.6)


def test_rotation_turns_a_bar_by_12_degrees():
    bar = np.zeros((1, 48, 48), np.uint8)
    bar[0, 22:26, 4:44] = 255  # a horizontal bar through the centre
    out = shifted("rotate_12", bar)[0].astype(np.float64)
    yy, xx = np.nonzero(out > 127)
    slope = np.polyfit(xx, yy, 1)[0]
    assert abs(abs(np.degrees(np.arctan(slope))) - 12) < 1.5
    # the centre stays put
    assert out[23:25, 23:25].min() > 200


def test_rotation_keeps_a_constant_image_constant():
    flat = np.full((4, 48, 48), 77, np.uint8)
    np.testing.assert_array_equal(shifted("rotate_12", flat), flat)


def test_shift_moves_content_by_4_pixels_along_one_axis():
    dot = np.zeros((16, 48, 48), np.uint8)
    dot[:, 20, 30] = 255
    out = shifted("shift_4px", dot)
    for face in out:
        (y,), (x,) = np.nonzero(face == 255)
        assert abs(y - 20) + abs(x - 30) == 4 and (y == 20 or x == 30)


def test_rejects_non_faces():
    with pytest.raises(ValueError):
        shifted("darker_60", FACES.astype(np.float32))
    with pytest.raises(KeyError):
        shifted("fog", FACES)
