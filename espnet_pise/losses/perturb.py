"""Pure functions that move speech in time: zero padding and speed perturbation."""
from typing import Sequence, Tuple

import torch
import torchaudio


def pad_batch(wavs: Sequence[torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor]:
    """List of 1-D waveforms -> zero-padded (B, L) batch and lengths (B,)."""
    lens = torch.tensor([len(w) for w in wavs], dtype=torch.long, device=wavs[0].device)
    return torch.nn.utils.rnn.pad_sequence(list(wavs), batch_first=True), lens


def random_pad_lengths(
    lens: torch.Tensor, pad_min: float, pad_max: float, hop: int, generator: torch.Generator = None
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Leading and trailing pad sizes in samples (B,), each a fraction U[pad_min, pad_max] of the
    utterance length, rounded to a multiple of ``hop`` (at least one hop when pad_min > 0)."""
    if not 0 <= pad_min <= pad_max:
        raise ValueError(f"need 0 <= pad_min <= pad_max, got {pad_min}, {pad_max}")
    sizes = []
    for _ in range(2):
        frac = pad_min + (pad_max - pad_min) * torch.rand(len(lens), generator=generator)
        hops = torch.round(frac * lens.cpu().double() / hop).long()
        if pad_min > 0:
            hops = hops.clamp(min=1)
        sizes.append(hops * hop)
    return sizes[0], sizes[1]


def zero_pad(
    wav: torch.Tensor, lens: torch.Tensor, front: torch.Tensor, back: torch.Tensor
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Pad each utterance wav[b, :lens[b]] with front[b] zeros before and back[b] after."""
    out = [
        torch.nn.functional.pad(wav[b, : int(lens[b])], (int(front[b]), int(back[b])))
        for b in range(wav.shape[0])
    ]
    return pad_batch(out)


def speed_perturb(wav: torch.Tensor, lens: torch.Tensor, factors: Sequence[float]) -> Tuple[torch.Tensor, torch.Tensor]:
    """Kaldi/sox-style speed perturbation (tempo and pitch), one factor per utterance.

    A factor f > 1 makes the utterance faster and shorter (length ~ L / f).
    """
    out = []
    for b, f in enumerate(factors):
        x = wav[b, : int(lens[b])]
        if abs(f - 1.0) > 1e-6:
            x = torchaudio.functional.resample(x, orig_freq=int(round(f * 1000)), new_freq=1000)
        out.append(x)
    return pad_batch(out)
