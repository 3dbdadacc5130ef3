"""Batch augmentation on the training device: the Keras pipeline's family plus real-camera damage.

Everything runs on whole batches of (B, 1, S, S) float faces in 0..255 with per-sample
random draws from one ``torch.Generator``, so the data never leaves the GPU and a
seed fixes every draw. The camera degradations (blur, sensor noise, JPEG blocking,
down-and-up scaling, gamma) are what small edge cameras do to faces.
"""

from __future__ import annotations

import math

from ..config import AugmentConfig
from .env import torch

F = torch.nn.functional


def _uniform(gen, shape, low, high, device):
    return torch.rand(shape, generator=gen, device=device) * (high - low) + low


def _chance(gen, p, batch, device):
    return (torch.rand((batch, 1, 1, 1), generator=gen, device=device) < p).float()


def _affine(x, aug: AugmentConfig, gen):
    b, device = x.shape[0], x.device
    theta = _uniform(gen, (b,), -1, 1, device) * math.radians(aug.rotation_deg)
    scale = 1.0 + _uniform(gen, (b,), -1, 1, device) * aug.zoom  # > 1 zooms in
    shift = _uniform(gen, (b, 2), -1, 1, device) * aug.shift * 2  # grid units: the side is 2 wide
    cos, sin = torch.cos(theta) / scale, torch.sin(theta) / scale
    matrix = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(matrix, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def _gaussian_kernel(sigma: float, device):
    radius = max(1, int(math.ceil(2 * sigma)))
    t = torch.arange(-radius, radius + 1, device=device, dtype=torch.float32)
    k = torch.exp(-(t**2) / (2 * sigma**2))
    return (k / k.sum()).view(1, 1, 1, -1)


def blur(x, sigma: float):
    k = _gaussian_kernel(sigma, x.device)
    pad = k.shape[-1] // 2
    x = F.conv2d(F.pad(x, (pad, pad, 0, 0), mode="reflect"), k)
    return F.conv2d(F.pad(x, (0, 0, pad, pad), mode="reflect"), k.transpose(2, 3))


def _dct_matrix(n: int, device):
    i = torch.arange(n, device=device, dtype=torch.float32)
    m = torch.cos(math.pi * (2 * i[None, :] + 1) * i[:, None] / (2 * n)) * math.sqrt(2 / n)
    m[0] /= math.sqrt(2)
    return m


# The JPEG standard's luminance quantization table (Annex K).
_JPEG_LUMA = (16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
              14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
              49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99)


def jpeg(x, quality):
    """JPEG's lossy step on 8x8 blocks: DCT, quantize with the quality-scaled table, inverse.

    `quality` is per sample, shape (B,); sides that are not multiples of 8 are padded.
    """
    b, _, h, w = x.shape
    ph, pw = -h % 8, -w % 8
    y = F.pad(x, (0, pw, 0, ph), mode="replicate") - 128.0
    blocks = y.unfold(2, 8, 8).unfold(3, 8, 8)  # (B, 1, H/8, W/8, 8, 8)
    d = _dct_matrix(8, x.device)
    coef = d @ blocks @ d.T
    q = quality.clamp(1, 100).view(b, 1, 1, 1, 1, 1)
    scale = torch.where(q < 50, 5000.0 / q, 200.0 - 2.0 * q) / 100.0
    table = (torch.tensor(_JPEG_LUMA, device=x.device, dtype=torch.float32).view(8, 8) * scale).floor().clamp(min=1)
    restored = d.T @ (torch.round(coef / table) * table) @ d
    out = restored.permute(0, 1, 2, 4, 3, 5).reshape(b, 1, h + ph, w + pw)[:, :, :h, :w]
    return out + 128.0


def _downscale(x, gen):
    size = x.shape[-1]
    low = max(8, int(round(size * float(_uniform(gen, (1,), 0.3, 0.7, x.device)))))
    small = F.interpolate(x, size=(low, low), mode="bilinear", align_corners=False, antialias=True)
    return F.interpolate(small, size=(size, size), mode="bilinear", align_corners=False)


def _blend(x, damaged, mask):
    return damaged * mask + x * (1 - mask)


def _camera(x, aug: AugmentConfig, gen):
    b, device = x.shape[0], x.device
    if aug.blur:
        x = _blend(x, blur(x, float(_uniform(gen, (1,), 0.5, 1.5, device))), _chance(gen, aug.blur, b, device))
    if aug.downscale:
        x = _blend(x, _downscale(x, gen), _chance(gen, aug.downscale, b, device))
    if aug.noise:
        sigma = _uniform(gen, (b, 1, 1, 1), 2, 16, device) * _chance(gen, aug.noise, b, device)
        x = x + torch.randn(x.shape, generator=gen, device=device) * sigma
    if aug.gamma:
        g = torch.exp(_uniform(gen, (b, 1, 1, 1), -0.5, 0.5, device))
        x = _blend(x, 255.0 * (x.clamp(0, 255) / 255.0) ** g, _chance(gen, aug.gamma, b, device))
    if aug.jpeg:
        x = _blend(x, jpeg(x.clamp(0, 255), _uniform(gen, (b,), 15, 60, device)), _chance(gen, aug.jpeg, b, device))
    return x


def _erase(x, p: float, gen):
    b, _, h, w = x.shape
    device = x.device
    area = _uniform(gen, (b,), 0.02, 0.25, device) * h * w
    ratio = torch.exp(_uniform(gen, (b,), math.log(0.3), math.log(3.3), device))
    eh = (area * ratio).sqrt().clamp(1, h)
    ew = (area / ratio).sqrt().clamp(1, w)
    top = _uniform(gen, (b,), 0, 1, device) * (h - eh)
    left = _uniform(gen, (b,), 0, 1, device) * (w - ew)
    rows = torch.arange(h, device=device).view(1, h, 1)
    cols = torch.arange(w, device=device).view(1, 1, w)
    inside = ((rows >= top.view(b, 1, 1)) & (rows < (top + eh).view(b, 1, 1))
              & (cols >= left.view(b, 1, 1)) & (cols < (left + ew).view(b, 1, 1))).unsqueeze(1).float()
    mask = inside * _chance(gen, p, b, device)
    fill = _uniform(gen, (b, 1, 1, 1), 0, 255, device)
    return x * (1 - mask) + fill * mask


def augment(x, aug: AugmentConfig, gen):
    """(B, 1, S, S) float 0..255 -> augmented, same range."""
    b, device = x.shape[0], x.device
    if aug.flip:
        x = _blend(x, x.flip(-1), _chance(gen, 0.5, b, device))
    if aug.rotation_deg or aug.zoom or aug.shift:
        x = _affine(x, aug, gen)
    if aug.contrast:
        factor = 1.0 + _uniform(gen, (b, 1, 1, 1), -aug.contrast, aug.contrast, device)
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        x = (x - mean) * factor + mean
    if aug.brightness:
        x = x + _uniform(gen, (b, 1, 1, 1), -aug.brightness, aug.brightness, device) * 255.0
    x = _camera(x, aug, gen)
    if aug.erasing:
        x = _erase(x, aug.erasing, gen)
    return x.clamp(0, 255)


def mix(x, aug: AugmentConfig, gen):
    """Mixup or cutmix on a batch (probability aug.mixup): (x, partner order, weight of x)."""
    b, device = x.shape[0], x.device
    identity = torch.arange(b, device=device)
    if not aug.mixup or float(torch.rand((1,), generator=gen, device=device)) >= aug.mixup:
        return x, identity, 1.0
    perm = torch.randperm(b, generator=gen, device=device)
    lam = float(_uniform(gen, (1,), 0.3, 1.0, device))  # the weight of the batch's own faces
    if float(torch.rand((1,), generator=gen, device=device)) < 0.5:
        return x * lam + x[perm] * (1 - lam), perm, lam
    size = x.shape[-1]
    side = int(round(size * math.sqrt(1 - lam)))
    top, left = (int(v) for v in torch.randint(0, size - side + 1, (2,), generator=gen, device=device))
    out = x.clone()
    out[:, :, top : top + side, left : left + side] = x[perm, :, top : top + side, left : left + side]
    return out, perm, 1.0 - side * side / (size * size)
