"""Demucs waveform enhancer (Defossez et al., 2020), the architecture of facebookresearch/denoiser.

Encoder/decoder of strided 1-D convolutions with GLU and U-Net skips around an LSTM, run at
``resample`` times the input rate.  Parameter names follow the published state dicts
(``encoder.{k}.{0,2}``, ``decoder.{k}.{0,2}``, ``lstm.lstm``, ``lstm.linear``) so denoiser
checkpoints such as master64 load directly.
"""
import math
from typing import Optional

import torch
import torch.nn as nn
from typeguard import typechecked

from espnet_pise.enh.dsp import downsample2, upsample2

# The released models (facebookresearch/denoiser pretrained.py: Demucs(hidden=...) with every
# other argument at demucs.py's defaults).
RELEASED = dict(
    chin=1, chout=1, depth=5, kernel_size=8, stride=4, causal=True, resample=4, growth=2.0,
    max_hidden=10000, normalize=True, glu=True, rescale=0.1, floor=1e-3,
)
PRESETS = {
    "dns48": dict(RELEASED, hidden=48),
    "dns64": dict(RELEASED, hidden=64),
    "master64": dict(RELEASED, hidden=64),
}


class BLSTM(nn.Module):
    """LSTM over time; bidirectional (with a projection back to dim) when not causal."""

    def __init__(self, dim: int, layers: int = 2, bi: bool = True):
        super().__init__()
        self.lstm = nn.LSTM(input_size=dim, hidden_size=dim, num_layers=layers, bidirectional=bi)
        self.linear = nn.Linear(2 * dim, dim) if bi else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (T, B, C) -> (T, B, C)."""
        x, _ = self.lstm(x)
        return self.linear(x) if self.linear is not None else x


class Demucs(nn.Module):
    """Waveform in, waveform out: (B, C_in, T) -> (B, C_out, T).

    Args:
        chin, chout: input/output channels.
        hidden: channels of the first layer (x growth per layer, capped at max_hidden).
        depth: number of encoder/decoder layers.
        kernel_size, stride: of every (transposed) convolution.
        causal: unidirectional LSTM; the output at time t depends on input up to t plus the
            look-ahead of the convolutions and resampling (``lookahead`` samples).
        resample: 1, 2 or 4: internal upsampling factor.
        growth, max_hidden: channel growth per layer and its cap.
        normalize: divide by the input standard deviation (and restore it at the output).
        glu: GLU after the 1x1 convolutions (else ReLU).
        rescale: initial weight rescaling (reference value 0.1); 0 disables it.
        floor: added to the standard deviation.
    """

    @typechecked
    def __init__(
        self,
        chin: int = 1,
        chout: int = 1,
        hidden: int = 48,
        depth: int = 5,
        kernel_size: int = 8,
        stride: int = 4,
        causal: bool = True,
        resample: int = 4,
        growth: float = 2.0,
        max_hidden: int = 10000,
        normalize: bool = True,
        glu: bool = True,
        rescale: float = 0.1,
        floor: float = 1e-3,
    ):
        super().__init__()
        if resample not in (1, 2, 4):
            raise ValueError(f"resample must be 1, 2 or 4, got {resample}")
        self.depth, self.kernel_size, self.stride = depth, kernel_size, stride
        self.causal, self.resample, self.normalize, self.floor = causal, resample, normalize, floor
        activation = nn.GLU(1) if glu else nn.ReLU()
        scale = 2 if glu else 1
        self.encoder, self.decoder = nn.ModuleList(), nn.ModuleList()
        for index in range(depth):
            self.encoder.append(nn.Sequential(
                nn.Conv1d(chin, hidden, kernel_size, stride), nn.ReLU(),
                nn.Conv1d(hidden, hidden * scale, 1), activation,
            ))
            decode = [
                nn.Conv1d(hidden, scale * hidden, 1), activation,
                nn.ConvTranspose1d(hidden, chout, kernel_size, stride),
            ]
            if index > 0:
                decode.append(nn.ReLU())
            self.decoder.insert(0, nn.Sequential(*decode))
            chout, chin = hidden, hidden
            hidden = min(int(growth * hidden), max_hidden)
        self.lstm = BLSTM(chin, bi=not causal)
        if rescale:
            for module in self.modules():
                if isinstance(module, (nn.Conv1d, nn.ConvTranspose1d)):
                    # reference init: shrink weights so that their std becomes sqrt(std * rescale)
                    std = module.weight.std().detach()
                    factor = (std / rescale) ** 0.5
                    module.weight.data /= factor
                    if module.bias is not None:
                        module.bias.data /= factor

    def valid_length(self, length: int) -> int:
        """Smallest input length >= length with no leftover samples through all layers."""
        length = math.ceil(length * self.resample)
        for _ in range(self.depth):
            length = max(math.ceil((length - self.kernel_size) / self.stride) + 1, 1)
        for _ in range(self.depth):
            length = (length - 1) * self.stride + self.kernel_size
        return int(math.ceil(length / self.resample))

    @property
    def lookahead(self) -> int:
        """Future input samples an output sample may depend on, for a causal model with
        normalize=False (the global normalisation looks at the whole input): the receptive field
        of the convolution stack plus the sinc filters of the up- and down-sampling stages."""
        resampling = sum(2 * 56 // 2**k for k in range(self.resample // 2))
        return self.valid_length(1) + resampling

    def forward(self, mix: torch.Tensor) -> torch.Tensor:
        if mix.dim() == 2:
            mix = mix.unsqueeze(1)
        if self.normalize:
            mono = mix.mean(dim=1, keepdim=True)
            # unbiased like the reference; a single sample would give NaN, so no correction there
            std = mono.std(dim=-1, keepdim=True, correction=1 if mono.shape[-1] > 1 else 0)
            mix = mix / (self.floor + std)
        else:
            std = 1.0
        length = mix.shape[-1]
        x = nn.functional.pad(mix, (0, self.valid_length(length) - length))
        for _ in range(self.resample // 2):
            x = upsample2(x)
        skips = []
        for encode in self.encoder:
            x = encode(x)
            skips.append(x)
        x = self.lstm(x.permute(2, 0, 1)).permute(1, 2, 0)
        for decode in self.decoder:
            x = decode(x + skips.pop(-1)[..., : x.shape[-1]])
        for _ in range(self.resample // 2):
            x = downsample2(x)
        return x[..., :length] * std


def demucs_config(preset: Optional[str] = None, fixed: Optional[dict] = None, fixed_by: str = "", **kwargs) -> dict:
    """Demucs kwargs from the given ``kwargs`` (None = not set), a published preset (``dns48``,
    ``dns64``, ``master64``: every setting of the released model) and ``fixed``, the settings a
    checkpoint file stores (``fixed_by`` names it).  Preset and file settings fill what is not set;
    a set value that disagrees with either raises a ValueError naming the setting."""
    given = {k: v for k, v in kwargs.items() if v is not None}
    sources = []
    if preset is not None:
        if preset not in PRESETS:
            raise ValueError(f"unknown Demucs preset '{preset}'; choose from {sorted(PRESETS)}")
        sources.append((f"preset '{preset}'", PRESETS[preset]))
    if fixed:
        sources.append((fixed_by or "the checkpoint", fixed))
    for what, values in sources:
        for key, value in values.items():
            if key in given and given[key] != value:
                raise ValueError(
                    f"Demucs setting {key}={given[key]!r} disagrees with {what} ({key}={value!r}): "
                    f"remove {key} from the configuration or set it to {value!r}"
                )
            given[key] = value
    return given


def demucs_from_preset(preset: Optional[str] = None, **kwargs) -> Demucs:
    """A Demucs with a published configuration (see ``demucs_config``)."""
    return Demucs(**demucs_config(preset, **kwargs))
