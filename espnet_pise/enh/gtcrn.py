"""GTCRN (Rong et al., ICASSP 2024), a 48 k-parameter causal speech enhancer, in PyTorch.

The complex STFT (16 kHz, 512-point, hop 256, square root of the Hann window, centred) goes in as
magnitude, real and imaginary part; 192 of the 257 bins above bin 65 are merged into 64 ERB bands
(129 "bands"), a subband feature extraction (SFE) stacks each band with its neighbours, an encoder
of two strided ConvBlocks and three grouped temporal convolution blocks (GTConvBlock, time
dilations 1, 2, 5, each with a temporal recurrent attention, TRA) feeds two grouped dual-path GRUs
(DPGRNN: a bidirectional GRU across the 33 frequency bands of a frame, a forward GRU across time),
and a mirrored decoder with skip connections predicts a complex ratio mask for every bin.

Causal: along time only causal convolutions and forward GRUs are used, so a frame's output depends
on that frame and earlier ones (batch normalisation in inference mode).  On waveforms the STFT
window adds ``lookahead = n_fft - 1`` samples (an output sample depends on the input up to 511
samples ahead, the end of the last frame that covers it).

``gtcrn_from_onnx`` converts the authors' streaming ONNX export (``gtcrn_simple.onnx``, one frame
per call with caches; DNS3-trained weights) into this whole-utterance model's state dict.  Module
names follow the authors' ``gtcrn.py``, so their PyTorch checkpoints load unchanged.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from espnet_pise.enh.onnx_weights import gru_params, initializers, load_graph, take


# ------------------------------------------------------------------------------------------ DSP
def erb_filter_bank(low_bins: int = 65, bands: int = 64, n_fft: int = 512, high_hz: float = 8000.0,
                    sample_rate: int = 16000) -> torch.Tensor:
    """(bands, n_fft // 2 + 1 - low_bins) triangular filters on the ERB scale between bin
    ``low_bins`` and ``high_hz`` (GTCRN's band merging; its transpose splits bands again)."""
    def hz2erb(f):
        return 21.4 * np.log10(0.00437 * f + 1)

    def erb2hz(e):
        return (10 ** (e / 21.4) - 1) / 0.00437

    points = np.linspace(hz2erb(low_bins / n_fft * sample_rate), hz2erb(high_hz), bands)
    b = np.round(erb2hz(points) / sample_rate * n_fft).astype(np.int64)  # band centres (bins)
    fb = np.zeros((bands, n_fft // 2 + 1), dtype=np.float32)

    def rise(i, lo, hi):  # 0 -> 1 over bins [lo, hi)
        fb[i, lo:hi] = (np.arange(lo, hi) - lo + 1e-12) / (hi - lo + 1e-12)

    def fall(i, lo, hi):  # 1 -> 0 over bins [lo, hi)
        fb[i, lo:hi] = (hi - np.arange(lo, hi) + 1e-12) / (hi - lo + 1e-12)

    fall(0, b[0], b[1])
    for i in range(1, bands - 1):
        rise(i, b[i - 1], b[i])
        fall(i, b[i], b[i + 1])
    fb[-1, b[-2]: b[-1] + 1] = 1 - fb[-2, b[-2]: b[-1] + 1]
    return torch.from_numpy(np.abs(fb[:, low_bins:]))


def sfe(x: torch.Tensor, kernel_size: int = 3) -> torch.Tensor:
    """Subband feature extraction: (B, C, T, F) -> (B, C * kernel_size, T, F), each band stacked
    with its neighbours (zero beyond the edges); channel c * kernel_size + j holds band f + j - k//2."""
    b, c, t, f = x.shape
    return F.unfold(x, (1, kernel_size), padding=(0, (kernel_size - 1) // 2)).reshape(b, c * kernel_size, t, f)


def shuffle(x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
    """Channel shuffle of two (B, C, T, F) halves -> (B, 2C, T, F) with channels interleaved."""
    return torch.stack([x1, x2], dim=2).flatten(1, 2)


# ------------------------------------------------------------------------------------- modules
class ERB(nn.Module):
    """Band merging (bins -> ERB bands) and splitting with fixed (not trained) filters."""

    def __init__(self, low_bins: int, bands: int, n_fft: int, sample_rate: int):
        super().__init__()
        fb = erb_filter_bank(low_bins, bands, n_fft, sample_rate / 2, sample_rate)
        self.low_bins = low_bins
        self.erb_fc = nn.Linear(fb.shape[1], bands, bias=False)
        self.ierb_fc = nn.Linear(bands, fb.shape[1], bias=False)
        self.erb_fc.weight = nn.Parameter(fb, requires_grad=False)
        self.ierb_fc.weight = nn.Parameter(fb.T.contiguous(), requires_grad=False)

    def bm(self, x: torch.Tensor) -> torch.Tensor:
        """(..., n_fft // 2 + 1) -> (..., low_bins + bands)."""
        return torch.cat([x[..., : self.low_bins], self.erb_fc(x[..., self.low_bins:])], dim=-1)

    def bs(self, x: torch.Tensor) -> torch.Tensor:
        """(..., low_bins + bands) -> (..., n_fft // 2 + 1)."""
        return torch.cat([x[..., : self.low_bins], self.ierb_fc(x[..., self.low_bins:])], dim=-1)


class TRA(nn.Module):
    """Temporal recurrent attention: a per-channel gain in (0, 1) from a forward GRU over the
    band-averaged energy.  (B, C, T, F) -> (B, C, T, F)."""

    def __init__(self, channels: int):
        super().__init__()
        self.att_gru = nn.GRU(channels, 2 * channels, batch_first=True)
        self.att_fc = nn.Linear(2 * channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        energy = x.pow(2).mean(-1).transpose(1, 2)  # (B, T, C)
        gain = torch.sigmoid(self.att_fc(self.att_gru(energy)[0]))  # (B, T, C)
        return x * gain.transpose(1, 2)[..., None]


class ConvBlock(nn.Module):
    """Frequency-strided (transposed) convolution, batch norm, PReLU (Tanh for the last block)."""

    def __init__(self, cin: int, cout: int, groups: int = 1, deconv: bool = False, last: bool = False):
        super().__init__()
        conv = nn.ConvTranspose2d if deconv else nn.Conv2d
        self.conv = conv(cin, cout, (1, 5), stride=(1, 2), padding=(0, 2), groups=groups)
        self.bn = nn.BatchNorm2d(cout)
        self.act = nn.Tanh() if last else nn.PReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class GTConvBlock(nn.Module):
    """Grouped temporal convolution: half of the channels go through SFE, a pointwise conv, a
    causal depthwise (3, 3) conv dilated in time, a pointwise conv and TRA; the other half is
    passed on; the halves are shuffled.  (B, C, T, F) -> (B, C, T, F)."""

    def __init__(self, channels: int, dilation: int, deconv: bool = False, sfe_kernel: int = 3):
        super().__init__()
        half, conv = channels // 2, nn.ConvTranspose2d if deconv else nn.Conv2d
        self.sfe_kernel, self.pad = sfe_kernel, 2 * dilation  # (kernel - 1) * dilation past frames
        self.point_conv1 = conv(half * sfe_kernel, channels, 1)
        self.point_bn1 = nn.BatchNorm2d(channels)
        self.point_act = nn.PReLU()
        # a transposed conv whose padding removes what the front padding added: also causal
        self.depth_conv = conv(channels, channels, (3, 3), padding=(2 * dilation if deconv else 0, 1),
                               dilation=(dilation, 1), groups=channels)
        self.depth_bn = nn.BatchNorm2d(channels)
        self.depth_act = nn.PReLU()
        self.point_conv2 = conv(channels, half, 1)
        self.point_bn2 = nn.BatchNorm2d(half)
        self.tra = TRA(half)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1, x2 = x.chunk(2, dim=1)
        h = self.point_act(self.point_bn1(self.point_conv1(sfe(x1, self.sfe_kernel))))
        h = self.depth_act(self.depth_bn(self.depth_conv(F.pad(h, (0, 0, self.pad, 0)))))
        h = self.tra(self.point_bn2(self.point_conv2(h)))
        return shuffle(h, x2)


class GRNN(nn.Module):
    """Grouped GRU: two GRUs, each on half of the features.  (N, L, D) -> (N, L, hidden)."""

    def __init__(self, input_size: int, hidden_size: int, bidirectional: bool = False):
        super().__init__()
        h = hidden_size // 2
        self.rnn1 = nn.GRU(input_size // 2, h, batch_first=True, bidirectional=bidirectional)
        self.rnn2 = nn.GRU(input_size // 2, h, batch_first=True, bidirectional=bidirectional)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1, x2 = x.chunk(2, dim=-1)
        return torch.cat([self.rnn1(x1)[0], self.rnn2(x2)[0]], dim=-1)


class DPGRNN(nn.Module):
    """Grouped dual-path GRU: a bidirectional GRNN across the bands of each frame, then a forward
    GRNN across frames for each band, each with a linear layer, layer norm over (bands, channels)
    and a residual connection.  (B, C, T, W) -> (B, C, T, W)."""

    def __init__(self, channels: int, width: int):
        super().__init__()
        self.intra_rnn = GRNN(channels, channels // 2, bidirectional=True)
        self.intra_fc = nn.Linear(channels, channels)
        self.intra_ln = nn.LayerNorm((width, channels), eps=1e-8)
        self.inter_rnn = GRNN(channels, channels)
        self.inter_fc = nn.Linear(channels, channels)
        self.inter_ln = nn.LayerNorm((width, channels), eps=1e-8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, t, w = x.shape
        x = x.permute(0, 2, 3, 1)  # (B, T, W, C)
        intra = self.intra_fc(self.intra_rnn(x.reshape(b * t, w, c))).reshape(b, t, w, c)
        x = x + self.intra_ln(intra)
        inter = self.inter_fc(self.inter_rnn(x.transpose(1, 2).reshape(b * w, t, c)))
        x = x + self.inter_ln(inter.reshape(b, w, t, c).transpose(1, 2))
        return x.permute(0, 3, 1, 2)


class Encoder(nn.Module):
    def __init__(self, cin: int, channels: int, dilations: Sequence[int], sfe_kernel: int):
        super().__init__()
        self.en_convs = nn.ModuleList(
            [ConvBlock(cin, channels), ConvBlock(channels, channels, groups=2)]
            + [GTConvBlock(channels, d, sfe_kernel=sfe_kernel) for d in dilations]
        )

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, List[torch.Tensor]]:
        outs = []
        for layer in self.en_convs:
            x = layer(x)
            outs.append(x)
        return x, outs


class Decoder(nn.Module):
    def __init__(self, channels: int, dilations: Sequence[int], sfe_kernel: int):
        super().__init__()
        self.de_convs = nn.ModuleList(
            [GTConvBlock(channels, d, deconv=True, sfe_kernel=sfe_kernel) for d in reversed(dilations)]
            + [ConvBlock(channels, channels, groups=2, deconv=True), ConvBlock(channels, 2, deconv=True, last=True)]
        )

    def forward(self, x: torch.Tensor, skips: List[torch.Tensor]) -> torch.Tensor:
        for layer, skip in zip(self.de_convs, reversed(skips)):
            x = layer(x + skip)
        return x


class GTCRN(nn.Module):
    """GTCRN on a complex STFT: (B, n_fft // 2 + 1, T) noisy -> (B, n_fft // 2 + 1, T) enhanced.

    Args (defaults: the DNS3-trained model):
        n_fft: FFT size of the STFT it was trained on (512: 257 bins).
        sample_rate: sampling rate (16000), fixes the ERB scale (up to sample_rate / 2).
        erb_low_bins: bins kept as they are (65); the others are merged into ``erb_bands`` (64).
        channels: channels of the encoder, the DPGRNNs and the decoder (16).
        dilations: time dilations of the encoder's GTConvBlocks (1, 2, 5; mirrored in the decoder).
        num_dpgrnn: dual-path GRU blocks (2).
        sfe_kernel: bands stacked by subband feature extraction (3).
        mag_eps: added to |X|^2 before the square root of the magnitude feature (1e-12).
    """

    def __init__(
        self,
        n_fft: int = 512,
        sample_rate: int = 16000,
        erb_low_bins: int = 65,
        erb_bands: int = 64,
        channels: int = 16,
        dilations: Sequence[int] = (1, 2, 5),
        num_dpgrnn: int = 2,
        sfe_kernel: int = 3,
        mag_eps: float = 1e-12,
    ):
        super().__init__()
        width = erb_low_bins + erb_bands
        for _ in range(2):  # the two ConvBlocks halve the bands; the decoder gives 2 w - 1 back
            if width % 2 == 0:
                raise ValueError(f"GTCRN needs erb_low_bins + erb_bands = 4 k + 1 (the decoder restores 2 w - 1 "
                                 f"bands), got {erb_low_bins} + {erb_bands}")
            width = (width + 1) // 2
        if channels % 4:
            raise ValueError(f"GTCRN channels must be a multiple of 4 (grouped GRUs of half width), got {channels}")
        self.n_fft, self.mag_eps = n_fft, mag_eps
        self.erb = ERB(erb_low_bins, erb_bands, n_fft, sample_rate)
        self.sfe_kernel = sfe_kernel
        self.encoder = Encoder(3 * sfe_kernel, channels, dilations, sfe_kernel)
        self.num_dpgrnn = num_dpgrnn
        for i in range(num_dpgrnn):  # named as in the authors' model: dpgrnn1, dpgrnn2, ...
            self.add_module(f"dpgrnn{i + 1}", DPGRNN(channels, width))
        self.decoder = Decoder(channels, dilations, sfe_kernel)

    def forward(self, spec: torch.Tensor) -> torch.Tensor:
        """spec: (B, F, T) complex -> (B, F, T) complex, the noisy spectrum times the predicted
        complex ratio mask."""
        x = spec.transpose(1, 2)  # (B, T, F)
        mag = (x.real.square() + x.imag.square() + self.mag_eps).sqrt()
        feat = sfe(self.erb.bm(torch.stack([mag, x.real, x.imag], dim=1)), self.sfe_kernel)  # (B, 3k, T, W0)
        feat, skips = self.encoder(feat)
        for i in range(self.num_dpgrnn):
            feat = getattr(self, f"dpgrnn{i + 1}")(feat)
        mask = self.erb.bs(self.decoder(feat, skips))  # (B, 2, T, F)
        return (x * torch.complex(mask[:, 0], mask[:, 1])).transpose(1, 2)


class GTCRNWaveform(nn.Module):
    """STFT -> GTCRN -> inverse STFT: (B, T) noisy waveform, (B,) lengths -> (B, T) enhanced.

    The STFT is torch.stft(n_fft, hop_length, window = sqrt(Hann(n_fft))), centred with zero
    padding, of the waveform zero-padded to a whole number of hops (so that its last samples are
    covered by two frames, like all others); an utterance shorter than a frame is padded.  Samples
    past an utterance's length are set to zero before the STFT and in the output, so that an
    utterance in a padded batch sees the same frames as alone (later frames never reach earlier
    ones: the model is causal).

    Args:
        gtcrn: the spectral model (its n_fft is the STFT's).
        hop_length: STFT hop (256).
        periodic_window: periodic Hann (True: torch.hann_window, the authors' training and
            inference STFT) or symmetric (False: numpy.hanning, the fasr wheel's ONNX wrapper).
    """

    def __init__(self, gtcrn: GTCRN, hop_length: int = 256, periodic_window: bool = True):
        super().__init__()
        self.gtcrn, self.hop_length = gtcrn, hop_length
        self.lookahead = gtcrn.n_fft - 1
        window = torch.hann_window(gtcrn.n_fft, periodic=periodic_window, dtype=torch.float64).sqrt()
        self.register_buffer("window", window.float(), persistent=False)

    def stft(self, wav: torch.Tensor) -> torch.Tensor:
        """(B, T) -> (B, n_fft // 2 + 1, T // hop_length + 1) complex."""
        return torch.stft(wav, self.gtcrn.n_fft, self.hop_length, window=self.window.to(wav.dtype), center=True,
                          pad_mode="constant", return_complex=True)

    def istft(self, spec: torch.Tensor, length: int) -> torch.Tensor:
        """(B, n_fft // 2 + 1, frames) complex -> (B, length)."""
        return torch.istft(spec, self.gtcrn.n_fft, self.hop_length, window=self.window.to(spec.real.dtype),
                           center=True, length=length)

    def forward(self, wav: torch.Tensor, lengths: Optional[torch.Tensor] = None) -> torch.Tensor:
        """wav: (B, T) float, lengths: (B,) valid samples (None: all T) -> (B, T)."""
        if wav.dim() != 2 or wav.shape[-1] == 0:
            raise ValueError(f"GTCRN expects (B, T) waveforms with T > 0, got shape {tuple(wav.shape)}")
        length = wav.shape[-1]
        valid = None
        if lengths is not None:
            valid = torch.arange(length, device=wav.device)[None, :] < lengths.to(wav.device)[:, None]
            wav = wav * valid
        # zeros up to a whole number of hops: every sample is covered by two frames (the last ones too)
        out = self.istft(self.gtcrn(self.stft(F.pad(wav, (0, -length % self.hop_length)))), length)
        return out if valid is None else out * valid


def onnx_stream(onnx_path, spec: torch.Tensor) -> torch.Tensor:
    """The streaming ONNX graph run by onnxruntime (a test dependency) one frame per call, its
    caches zero at the start and carried from call to call: (1, F, T) complex -> (1, F, T)
    complex.  The reference that a conversion is checked against."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(str(onnx_path), sess_options=opts, providers=["CPUExecutionProvider"])
    mix, *cache_inputs = sess.get_inputs()  # mix [1, F, 1, 2], then the caches (returned in this order)
    caches = {i.name: np.zeros(i.shape, np.float32) for i in cache_inputs}
    frames = torch.view_as_real(spec.detach().cpu().to(torch.complex64)).numpy()  # (1, F, T, 2)
    outs = []
    for t in range(frames.shape[2]):
        out, *new = sess.run(None, {mix.name: frames[:, :, t: t + 1], **caches})
        caches = dict(zip(caches, new))
        outs.append(out)
    return torch.view_as_complex(torch.from_numpy(np.concatenate(outs, axis=2)))


# ------------------------------------------------------------------------------ ONNX conversion
DEFAULTS = dict(n_fft=512, sample_rate=16000, erb_low_bins=65, erb_bands=64, channels=16, dilations=[1, 2, 5],
                num_dpgrnn=2, sfe_kernel=3, mag_eps=1e-12)
# initializers of the streaming graph that are not weights: shapes, indices, pads of its cache
# bookkeeping (consumed only by these ops) or constants checked below (exponent 2, epsilons, zero
# initial GRU states)
_INDEX_OPS = {"Gather", "Slice", "Reshape", "Pad", "ScatterND", "Concat", "Unsqueeze", "Squeeze", "Expand",
              "ConstantOfShape", "Tile"}
_CONSTANTS = {"Pow": (2.0,), "Add": (1e-12, 1e-8)}


class _Graph:
    """The nodes of one op type in graph order, and the initializers they use."""

    def __init__(self, path):
        self.path = path
        self.model = load_graph(path)
        self.tensors = initializers(self.model)
        self.nodes = list(self.model.graph.node)
        self.used = set()
        self._queues = {}

    def next(self, op: str, what: str):
        queue = self._queues.setdefault(op, iter([n for n in self.nodes if n.op_type == op]))
        node = next(queue, None)
        if node is None:
            raise ValueError(f"{self.path}: fewer {op} nodes than the GTCRN graph has (none left for {what}); "
                             "not the GTCRN streaming export gtcrn_simple.onnx")
        return node

    def take(self, name: str, shape) -> np.ndarray:
        self.used.add(name)
        return take(self.tensors, name, tuple(shape), self.path)

    def attr(self, node, name, default=None):
        for a in node.attribute:
            if a.name == name:
                return list(a.ints) if a.ints else (a.i if a.type == a.INT else a.f)
        return default

    def unexplained(self) -> List[str]:
        """Initializers that are neither converted nor a known non-weight constant."""
        users = {}
        for n in self.nodes:
            for i in n.input:
                users.setdefault(i, []).append(n.op_type)
        left = []
        for name, arr in self.tensors.items():
            if name in self.used:
                continue
            ops = set(users.get(name, []))
            if ops and ops <= _INDEX_OPS:
                continue
            if len(ops) == 1 and arr.size == 1 and any(np.isclose(float(arr.reshape(-1)[0]), c, rtol=1e-6, atol=0)
                                                       for c in _CONSTANTS.get(next(iter(ops)), ())):
                continue
            if ops == {"GRU"} and not np.any(arr):  # zero initial states (checked by gru_params)
                continue
            left.append(f"{name} {list(arr.shape)} (used by {sorted(ops) or 'nothing'})")
        return left


def gtcrn_from_onnx(onnx_path) -> Tuple[dict, Dict[str, torch.Tensor]]:
    """(GTCRN kwargs, state dict) of the authors' streaming ONNX export ``gtcrn_simple.onnx``.

    The graph is read in order: its Conv nodes are the encoder's convolutions (batch norm folded
    in by onnx-simplifier: the encoder's BatchNorm2d layers become identities), its ConvTranspose
    and BatchNormalization nodes the decoder's (kernels as in PyTorch: the streaming decoder ran
    its depthwise transposed convolutions over [cache, frame], not as flipped convolutions), its
    GRU nodes the TRA and DPGRNN GRUs (gates reordered), its MatMul nodes the ERB matrices and
    linear layers, its PRelu nodes the PReLU slopes; LayerNorm and bias tensors are found by name.
    Every tensor's shape is checked and the ERB matrices against ``erb_filter_bank``; an
    initializer left over that is not a known constant of the graph's cache bookkeeping is an
    error.  Every ValueError names the file and the node or tensor."""
    g = _Graph(onnx_path)
    kw = dict(DEFAULTS)
    c, h, k = kw["channels"], kw["channels"] // 2, kw["sfe_kernel"]
    bins, low = kw["n_fft"] // 2 + 1, kw["erb_low_bins"]
    ref = GTCRN(**kw)
    sd: Dict[str, np.ndarray] = {}

    def matmul(key: str, shape):  # y = x @ W: a Linear weight is W.T
        node = g.next("MatMul", key)
        sd[key] = g.take(node.input[1], shape).T

    def conv(key: str, op: str, shape, group: int = 1, dilation: int = 1):
        node = g.next(op, key)
        if g.attr(node, "group", 1) != group or g.attr(node, "dilations", [1, 1])[0] != dilation:
            raise ValueError(f"{onnx_path}: {op} node '{node.name}' ({key}) has group {g.attr(node, 'group', 1)}, "
                             f"time dilation {g.attr(node, 'dilations', [1, 1])[0]}; GTCRN's has {group}, {dilation}")
        sd[f"{key}.weight"] = g.take(node.input[1], shape)
        sd[f"{key}.bias"] = g.take(node.input[2], (shape[0] if op == "Conv" else shape[1] * group,))

    def batch_norm(key: str, n: int, folded: bool):
        if folded:  # identity: running_var + eps = 1
            eps = ref.get_submodule(key).eps
            sd.update({f"{key}.weight": np.ones(n, np.float32), f"{key}.bias": np.zeros(n, np.float32),
                       f"{key}.running_mean": np.zeros(n, np.float32),
                       f"{key}.running_var": np.full(n, 1 - eps, np.float32)})
        else:
            node = g.next("BatchNormalization", key)
            if not np.isclose(g.attr(node, "epsilon", 1e-5), ref.get_submodule(key).eps):
                raise ValueError(f"{onnx_path}: BatchNormalization '{node.name}' ({key}) has epsilon "
                                 f"{g.attr(node, 'epsilon', 1e-5)}, GTCRN's is 1e-5")
            for name, arr in zip(("weight", "bias", "running_mean", "running_var"), node.input[1:5]):
                sd[f"{key}.{name}"] = g.take(arr, (n,))
        sd[f"{key}.num_batches_tracked"] = np.array(0, dtype=np.int64)

    def prelu(key: str):
        node = g.next("PRelu", key)
        sd[f"{key}.weight"] = g.take(node.input[1], (1, 1, 1)).reshape(1)

    def gru(key: str, input_size: int, hidden_size: int):
        node = g.next("GRU", key)
        g.used.update(i for i in node.input[1:4] if i)
        for name, arr in gru_params(g.tensors, node, input_size, hidden_size, onnx_path).items():
            sd[f"{key}.{name}"] = arr

    def named(key: str, shape):
        sd[key] = g.take(key, shape)

    def tra(key: str):
        gru(f"{key}.att_gru", h, 2 * h)
        matmul(f"{key}.att_fc.weight", (2 * h, h))
        named(f"{key}.att_fc.bias", (h,))

    def gt_block(key: str, dilation: int, decoder: bool):
        op = "ConvTranspose" if decoder else "Conv"
        conv(f"{key}.point_conv1", op, (h * k, c, 1, 1) if decoder else (c, h * k, 1, 1))
        batch_norm(f"{key}.point_bn1", c, folded=not decoder)
        prelu(f"{key}.point_act")
        conv(f"{key}.depth_conv", op, (c, 1, 3, 3), group=c, dilation=dilation)
        batch_norm(f"{key}.depth_bn", c, folded=not decoder)
        prelu(f"{key}.depth_act")
        conv(f"{key}.point_conv2", op, (c, h, 1, 1) if decoder else (h, c, 1, 1))
        batch_norm(f"{key}.point_bn2", h, folded=not decoder)
        tra(f"{key}.tra")

    erb = g.next("MatMul", "erb.erb_fc.weight")
    sd["erb.erb_fc.weight"] = g.take(erb.input[1], (bins - low, kw["erb_bands"])).T
    conv("encoder.en_convs.0.conv", "Conv", (c, 3 * k, 1, 5))
    batch_norm("encoder.en_convs.0.bn", c, folded=True)
    prelu("encoder.en_convs.0.act")
    conv("encoder.en_convs.1.conv", "Conv", (c, c // 2, 1, 5), group=2)
    batch_norm("encoder.en_convs.1.bn", c, folded=True)
    prelu("encoder.en_convs.1.act")
    for i, d in enumerate(kw["dilations"]):
        gt_block(f"encoder.en_convs.{i + 2}", d, decoder=False)
    width = ref.dpgrnn1.intra_ln.normalized_shape[0]
    for j in range(1, kw["num_dpgrnn"] + 1):
        for path in ("intra", "inter"):
            for r in (1, 2):
                gru(f"dpgrnn{j}.{path}_rnn.rnn{r}", h, h // 2 if path == "intra" else h)
            matmul(f"dpgrnn{j}.{path}_fc.weight", (c, c))
            named(f"dpgrnn{j}.{path}_fc.bias", (c,))
            named(f"dpgrnn{j}.{path}_ln.weight", (width, c))
            named(f"dpgrnn{j}.{path}_ln.bias", (width, c))
    for i, d in enumerate(reversed(kw["dilations"])):
        gt_block(f"decoder.de_convs.{i}", d, decoder=True)
    conv("decoder.de_convs.3.conv", "ConvTranspose", (c, c // 2, 1, 5), group=2)
    batch_norm("decoder.de_convs.3.bn", c, folded=False)
    prelu("decoder.de_convs.3.act")
    conv("decoder.de_convs.4.conv", "ConvTranspose", (c, 2, 1, 5))
    batch_norm("decoder.de_convs.4.bn", 2, folded=False)
    ierb = g.next("MatMul", "erb.ierb_fc.weight")
    sd["erb.ierb_fc.weight"] = g.take(ierb.input[1], (kw["erb_bands"], bins - low)).T

    for key in ("erb.erb_fc.weight", "erb.ierb_fc.weight"):
        want = ref.state_dict()[key].numpy()
        if not np.allclose(sd[key], want, rtol=0, atol=1e-6):
            raise ValueError(f"{onnx_path}: the ERB matrix of {key} differs from GTCRN's filter bank "
                             f"(max abs difference {np.abs(sd[key] - want).max():.3g})")
    left = g.unexplained()
    if left:
        raise ValueError(f"{onnx_path}: initializers that the GTCRN conversion does not explain: {left}")
    missing = sorted(set(ref.state_dict()) - set(sd))
    if missing:  # a programming error rather than a file problem, but say which
        raise ValueError(f"{onnx_path}: no ONNX tensor converted for {missing}")
    return kw, {key: torch.from_numpy(np.array(v)) for key, v in sd.items()}
