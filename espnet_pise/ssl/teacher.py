"""The frozen SSL teacher used by the SSL losses.

ESPnet keeps enhancement criterions in a plain Python list, so a criterion's submodules are not
moved by ``model.to()``, not switched by ``train()/eval()`` and not saved.  The teacher therefore
(1) hides its upstream from any module tree (its weights can never enter an SE checkpoint or an
optimizer, whoever registers the criterion), (2) follows the device/dtype of its input on every
call and (3) is always in eval mode.  Identical teachers are shared through a cache, so several
criterions (or a joint model) hold one copy.
"""
import logging
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from typeguard import typechecked

from espnet_pise.ssl import one_pass
from espnet_pise.ssl.upstream import AbsSSLUpstream, build_upstream

_CACHE: Dict[tuple, AbsSSLUpstream] = {}


def _freeze(model: AbsSSLUpstream) -> AbsSSLUpstream:
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def shared_upstream(source: str, arch_conf: Optional[dict] = None, normalize_wav: bool = False) -> AbsSSLUpstream:
    """A frozen upstream, built once per (source, arch_conf, normalize_wav) and shared."""
    key = (source, repr(sorted((arch_conf or {}).items())), normalize_wav)
    if key not in _CACHE:
        _CACHE[key] = _freeze(build_upstream(source, arch_conf, normalize_wav))
    return _CACHE[key]


def _transformer(up: AbsSSLUpstream):
    """The torchaudio Transformer of a wav2vec2-style upstream, or None."""
    return getattr(getattr(getattr(up, "model", None), "encoder", None), "transformer", None)


def _s3prl_states(transformer, states: List[torch.Tensor], num_layers: int) -> List[torch.Tensor]:
    """s3prl's hidden states from ours: layer 0 through the positional convolution (and, in
    post-LN models, the encoder LayerNorm); in pre-LN models the last layer through the final
    LayerNorm (torchaudio's ``layer_norm_first`` is True for post-LN, fairseq's naming inverted)."""
    out = list(states)
    out[0] = transformer._preprocess(states[0])
    if len(out) == num_layers + 1 and not transformer.layer_norm_first:
        out[-1] = transformer.layer_norm(out[-1])
    return out


def min_input_samples(up: AbsSSLUpstream) -> int:
    """Shortest waveform that gives one frame: the upstream's ``min_samples`` if it says, else the
    receptive field of a wav2vec 2.0-style CNN (400 samples for HuBERT / wav2vec 2.0), else 1."""
    if hasattr(up, "min_samples"):
        return int(up.min_samples)
    convs = getattr(getattr(getattr(up, "model", None), "feature_extractor", None), "conv_layers", None)
    if convs is None:
        return 1
    field, hop = 1, 1
    for layer in convs:
        field += (layer.kernel_size - 1) * hop
        hop *= layer.stride
    return field


def _pad_to_minimum(wav: torch.Tensor, wav_lens: torch.Tensor, minimum: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """Zero-pad utterances shorter than the upstream's minimum to it (one frame of features)
    instead of failing inside the convolution; warns with their batch positions."""
    short = wav_lens < minimum
    if not bool(short.any()):
        return wav, wav_lens
    logging.warning(
        f"SSL teacher: utterances at batch positions {short.nonzero().flatten().tolist()} have "
        f"{wav_lens[short].tolist()} samples, fewer than the {minimum} its CNN needs: zero-padded to {minimum}"
    )
    valid = torch.arange(wav.shape[1], device=wav.device)[None] < wav_lens[:, None]
    wav = wav * valid.to(wav.dtype)  # what lies beyond a length must not become signal
    if wav.shape[1] < minimum:
        wav = torch.nn.functional.pad(wav, (0, minimum - wav.shape[1]))
    return wav, wav_lens.clamp(min=minimum)


class LayerSelector:
    """Picks one hidden state or a fixed weighted sum of several (weights normalised to 1)."""

    def __init__(self, layer: Union[int, Sequence[int]], weights: Optional[Sequence[float]], num_layers: int):
        layers = [layer] if isinstance(layer, int) else list(layer)
        if not layers:
            raise ValueError("layer list is empty")
        self.layers = [lay if lay >= 0 else num_layers + 1 + lay for lay in layers]
        for orig, lay in zip(layers, self.layers):
            if not 0 <= lay <= num_layers:
                raise ValueError(f"SSL layer {orig} out of range: the model has hidden states 0..{num_layers}")
        if weights is None:
            weights = [1.0] * len(self.layers)
        if len(weights) != len(self.layers):
            raise ValueError(f"{len(weights)} layer weights for {len(self.layers)} layers")
        total = float(sum(weights))
        if total <= 0:
            raise ValueError(f"layer weights must sum to a positive value, got {list(weights)}")
        self.weights = [w / total for w in weights]
        self.max_layer = max(self.layers)

    def __call__(self, states: List[torch.Tensor]) -> torch.Tensor:
        out = states[self.layers[0]] * self.weights[0]
        for lay, w in zip(self.layers[1:], self.weights[1:]):
            out = out + states[lay] * w
        return out


class SSLTeacher(torch.nn.Module):
    """Frozen SSL feature extractor: waveform (B, L) -> features (B, T, D') and lengths (B,).

    Args:
        source: s3prl upstream name, local checkpoint path, or ``torchaudio:<arch>`` (random
            weights, tests only).
        layer: hidden state index (0 = CNN projection, k = transformer block k, -1 = last) or a
            list of them.
        layer_convention: ``pise`` (default): layer 0 is the projected CNN output before the
            positional convolution and layer k the raw output of block k (pre-LN Large / XLarge
            models: no final LayerNorm); ``s3prl``: s3prl's hidden states, i.e. layer 0 after the
            positional convolution (and the encoder LayerNorm of post-LN Base models) and, for
            pre-LN models, the last layer after the encoder's final LayerNorm.
        layer_weights: fixed weights for a list of layers (default: mean).  A *learned* weighting
            cannot be trained inside a loss (ESPnet does not optimise criterions, and a loss-
            trained weighting would collapse onto the easiest layer); use the ASR frontend for that.
        l2_normalize: unit-norm each frame (cosine-like distances).
        proj_dim: fixed random orthogonal projection to this many dimensions (cheaper soft-DTW).
        proj_seed: seed of that projection.
        arch_conf: overrides for the architecture (``torchaudio:custom``) or checkpoint hints.
        normalize_wav: per-utterance waveform normalisation (wav2vec2-large / WavLM upstreams).
    """

    @typechecked
    def __init__(
        self,
        source: str = "hubert_base",
        layer: Union[int, List[int]] = -1,
        layer_weights: Optional[List[float]] = None,
        l2_normalize: bool = False,
        proj_dim: Optional[int] = None,
        proj_seed: int = 0,
        arch_conf: Optional[dict] = None,
        normalize_wav: bool = False,
        layer_convention: str = "pise",
    ):
        super().__init__()
        if layer_convention not in ("pise", "s3prl"):
            raise ValueError(f"layer_convention must be 'pise' or 's3prl', got '{layer_convention}'")
        upstream = shared_upstream(source, arch_conf, normalize_wav)
        if layer_convention == "s3prl" and _transformer(upstream) is None:
            raise ValueError(f"layer_convention 's3prl' needs a torchaudio wav2vec2-style upstream, not {source}")
        self.layer_convention = layer_convention
        # a tuple hides the module from named_parameters()/state_dict()/.to() of any parent
        self._upstream: Tuple[AbsSSLUpstream] = (upstream,)
        self.source = source
        self._share_key = one_pass.source_key(source, arch_conf, normalize_wav)
        self.selector = LayerSelector(layer, layer_weights, upstream.num_layers)
        self.l2_normalize = l2_normalize
        self.out_dim = upstream.dim
        self._proj: Optional[torch.Tensor] = None
        if proj_dim is not None:
            if not 0 < proj_dim <= upstream.dim:
                raise ValueError(f"proj_dim must be in [1, {upstream.dim}], got {proj_dim}")
            gen = torch.Generator().manual_seed(proj_seed)
            q, _ = torch.linalg.qr(torch.randn(upstream.dim, proj_dim, generator=gen))
            # scaled so that squared distances are preserved in expectation
            self._proj = q * (upstream.dim / proj_dim) ** 0.5
            self.out_dim = proj_dim

    @property
    def upstream(self) -> AbsSSLUpstream:
        return self._upstream[0]

    @property
    def hop(self) -> int:
        return self.upstream.hop

    def _follow(self, wav: torch.Tensor) -> AbsSSLUpstream:
        up = self.upstream
        p = next(up.parameters())
        if p.device != wav.device or p.dtype != wav.dtype:
            up.to(device=wav.device, dtype=wav.dtype)
        if up.training:
            up.eval()
        return up

    def forward(self, wav: torch.Tensor, wav_lens: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        """Features of wav (B, L) with valid lengths wav_lens (B,) -> (B, T, D'), (B,).

        Frames beyond each length are zero.  Gradients flow to ``wav`` only.
        """
        if wav.dim() != 2:
            raise ValueError(f"expected a (B, L) waveform, got shape {tuple(wav.shape)}")
        if wav_lens is None:
            wav_lens = torch.full((wav.shape[0],), wav.shape[1], dtype=torch.long, device=wav.device)
        # under AMP (GPU fp16/bf16 autocast, CPU bf16) the frozen model runs in float32: a
        # half-precision enhancer output is upcast (its gradient flows back through the cast),
        # autocast is off inside, and the shared weights are never converted to half precision
        with torch.autocast(wav.device.type, enabled=False):
            if wav.dtype in (torch.float16, torch.bfloat16):
                wav = wav.float()
            return self._features(wav, wav_lens)

    def _features(self, wav: torch.Tensor, wav_lens: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        up = self._follow(wav)
        wav_lens = wav_lens.to(wav.device)
        wav, wav_lens = _pad_to_minimum(wav, wav_lens, min_input_samples(up))
        states, lens = one_pass.run_once(self._share_key, wav, wav_lens, self.selector.max_layer,
                                         lambda n: up(wav, wav_lens, max_layer=n))
        if self.layer_convention == "s3prl":
            states = _s3prl_states(_transformer(up), states, up.num_layers)
        feats = self.selector(states)
        if self._proj is not None:
            feats = feats @ self._proj.to(feats.device, feats.dtype)
        if self.l2_normalize:
            feats = torch.nn.functional.normalize(feats, dim=-1)
        mask = torch.arange(feats.shape[1], device=feats.device)[None] < lens[:, None]
        return feats * mask.unsqueeze(-1).to(feats.dtype), lens
