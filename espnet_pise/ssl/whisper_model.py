"""OpenAI Whisper from local files: CTranslate2 conversion, loading, log-mel and encoder states.

Shared by the loss teacher (``espnet_pise.ssl.whisper_upstream``) and the ESPnet recogniser
(``espnet_pise.asr.whisper``).  The model class is openai-whisper's own ``whisper.model.Whisper``;
what this module adds is what openai-whisper cannot do here: read CTranslate2's ``model.bin``
(the only Whisper weights obtainable offline), load a checkpoint from a path with errors that
name it, and run the encoder on *unpadded* input with per-utterance lengths (openai-whisper's
``AudioEncoder.forward`` accepts exactly 30 s only).

Frames: the log-mel has a 10 ms hop (160 samples; the last STFT frame is dropped, so L samples
give L // 160 frames); the encoder's second convolution has stride 2, so a Whisper frame is 20 ms
(``HOP`` = 320 samples) and L samples give ceil((L // 160) / 2) frames.
"""
import contextlib
import hashlib
from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F

from espnet_pise.checkpoint import load_checkpoint_file
from espnet_pise.ssl.ctranslate2 import CT2Model

SAMPLE_RATE = 16000
MEL_HOP = 160
HOP = 2 * MEL_HOP  # samples per encoder frame (20 ms)
N_FFT = 400
WINDOW_SAMPLES = 30 * SAMPLE_RATE  # Whisper's input window
MAX_FRAMES = 1500  # encoder positions (30 s)


# --------------------------------------------------------------------------- CTranslate2 -> PyTorch
def _ln(sd, dst, src, v):
    sd[f"{dst}.weight"], sd[f"{dst}.bias"] = v[f"{src}/gamma"], v[f"{src}/beta"]


def _linear(sd, dst, src, v, bias=True):
    sd[f"{dst}.weight"] = v[f"{src}/weight"]
    if bias:
        sd[f"{dst}.bias"] = v[f"{src}/bias"]


def _split_fused(sd, dst_names, src, v, parts):
    """CTranslate2 fuses q,k,v (or k,v) into one linear; Whisper's key projection has no bias."""
    w = np.split(v[f"{src}/weight"], parts)
    b = np.split(v[f"{src}/bias"], parts)
    for name, wi, bi in zip(dst_names, w, b):
        sd[f"{name}.weight"] = wi
        if name.endswith(".key"):
            if np.any(bi != 0):
                raise ValueError(f"{src}: non-zero key bias (Whisper's key projection has none)")
        else:
            sd[f"{name}.bias"] = bi


def _block(sd, d, s, v):
    """Self-attention and feed-forward of one encoder or decoder block (ct2 ``s`` -> whisper ``d``)."""
    _ln(sd, f"{d}.attn_ln", f"{s}/self_attention/layer_norm", v)
    _split_fused(sd, [f"{d}.attn.query", f"{d}.attn.key", f"{d}.attn.value"], f"{s}/self_attention/linear_0", v, 3)
    _linear(sd, f"{d}.attn.out", f"{s}/self_attention/linear_1", v)
    _ln(sd, f"{d}.mlp_ln", f"{s}/ffn/layer_norm", v)
    _linear(sd, f"{d}.mlp.0", f"{s}/ffn/linear_0", v)
    _linear(sd, f"{d}.mlp.2", f"{s}/ffn/linear_1", v)


def _layer_count(v: Dict[str, np.ndarray], prefix: str) -> int:
    n = 0
    while f"{prefix}/layer_{n}/ffn/linear_0/weight" in v:
        n += 1
    return n


def whisper_from_ct2(ct2: CT2Model) -> Tuple[dict, Dict[str, torch.Tensor]]:
    """openai-whisper ``ModelDimensions`` kwargs and float32 state dict of a CTranslate2 WhisperSpec."""
    if ct2.spec != "WhisperSpec":
        raise ValueError(f"not a CTranslate2 Whisper model (spec {ct2.spec!r})")
    v = ct2.variables
    n_enc, n_dec = _layer_count(v, "encoder"), _layer_count(v, "decoder")
    sd: Dict[str, np.ndarray] = {}
    for i in (1, 2):
        _linear(sd, f"encoder.conv{i}", f"encoder/conv{i}", v)
    sd["encoder.positional_embedding"] = v["encoder/position_encodings/encodings"]
    _ln(sd, "encoder.ln_post", "encoder/layer_norm", v)
    for i in range(n_enc):
        _block(sd, f"encoder.blocks.{i}", f"encoder/layer_{i}", v)
    sd["decoder.token_embedding.weight"] = v["decoder/embeddings/weight"]
    sd["decoder.positional_embedding"] = v["decoder/position_encodings/encodings"]
    _ln(sd, "decoder.ln", "decoder/layer_norm", v)
    for i in range(n_dec):
        s, d = f"decoder/layer_{i}", f"decoder.blocks.{i}"
        _block(sd, d, s, v)
        _ln(sd, f"{d}.cross_attn_ln", f"{s}/attention/layer_norm", v)
        _linear(sd, f"{d}.cross_attn.query", f"{s}/attention/linear_0", v)
        _split_fused(sd, [f"{d}.cross_attn.key", f"{d}.cross_attn.value"], f"{s}/attention/linear_1", v, 2)
        _linear(sd, f"{d}.cross_attn.out", f"{s}/attention/linear_2", v)
    dims = dict(
        n_mels=int(v["encoder/conv1/weight"].shape[1]),
        n_audio_ctx=int(v["encoder/position_encodings/encodings"].shape[0]),
        n_audio_state=int(v["encoder/conv1/weight"].shape[0]),
        n_audio_head=int(v["encoder/num_heads"]),
        n_audio_layer=n_enc,
        n_vocab=int(v["decoder/embeddings/weight"].shape[0]),
        n_text_ctx=int(v["decoder/position_encodings/encodings"].shape[0]),
        n_text_state=int(v["decoder/embeddings/weight"].shape[1]),
        n_text_head=int(v["decoder/num_heads"]),
        n_text_layer=n_dec,
    )
    return dims, {k: torch.from_numpy(np.asarray(a, dtype=np.float32).copy()) for k, a in sd.items()}


def state_dict_digest(sd: Dict[str, torch.Tensor]) -> str:
    """sha256 over the names, shapes and float32 bytes of a state dict (in sorted name order)."""
    h = hashlib.sha256()
    for k in sorted(sd):
        t = sd[k].detach().to(torch.float32).contiguous().cpu()
        h.update(k.encode() + repr(tuple(t.shape)).encode() + t.numpy().tobytes())
    return h.hexdigest()


# --------------------------------------------------------------------------- loading
def load_whisper(path: Union[str, Path]):
    """``whisper.model.Whisper`` (float32, eval) from an openai-whisper checkpoint file
    (``{"dims", "model_state_dict"}``, as OpenAI releases them and ``get_whisper`` writes them)."""
    from whisper.model import ModelDimensions, Whisper

    p = Path(path)
    ckpt = load_checkpoint_file(p, "Whisper checkpoint")
    if not (isinstance(ckpt, dict) and "dims" in ckpt and "model_state_dict" in ckpt):
        keys = list(ckpt)[:5] if isinstance(ckpt, dict) else type(ckpt).__name__
        raise ValueError(f"{p}: not an openai-whisper checkpoint (expected keys 'dims' and 'model_state_dict', "
                         f"got {keys}); convert a CTranslate2 model.bin with `python -m espnet_pise.bin.get_whisper`")
    model = Whisper(ModelDimensions(**ckpt["dims"]))
    missing, unexpected = model.load_state_dict(ckpt["model_state_dict"], strict=False)
    missing = [k for k in missing if k not in ("alignment_heads",)]
    if missing or unexpected:
        raise ValueError(f"{p}: Whisper checkpoint does not match its dims (missing {missing[:5]}, "
                         f"unexpected {unexpected[:5]})")
    return model.float().eval()


# --------------------------------------------------------------------------- features
def mel_frames(n_samples: torch.Tensor) -> torch.Tensor:
    return torch.div(n_samples, MEL_HOP, rounding_mode="floor")


def encoder_frames(n_samples: torch.Tensor) -> torch.Tensor:
    """Encoder frames of waveforms with n_samples samples: ceil((n // 160) / 2)."""
    return torch.div(mel_frames(n_samples) + 1, 2, rounding_mode="floor")


def log_mel(wav: torch.Tensor, n_mels: int = 80) -> torch.Tensor:
    """Whisper's log-mel of one waveform (L,) -> (n_mels, L // 160), differentiable.

    As ``whisper.audio.log_mel_spectrogram``: power STFT (400-point Hann, hop 160, last frame
    dropped), mel filters, log10, floor at max - 8, (x + 4) / 4.
    """
    from whisper.audio import mel_filters

    window = torch.hann_window(N_FFT, device=wav.device, dtype=wav.dtype)
    stft = torch.stft(wav, N_FFT, MEL_HOP, window=window, return_complex=True)
    power = stft[..., :-1].abs() ** 2
    mel = mel_filters(wav.device, n_mels).to(wav.dtype) @ power
    log_spec = torch.clamp(mel, min=1e-10).log10()
    log_spec = torch.maximum(log_spec, log_spec.max().detach() - 8.0)
    return (log_spec + 4.0) / 4.0


def window_samples(wav_lens: torch.Tensor, pad_to_s: Optional[float] = None, fit_margin_s: Optional[float] = None,
                   fit_step_s: float = 1.0) -> torch.Tensor:
    """Samples of each utterance's zero-padded input window (B,), never fewer than its own length.

    ``pad_to_s``: one fixed window (an utterance longer than it keeps its own length);
    ``fit_margin_s``: a window fitted to the utterance, its length plus the margin rounded up to a
    multiple of ``fit_step_s`` seconds, at most Whisper's 30 s (and at least the utterance); neither:
    the utterance alone.  A window depends on its own utterance only, never on the batch.
    """
    if pad_to_s is not None and fit_margin_s is not None:
        raise ValueError(f"pad_to_s ({pad_to_s}) and fit_margin_s ({fit_margin_s}) exclude each other: "
                         "a fixed window or one fitted to each utterance")
    if pad_to_s is not None and not 0 < pad_to_s <= WINDOW_SAMPLES / SAMPLE_RATE:
        raise ValueError(f"pad_to_s must be in (0, 30] seconds, got {pad_to_s}")
    if fit_margin_s is None:
        target = 0 if pad_to_s is None else int(round(pad_to_s * SAMPLE_RATE))
        return torch.clamp(wav_lens, min=target)
    if fit_margin_s < 0 or not 0 < fit_step_s <= 30:
        raise ValueError(f"need fit_margin_s >= 0 and fit_step_s in (0, 30], got {fit_margin_s}, {fit_step_s}")
    step = int(round(fit_step_s * SAMPLE_RATE))
    margin = int(round(fit_margin_s * SAMPLE_RATE))
    fitted = torch.div(wav_lens + margin + step - 1, step, rounding_mode="floor") * step
    return torch.maximum(torch.clamp(fitted, max=WINDOW_SAMPLES), wav_lens)


def encoder_states(
    encoder, wav: torch.Tensor, wav_lens: torch.Tensor, max_layer: Optional[int] = None,
    pad_to_s: Optional[float] = None, whole_window: bool = False, fit_margin_s: Optional[float] = None,
    fit_step_s: float = 1.0, compute_dtype: Optional[torch.dtype] = None,
) -> Tuple[List[torch.Tensor], torch.Tensor]:
    """Hidden states of Whisper's encoder for waveforms (B, L) with lengths (B,).

    Returns ``[state_0, ..., state_K]`` each (B, T, D), K = max_layer (default: all blocks), and
    frame lengths (B,).  state_0 is the convolution output plus the positional embedding (what
    enters block 1), state_k the output of block k, and the last block's state goes through the
    final LayerNorm (``ln_post``), as the decoder sees it.  Frames beyond a length are zero.

    ``pad_to_s``: zero-pad each utterance to this many seconds (at least its own length) before
    the log-mel, as Whisper was trained with 30 s (the cost grows with the window: 30 s costs
    10-15x a 4 s utterance alone); ``None`` encodes the utterance alone (positions 0..T-1 of the
    positional embedding).  Only the utterance's own frames are returned, unless
    ``whole_window``: then all frames of the padded window, which Whisper's decoder was trained
    to attend to (without the trailing silence it loops).  ``fit_margin_s`` / ``fit_step_s``: a
    window fitted to each utterance instead (``window_samples``).  Every utterance is encoded on
    its own samples, so padding in the batch never changes a feature.

    ``compute_dtype``: ``torch.bfloat16`` runs the convolutions and blocks under bf16 autocast
    (matrix products in bf16, LayerNorm and softmax in float32, states returned in float32); the
    log-mel is always float32 with autocast off (its log10 and max - 8 floor need the range).
    ``None``: whatever autocast state the caller set for the blocks.
    """
    if whole_window and pad_to_s is None and fit_margin_s is None:
        raise ValueError("whole_window needs pad_to_s or fit_margin_s")
    if compute_dtype not in (None, torch.float32, torch.bfloat16):
        raise ValueError(f"compute_dtype must be float32 or bfloat16, got {compute_dtype}")
    n_blocks = len(encoder.blocks)
    max_layer = n_blocks if max_layer is None else max_layer
    too_long = wav_lens > WINDOW_SAMPLES
    if bool(too_long.any()):
        b = int(too_long.nonzero()[0, 0])
        raise ValueError(f"utterance {b} of the batch has {int(wav_lens[b])} samples "
                         f"({int(wav_lens[b]) / SAMPLE_RATE:.1f} s): longer than Whisper's 30 s window")
    if bool((wav_lens < N_FFT).any()):
        b = int((wav_lens < N_FFT).nonzero()[0, 0])
        raise ValueError(f"utterance {b} of the batch has {int(wav_lens[b])} samples: Whisper needs at "
                         f"least {N_FFT} (one 25 ms analysis window)")
    padded_lens = window_samples(wav_lens, pad_to_s, fit_margin_s, fit_step_s)
    frames = encoder_frames(padded_lens if whole_window else wav_lens)
    n_mels = encoder.conv1.in_channels
    per_utt = []
    with torch.autocast(wav.device.type, enabled=False):
        for b in range(wav.shape[0]):
            x = wav[b, : int(wav_lens[b])].float()
            per_utt.append(log_mel(F.pad(x, (0, int(padded_lens[b]) - x.shape[0])), n_mels))
    if compute_dtype is None:
        blocks_autocast = contextlib.nullcontext()
    else:
        blocks_autocast = torch.autocast(wav.device.type, dtype=torch.bfloat16, enabled=compute_dtype == torch.bfloat16)
    # utterances of equal mel length run as one batch
    states: List[List[torch.Tensor]] = [[None] * wav.shape[0] for _ in range(max_layer + 1)]
    groups: Dict[int, List[int]] = {}
    for b, m in enumerate(per_utt):
        groups.setdefault(m.shape[1], []).append(b)
    for idx in groups.values():
        x = torch.stack([per_utt[b] for b in idx])
        with blocks_autocast:
            x = F.gelu(encoder.conv1(x))
            x = F.gelu(encoder.conv2(x)).permute(0, 2, 1)
            x = x + encoder.positional_embedding[: x.shape[1]].to(x.dtype)
            out = [x]
            for k, block in enumerate(encoder.blocks[:max_layer]):
                x = block(x)
                out.append(encoder.ln_post(x) if k == n_blocks - 1 else x)
        if compute_dtype is not None:
            out = [s.float() for s in out]
        for layer, s in enumerate(out):
            for j, b in enumerate(idx):
                states[layer][b] = s[j, : int(frames[b])]
    padded = [torch.nn.utils.rnn.pad_sequence(s, batch_first=True) for s in states]
    return padded, frames.to(wav.device)
