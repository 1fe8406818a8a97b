"""A tiny TorchScript stand-in for big-lama with the published calling convention, for offline tests.

``model(image, mask)``: image float (1, 3, H, W) RGB in [0, 1], mask float (1, 1, H, W) in {0, 1}, H and W multiples
of 8; returns (1, 3, H, W) in [0, 1]. The scripted model refuses any input that breaks the convention, so a test
fails if the remover forgets to pad, to scale pixels to [0, 1] or to binarise the mask. Like LaMa it sees the image
with the hole blanked plus the mask, and has a global Fourier branch (LaMa's FFC), so FFTs go through TorchScript
on the same path. Weights are random: its fill is noise-like but deterministic.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn


class TinyLama(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.local = nn.Conv2d(4, 8, 3, padding=1)
        self.spectral = nn.Conv2d(16, 16, 1)  # real and imaginary parts of 8 channels, mixed per frequency
        self.out = nn.Conv2d(8, 3, 3, padding=1)

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if image.shape[-2] % 8 != 0 or image.shape[-1] % 8 != 0:
            raise ValueError("image height and width must be multiples of 8")
        if image.shape[1] != 3 or mask.shape[1] != 1 or image.shape[-2:] != mask.shape[-2:]:
            raise ValueError("expected image (N, 3, H, W) and mask (N, 1, H, W)")
        if bool(image.min() < 0.0) or bool(image.max() > 1.0):
            raise ValueError("image values must be in [0, 1]")
        if not bool(((mask == 0.0) | (mask == 1.0)).all()):
            raise ValueError("mask values must be 0 or 1")
        features = torch.relu(self.local(torch.cat([image * (1.0 - mask), mask], dim=1)))
        spectrum = torch.fft.rfft2(features, norm="ortho")
        mixed = self.spectral(torch.cat([spectrum.real, spectrum.imag], dim=1))
        real, imaginary = mixed.chunk(2, dim=1)
        features = features + torch.fft.irfft2(torch.complex(real, imaginary), s=features.shape[-2:], norm="ortho")
        return torch.sigmoid(self.out(features))


def save_tiny_lama(path: str | Path) -> Path:
    """Script a seeded TinyLama and save it at ``path`` (the global torch RNG is left as it was)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = TinyLama().eval()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.jit.script(model).save(str(path))
    return path
