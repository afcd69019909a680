"""Pure DSP functions: 2x sinc resampling as used by Demucs (windowed-sinc half-band filter)."""
import math

import torch
import torch.nn.functional as F


def sinc_halfband_kernel(zeros: int = 56, device=None, dtype=None) -> torch.Tensor:
    """(1, 1, 2*zeros) Hann-windowed sinc that interpolates half-way between samples."""
    window = torch.hann_window(4 * zeros + 1, periodic=False, dtype=torch.float64)
    odd_taps = window[1::2]
    t = torch.linspace(-zeros + 0.5, zeros - 0.5, 2 * zeros, dtype=torch.float64) * math.pi
    return (torch.sin(t) / t * odd_taps).view(1, 1, -1).to(device=device, dtype=dtype)


def upsample2(x: torch.Tensor, zeros: int = 56) -> torch.Tensor:
    """(..., T) -> (..., 2T): original samples interleaved with sinc-interpolated midpoints."""
    *lead, t = x.shape
    kernel = sinc_halfband_kernel(zeros, x.device, x.dtype)
    mid = F.conv1d(x.reshape(-1, 1, t), kernel, padding=zeros)[..., 1:].reshape(*lead, t)
    return torch.stack([x, mid], dim=-1).reshape(*lead, 2 * t)


def downsample2(x: torch.Tensor, zeros: int = 56) -> torch.Tensor:
    """(..., T) -> (..., ceil(T/2)): half-band low-pass then decimation."""
    if x.shape[-1] % 2:
        x = F.pad(x, (0, 1))
    even, odd = x[..., ::2], x[..., 1::2]
    *lead, t = odd.shape
    kernel = sinc_halfband_kernel(zeros, x.device, x.dtype)
    filtered = F.conv1d(odd.reshape(-1, 1, t), kernel, padding=zeros)[..., :-1].reshape(*lead, t)
    return 0.5 * (even + filtered)


def observation_add(noisy: torch.Tensor, enhanced: torch.Tensor, noisy_weight: float) -> torch.Tensor:
    """Observation adding: ``noisy_weight * noisy + (1 - noisy_weight) * enhanced`` (same shapes).

    Feeding a recogniser a little of the unprocessed input masks the enhancer's artefacts, the
    cheap remedy against SE raising a strong recogniser's WER (Iwamoto et al., arXiv 2311.11599)."""
    if noisy.shape != enhanced.shape:
        raise ValueError(f"observation adding needs equal shapes, got {tuple(noisy.shape)} and {tuple(enhanced.shape)}")
    if not 0.0 <= noisy_weight <= 1.0:
        raise ValueError(f"noisy_weight must be in [0, 1], got {noisy_weight}")
    return noisy_weight * noisy + (1.0 - noisy_weight) * enhanced
