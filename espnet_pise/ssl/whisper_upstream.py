"""Whisper's encoder as a frozen SSL teacher / frontend upstream (``ssl_source: whisper:PATH``).

Hidden states 0..6 of Whisper base: 0 = convolutions + positional embedding, k = block k, the
last one after the final LayerNorm; 512 dims, 20 ms frames (``hop`` 320 samples, so the padding
of ``ssl_mse_pad`` moves whole frames).  The positional embedding is absolute (added sinusoids).
Options (the loss's or frontend's ``arch_conf``): ``pad_to_s`` (seconds of zero-padded window;
default null: the teacher sees the utterance alone); ``fit_margin_s`` with ``fit_step_s`` (a
window fitted to each utterance instead: its length plus the margin, rounded up to the step;
never shorter than the utterance); ``compute_dtype`` (``float32``, default, or ``bfloat16``:
the encoder blocks under bf16 autocast, log-mel and returned states float32).  See docs/teachers.md
and ``bench/ssl_step.py`` for the measured cost and fidelity of the choices.
"""
from pathlib import Path
from typing import Optional

import torch

from espnet_pise.ssl.abs_upstream import AbsSSLUpstream
from espnet_pise.ssl.whisper_model import HOP, N_FFT, encoder_states, load_whisper, window_samples

OPTIONS = ("pad_to_s", "fit_margin_s", "fit_step_s", "compute_dtype")
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


class WhisperUpstream(AbsSSLUpstream):
    """Whisper encoder: waveform (B, L) -> hidden states [(B, T, 512)] * 7 and frame lengths (B,)."""

    min_samples = N_FFT  # one 25 ms analysis window

    def __init__(self, path: str, pad_to_s: Optional[float] = None, normalize_wav: bool = False,
                 fit_margin_s: Optional[float] = None, fit_step_s: float = 1.0, compute_dtype: str = "float32"):
        super().__init__()
        if compute_dtype not in DTYPES:
            raise ValueError(f"whisper:{path}: compute_dtype must be one of {sorted(DTYPES)}, got {compute_dtype!r}")
        window_samples(torch.zeros(1, dtype=torch.long), pad_to_s, fit_margin_s, fit_step_s)  # option errors now
        if normalize_wav:
            raise ValueError("normalize_wav does not apply to Whisper (its log-mel is normalised itself)")
        if not Path(path).is_file():
            raise FileNotFoundError(f"whisper:{path}: no such Whisper checkpoint (make one with "
                                    "`python -m espnet_pise.bin.get_whisper --out_dir DIR`)")
        self.encoder = load_whisper(path).encoder  # the decoder is not needed
        self.pad_to_s, self.fit_margin_s, self.fit_step_s = pad_to_s, fit_margin_s, fit_step_s
        self.compute_dtype = DTYPES[compute_dtype]
        self._hop = HOP
        self._layers = len(self.encoder.blocks)
        self._dim = self.encoder.ln_post.normalized_shape[0]

    def forward(self, wav, wav_lens, max_layer=None):
        return encoder_states(self.encoder, wav, wav_lens, max_layer, self.pad_to_s, fit_margin_s=self.fit_margin_s,
                              fit_step_s=self.fit_step_s, compute_dtype=self.compute_dtype)


def build(source: str, arch_conf: dict, normalize_wav: bool) -> WhisperUpstream:
    """``whisper:PATH`` with options from arch_conf."""
    unknown = set(arch_conf) - set(OPTIONS)
    if unknown:
        raise ValueError(f"{source}: unknown Whisper option(s) {sorted(unknown)}; known: {OPTIONS}")
    return WhisperUpstream(source.split(":", 1)[1], normalize_wav=normalize_wav, **arch_conf)
