"""Losses between SSL features of enhanced and clean speech (ESPnet time-domain criterions).

All take ``forward(ref, inf)`` with clean ``ref`` and enhanced ``inf`` waveforms (B, L) and return
a per-utterance loss (B,).  Utterance lengths come from the optional ``lengths`` argument or, inside
ESPnet, from the batch (see ``espnet_pise.losses.context``); padding never enters a loss.

* ``ssl_mse``      - conventional SSL-MSE: frame-wise squared distance at the same positions.
* ``ssl_mse_pad``  - SSL-MSE-PAD: the clean reference is zero-padded before and after by a random
                     multiple of the SSL hop, its padded frames are dropped, and the rest is compared
                     with the enhanced frames: same content, different absolute positions.
* ``ssl_sdtw``     - SSL-SoftDTW: the clean reference is speed-perturbed (optionally also padded)
                     and compared with soft-DTW, which aligns sequences of different lengths.
* ``ssl_shift_mse``- beyond the paper: SSL-MSE-PAD that also tolerates a small unknown delay
                     between enhanced and clean speech (soft minimum over frame shifts).
"""
import math
from abc import abstractmethod
from typing import List, Optional, Tuple, Union

import torch
from espnet2.enh.loss.criterions.time_domain import TimeDomainLoss
from typeguard import typechecked

from espnet_pise.losses.context import current_lengths
from espnet_pise.losses.perturb import random_pad_lengths, speed_perturb, zero_pad
from espnet_pise.losses.soft_dtw import soft_dtw
from espnet_pise.ssl.teacher import SSLTeacher

DEFAULT_SPEED_FACTORS = [round(0.80 + 0.05 * k, 2) for k in range(9)]  # 0.80 .. 1.20


def frame_mask(lens: torch.Tensor, max_len: int) -> torch.Tensor:
    """(B, T) bool mask of valid frames."""
    return torch.arange(max_len, device=lens.device)[None] < lens[:, None]


def masked_frame_mse(x: torch.Tensor, y: torch.Tensor, lens: torch.Tensor) -> torch.Tensor:
    """Mean over valid frames of the squared L2 distance between frames: (B, T, D) x2 -> (B,)."""
    mask = frame_mask(lens, x.shape[1]).to(x.dtype)
    dist = ((x - y) ** 2).sum(-1) * mask
    return dist.sum(1) / lens.clamp(min=1).to(x.dtype)


def crop_frames(feats: torch.Tensor, start: torch.Tensor, length: torch.Tensor, out_len: int) -> torch.Tensor:
    """feats[b, start[b] : start[b] + length[b]] for every b, zero-padded to out_len frames."""
    idx = start[:, None] + torch.arange(out_len, device=feats.device)[None]
    valid = frame_mask(length, out_len)
    idx = idx.clamp(max=feats.shape[1] - 1)
    out = torch.gather(feats, 1, idx.unsqueeze(-1).expand(-1, -1, feats.shape[-1]))
    return out * valid.unsqueeze(-1).to(out.dtype)


class AbsSSLLoss(TimeDomainLoss):
    """Base: SSL features of enhanced speech (with grad) vs. transformed clean speech (no grad).

    Subclasses define how the clean reference is moved in time (``transform_reference``) and the
    distance between the two feature sequences (``distance``).
    """

    @typechecked
    def __init__(
        self,
        name: str,
        ssl_source: str = "hubert_base",
        layer: Union[int, List[int]] = -1,
        layer_weights: Optional[List[float]] = None,
        l2_normalize: bool = False,
        proj_dim: Optional[int] = None,
        proj_seed: int = 0,
        arch_conf: Optional[dict] = None,
        normalize_wav: bool = False,
        layer_convention: str = "pise",
        only_for_test: bool = False,
        is_noise_loss: bool = False,
        is_dereverb_loss: bool = False,
    ):
        super().__init__(name, only_for_test=only_for_test, is_noise_loss=is_noise_loss, is_dereverb_loss=is_dereverb_loss)
        self.teacher = SSLTeacher(
            source=ssl_source, layer=layer, layer_weights=layer_weights, l2_normalize=l2_normalize,
            proj_dim=proj_dim, proj_seed=proj_seed, arch_conf=arch_conf, normalize_wav=normalize_wav,
            layer_convention=layer_convention,
        )

    def _lengths(self, ref: torch.Tensor, lengths: Optional[torch.Tensor]) -> torch.Tensor:
        if lengths is None:
            lengths = current_lengths()
        if lengths is None or lengths.shape[0] != ref.shape[0]:
            return torch.full((ref.shape[0],), ref.shape[1], dtype=torch.long, device=ref.device)
        return lengths.to(ref.device).long().clamp(max=ref.shape[1])

    def transform_reference(
        self, ref: torch.Tensor, lens: torch.Tensor
    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Moved clean speech (B, L'), its lengths, and per utterance the number of leading and
        trailing frames to drop from its features (B,).  Identity by default."""
        zeros = torch.zeros_like(lens)
        return ref, lens, zeros, zeros

    @abstractmethod
    def distance(self, inf_feats, inf_lens, ref_feats, ref_lens) -> torch.Tensor:
        """(B, T, D), (B,), (B, T', D), (B,) -> (B,)."""

    def forward(self, ref: torch.Tensor, inf: torch.Tensor, lengths: Optional[torch.Tensor] = None) -> torch.Tensor:
        """ref, inf: (B, L) clean and enhanced waveforms; lengths: (B,) valid samples. -> (B,)"""
        if ref.shape != inf.shape or ref.dim() != 2:
            raise ValueError(f"ref and inf must both be (B, L); got {tuple(ref.shape)} and {tuple(inf.shape)}")
        lens = self._lengths(ref, lengths)
        for what, wav in (("clean reference", ref), ("enhanced waveform", inf)):
            valid = frame_mask(lens, wav.shape[1])
            bad = ~(torch.isfinite(wav.detach()) | ~valid).all(1)
            if bool(bad.any()):  # never averaged into a NaN loss
                raise ValueError(
                    f"{self.name}: NaN/Inf samples in the {what} of batch items {bad.nonzero().flatten().tolist()} "
                    f"(lengths {lens[bad].tolist()})"
                )
        with torch.no_grad():
            moved, moved_lens, drop_front, drop_back = self.transform_reference(ref, lens)
            ref_feats, ref_flens = self.teacher(moved, moved_lens)
            keep = ref_flens - drop_front - drop_back
            ref_feats = crop_frames(ref_feats, drop_front, keep, int(keep.max()))
        inf_feats, inf_flens = self.teacher(inf, lens)
        return self.distance(inf_feats, inf_flens, ref_feats, keep)


class SSLMSELoss(AbsSSLLoss):
    """SSL-MSE baseline: mean over frames of ||F(inf)_t - F(ref)_t||^2."""

    @typechecked
    def __init__(self, name: str = "ssl_mse", **kwargs):
        super().__init__(name, **kwargs)

    def distance(self, inf_feats, inf_lens, ref_feats, ref_lens):
        n = int(min(inf_feats.shape[1], ref_feats.shape[1]))
        return masked_frame_mse(inf_feats[:, :n], ref_feats[:, :n], torch.minimum(inf_lens, ref_lens))


class _RandomPadMixin:
    """Random zero padding of the clean reference (multiples of the SSL hop)."""

    def _pad(self, ref, lens):
        hop = self.teacher.hop
        front, back = random_pad_lengths(lens, self.pad_min, self.pad_max, hop)
        padded, padded_lens = zero_pad(ref, lens, front, back)
        return padded, padded_lens, (front // hop).to(lens.device), (back // hop).to(lens.device)


class SSLMSEPadLoss(_RandomPadMixin, SSLMSELoss):
    """SSL-MSE-PAD: the clean reference is padded by U[pad_min, pad_max] of its length before and
    after (rounded to the SSL hop); its padded frames are dropped before the MSE."""

    @typechecked
    def __init__(self, name: str = "ssl_mse_pad", pad_min: float = 0.02, pad_max: float = 0.05, **kwargs):
        super().__init__(name, **kwargs)
        if not 0 <= pad_min <= pad_max:
            raise ValueError(f"need 0 <= pad_min <= pad_max, got {pad_min}, {pad_max}")
        self.pad_min, self.pad_max = pad_min, pad_max

    def transform_reference(self, ref, lens):
        return self._pad(ref, lens)


class SSLSoftDTWLoss(_RandomPadMixin, AbsSSLLoss):
    """SSL-SoftDTW: soft-DTW between F(inf) and F(speed-perturbed ref).

    Args:
        speed_factors: a factor is drawn uniformly per utterance (default 0.80..1.20, step 0.05).
        gamma: soft-DTW temperature.
        normalize: use the divergence sdtw(x, y) - (sdtw(x, x) + sdtw(y, y)) / 2.
        bandwidth: Sakoe-Chiba radius in frames (None: full).
        pad: also zero-pad the perturbed reference (pad_min, pad_max as in ssl_mse_pad).
        length_normalize: divide by the enhanced frame count, so the scale matches ssl_mse.
    """

    @typechecked
    def __init__(
        self,
        name: str = "ssl_sdtw",
        speed_factors: Optional[List[float]] = None,
        gamma: float = 0.1,
        normalize: bool = True,
        bandwidth: Optional[float] = None,
        pad: bool = False,
        pad_min: float = 0.02,
        pad_max: float = 0.05,
        length_normalize: bool = True,
        **kwargs,
    ):
        super().__init__(name, **kwargs)
        self.speed_factors = list(DEFAULT_SPEED_FACTORS if speed_factors is None else speed_factors)
        if not self.speed_factors or min(self.speed_factors) <= 0:
            raise ValueError(f"speed_factors must be positive, got {self.speed_factors}")
        if gamma <= 0:
            raise ValueError(f"gamma must be > 0, got {gamma}")
        self.gamma, self.normalize, self.bandwidth = gamma, normalize, bandwidth
        self.pad, self.pad_min, self.pad_max = pad, pad_min, pad_max
        self.length_normalize = length_normalize

    def transform_reference(self, ref, lens):
        pick = torch.randint(len(self.speed_factors), (ref.shape[0],))
        moved, moved_lens = speed_perturb(ref, lens, [self.speed_factors[int(k)] for k in pick])
        if self.pad:
            return self._pad(moved, moved_lens)
        zeros = torch.zeros_like(moved_lens)
        return moved, moved_lens, zeros, zeros

    def distance(self, inf_feats, inf_lens, ref_feats, ref_lens):
        value = soft_dtw(
            inf_feats, ref_feats.to(inf_feats.dtype), inf_lens, ref_lens,
            gamma=self.gamma, bandwidth=self.bandwidth, normalize=self.normalize,
        )
        if self.length_normalize:
            value = value / inf_lens.to(value.dtype)
        return value


class SSLShiftMSELoss(SSLMSEPadLoss):
    """SSL-MSE-PAD with a soft minimum over frame shifts in [-max_shift, max_shift].

    Useful when enhanced speech may be delayed with respect to the clean reference (causal
    models, imperfectly aligned recordings): the loss picks the best shift instead of
    penalising the delay.  ``shift_gamma`` -> 0 gives the hard minimum.
    """

    @typechecked
    def __init__(self, name: str = "ssl_shift_mse", max_shift: int = 2, shift_gamma: float = 0.1, **kwargs):
        super().__init__(name, **kwargs)
        if max_shift < 0 or shift_gamma <= 0:
            raise ValueError(f"need max_shift >= 0 and shift_gamma > 0, got {max_shift}, {shift_gamma}")
        self.max_shift, self.shift_gamma = max_shift, shift_gamma

    def distance(self, inf_feats, inf_lens, ref_feats, ref_lens):
        n = torch.minimum(inf_lens, ref_lens)
        per_shift = []
        for s in range(-self.max_shift, self.max_shift + 1):
            # compare inf frame t with ref frame t + s on their overlap
            a = inf_feats[:, max(0, -s):]
            b = ref_feats[:, max(0, s):]
            overlap = (n - abs(s)).clamp(min=1)
            t = min(a.shape[1], b.shape[1])
            per_shift.append(masked_frame_mse(a[:, :t], b[:, :t], overlap))
        d = torch.stack(per_shift, dim=1)
        # -gamma * log(mean(exp(-d / gamma))): between min(d) and mean(d), so never negative
        return -self.shift_gamma * (torch.logsumexp(-d / self.shift_gamma, dim=1) - math.log(d.shape[1]))
