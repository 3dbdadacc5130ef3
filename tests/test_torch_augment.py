"""On-device augmentation of the torch engine: deterministic, in range, doing what it says."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("timm")


def _faces(n=8, size=48):
    gen = torch.Generator().manual_seed(0)
    return torch.rand((n, 1, size, size), generator=gen) * 255


def test_augment_is_seeded_and_stays_in_range():
    from edgefer.training.config import AugmentConfig
    from edgefer.training.torch_engine.augment import augment

    aug = AugmentConfig(erasing=0.5, blur=0.5, noise=0.5, jpeg=0.5, downscale=0.5, gamma=0.5)
    a = augment(_faces(), aug, torch.Generator().manual_seed(1))
    b = augment(_faces(), aug, torch.Generator().manual_seed(1))
    c = augment(_faces(), aug, torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.shape == (8, 1, 48, 48) and float(a.min()) >= 0 and float(a.max()) <= 255


def test_jpeg_keeps_smooth_images_and_loses_detail_at_low_quality():
    from edgefer.training.torch_engine.augment import jpeg

    x = _faces(2)
    smooth = torch.linspace(0, 255, 48).view(1, 1, 1, 48).expand(2, 1, 48, 48)
    assert float((jpeg(smooth, torch.tensor([95.0, 95.0])) - smooth).abs().mean()) < 3
    high = (jpeg(x, torch.tensor([95.0, 95.0])) - x).abs().mean()
    low = (jpeg(x, torch.tensor([10.0, 10.0])) - x).abs().mean()
    assert float(low) > float(high)


def test_blur_lowers_high_frequency_energy():
    from edgefer.training.torch_engine.augment import blur

    x = _faces(2)
    detail = lambda t: float((t[..., 1:] - t[..., :-1]).abs().mean())  # noqa: E731
    assert detail(blur(x, 1.0)) < 0.5 * detail(x)


def test_mix_returns_a_partner_order_and_weight():
    from edgefer.training.config import AugmentConfig
    from edgefer.training.torch_engine.augment import mix

    x = _faces()
    mixed, perm, lam = mix(x, AugmentConfig(mixup=1.0), torch.Generator().manual_seed(0))
    assert sorted(perm.tolist()) == list(range(8)) and 0 < lam < 1
    same, identity, one = mix(x, AugmentConfig(mixup=0.0), torch.Generator().manual_seed(0))
    assert same is x and one == 1.0 and identity.tolist() == list(range(8))


def test_schedule_matches_the_keras_engine():
    from edgefer.training.config import TrainConfig
    from edgefer.training.recipe import scheduled_lr as lr_at

    config = TrainConfig(epochs=4, warmup_epochs=1, lr=1e-3, warmup_lr=5e-4)
    steps = 10
    assert lr_at(config, 0, steps) == 5e-4  # head-only warm-up
    assert lr_at(config, 10, steps) == pytest.approx(1e-4)  # cosine warm-up starts at lr / 10
    assert lr_at(config, 13, steps) == pytest.approx(1e-3)  # peak after the warm-up steps
    assert lr_at(config, 40, steps) == pytest.approx(1e-5)  # down to lr / 100 at the end
    assert np.all(np.diff([lr_at(config, s, steps) for s in range(13, 40)]) <= 0)
