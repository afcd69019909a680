"""Whisper as an ESPnet ASR model: encoder ``pise_whisper`` and decoder ``pise_whisper``.

ESPnet 202511's own ``OpenAIWhisperEncoder/Decoder`` accept only model *names* and download them;
these load a local openai-whisper checkpoint (``python -m espnet_pise.bin.get_whisper`` makes one).
Use them with ``frontend: null``, ``normalize: null``, ``input_size: 1`` (raw 16 kHz waveform in),
``token_type: whisper_multilingual``, ``bpemodel: whisper_multilingual``, the token list of
``espnet_pise.asr.whisper_tokenizer.token_list`` and ``model_conf: {ctc_weight: 0.0, sym_sos:
"<|startoftranscript|>", sym_eos: "<|endoftext|>"}`` (``espnet_pise.bin.whisper_asr_config``
writes such a config).  Decoding through ESPnet's ``asr_inference`` then starts every hypothesis
with ``<|startoftranscript|><|en|><|transcribe|><|notimestamps|>``.
"""
from typing import Any, List, Optional, Tuple

import torch
import torch.nn.functional as F
from espnet2.asr.decoder.abs_decoder import AbsDecoder
from espnet2.asr.encoder.abs_encoder import AbsEncoder
from espnet.nets.scorer_interface import BatchScorerInterface
from typeguard import typechecked

from espnet_pise.ssl import one_pass
from espnet_pise.ssl.whisper_model import encoder_states, load_whisper


def _set_trainable(module: torch.nn.Module, trainable: bool) -> None:
    for p in module.parameters():
        p.requires_grad_(trainable)


class PiseWhisperEncoder(AbsEncoder):
    """Waveform (B, L) at 16 kHz -> Whisper encoder output (B, T, D), T = ceil((L // 160) / 2).

    Args:
        input_size: ignored (ESPnet passes the frontend size; the input is the waveform).
        whisper_model: path of an openai-whisper checkpoint.
        pad_to_s: zero-pad each utterance to this many seconds (30: as Whisper was trained) and
            return all frames of that window, which Whisper's decoder attends to (see
            ``espnet_pise.ssl.whisper_model.encoder_states``); null: the utterance alone (Whisper's
            decoder then tends to loop).
        freeze: no gradient to the weights (gradients still reach the input waveform).
    """

    @typechecked
    def __init__(self, input_size: int = 1, whisper_model: str = "whisper_base.pt", pad_to_s: Optional[float] = 30.0,
                 freeze: bool = True):
        super().__init__()
        self.encoders = load_whisper(whisper_model).encoder
        self.pad_to_s, self.freeze = pad_to_s, freeze
        _set_trainable(self.encoders, not freeze)
        # unpadded, a frozen teacher with the same source (default options) computes the same
        # states: the enhanced speech then goes through Whisper's encoder once
        self._share_key = one_pass.source_key(f"whisper:{whisper_model}", {"pad_to_s": pad_to_s, "whole_window": True} if pad_to_s else {}, False)

    def output_size(self) -> int:
        return self.encoders.ln_post.normalized_shape[0]

    def forward(self, xs_pad: torch.Tensor, ilens: torch.Tensor, prev_states: Optional[torch.Tensor] = None
                ) -> Tuple[torch.Tensor, torch.Tensor, None]:
        if self.freeze:
            self.encoders.eval()
            n = len(self.encoders.blocks)
            states, lens = one_pass.run_once(
                self._share_key, xs_pad, ilens, n,
                lambda k: encoder_states(self.encoders, xs_pad, ilens, k, self.pad_to_s, self.pad_to_s is not None))
        else:
            states, lens = encoder_states(self.encoders, xs_pad, ilens, None, self.pad_to_s, self.pad_to_s is not None)
        return states[-1], lens, None


def _cross_attention(attn, x: torch.Tensor, k: torch.Tensor, v: torch.Tensor, key_mask: Optional[torch.Tensor]):
    """Whisper cross-attention with precomputed keys/values and a key padding mask (B, T) (True = valid)."""
    q = attn.query(x)
    b, n, d = q.shape
    h = attn.n_head
    q, k, v = (t.view(t.shape[0], t.shape[1], h, d // h).transpose(1, 2) for t in (q, k, v))
    mask = None if key_mask is None else key_mask[:, None, None, :]
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    return attn.out(out.transpose(1, 2).reshape(b, n, d))


class PiseWhisperDecoder(AbsDecoder, BatchScorerInterface):
    """Whisper's text decoder as an ESPnet decoder and batch scorer.

    Cross-attention keys and values of the encoder output are computed once per utterance
    (``init_state``) and masked to the valid frames in training; self-attention reruns on the
    prefix (hypotheses are short).

    Args:
        vocab_size, encoder_output_size: from ESPnet; must match the checkpoint.
        whisper_model: path of an openai-whisper checkpoint.
        freeze: no gradient to the weights.
    """

    @typechecked
    def __init__(self, vocab_size: int, encoder_output_size: int, whisper_model: str = "whisper_base.pt",
                 freeze: bool = True):
        super().__init__()
        self.decoders = load_whisper(whisper_model).decoder
        n_vocab, d = self.decoders.token_embedding.weight.shape
        if vocab_size != n_vocab or encoder_output_size != d:
            raise ValueError(f"{whisper_model}: the decoder has {n_vocab} tokens and {d} dims, the ESPnet model "
                             f"{vocab_size} tokens and encoder output {encoder_output_size}: use Whisper's token list")
        self.freeze = freeze
        _set_trainable(self.decoders, not freeze)

    def _cross_kv(self, hs: torch.Tensor) -> List[Tuple[torch.Tensor, torch.Tensor]]:
        return [(blk.cross_attn.key(hs), blk.cross_attn.value(hs)) for blk in self.decoders.blocks]

    def _run(self, ys: torch.Tensor, kv: List[Tuple[torch.Tensor, torch.Tensor]], key_mask) -> torch.Tensor:
        dec = self.decoders
        n = ys.shape[1]
        if n > dec.positional_embedding.shape[0]:
            raise ValueError(f"{n} tokens: longer than Whisper's {dec.positional_embedding.shape[0]}-token context")
        x = dec.token_embedding(ys) + dec.positional_embedding[:n]
        for blk, (k, v) in zip(dec.blocks, kv):
            x = x + blk.attn(blk.attn_ln(x), mask=dec.mask)[0]  # openai-whisper: a mask means causal
            x = x + _cross_attention(blk.cross_attn, blk.cross_attn_ln(x), k, v, key_mask)
            x = x + blk.mlp(blk.mlp_ln(x))
        x = dec.ln(x)
        return x @ dec.token_embedding.weight.t()

    def forward(self, hs_pad: torch.Tensor, hlens: torch.Tensor, ys_in_pad: torch.Tensor, ys_in_lens: torch.Tensor
                ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Teacher-forced logits (B, L, V) for encoder output (B, T, D) and token prefixes (B, L)."""
        if self.freeze:
            self.decoders.eval()
        key_mask = torch.arange(hs_pad.shape[1], device=hs_pad.device)[None] < hlens[:, None]
        ys = ys_in_pad.masked_fill(ys_in_pad < 0, 0)  # ESPnet pads with -1 beyond each length
        return self._run(ys, self._cross_kv(hs_pad), key_mask), ys_in_lens

    def init_state(self, x: torch.Tensor) -> Any:
        return self._cross_kv(x.unsqueeze(0))

    def score(self, ys: torch.Tensor, state: Any, x: torch.Tensor):
        logp, states = self.batch_score(ys.unsqueeze(0), [state], x.unsqueeze(0))
        return logp[0], states[0]

    def batch_score(self, ys: torch.Tensor, states: List[Any], xs: torch.Tensor):
        """Log-probabilities (n_batch, V) of the next token after each prefix ys (n_batch, L)."""
        if states[0] is None:
            states = [self._cross_kv(xs[i : i + 1]) for i in range(xs.shape[0])]
        if all(s is states[0] for s in states):  # the hypotheses of one utterance share it
            kv = [(k.expand(ys.shape[0], -1, -1), v.expand(ys.shape[0], -1, -1)) for k, v in states[0]]
        else:
            kv = [(torch.cat([s[i][0] for s in states]), torch.cat([s[i][1] for s in states]))
                  for i in range(len(states[0]))]
        logits = self._run(ys, kv, None)[:, -1]
        return torch.log_softmax(logits.float(), dim=-1), states
