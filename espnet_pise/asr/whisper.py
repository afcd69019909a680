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
import zlib
from types import SimpleNamespace
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from espnet2.asr.decoder.abs_decoder import AbsDecoder
from espnet2.asr.encoder.abs_encoder import AbsEncoder
from espnet.nets.scorer_interface import BatchScorerInterface
from typeguard import typechecked

from espnet_pise.ssl import one_pass
from espnet_pise.ssl.whisper_model import encoder_states, load_whisper, window_samples


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
        fit_margin_s, fit_step_s: instead of ``pad_to_s`` (set it to null), a window fitted to
            each utterance: its length plus ``fit_margin_s``, rounded up to ``fit_step_s`` seconds
            (``espnet_pise.ssl.whisper_model.window_samples``).
    """

    @typechecked
    def __init__(self, input_size: int = 1, whisper_model: str = "whisper_base.pt", pad_to_s: Optional[float] = 30.0,
                 freeze: bool = True, fit_margin_s: Optional[float] = None, fit_step_s: float = 1.0):
        super().__init__()
        self.encoders = load_whisper(whisper_model).encoder
        self.pad_to_s, self.freeze = pad_to_s, freeze
        self.fit_margin_s, self.fit_step_s = fit_margin_s, fit_step_s
        window_samples(torch.zeros(1, dtype=torch.long), pad_to_s, fit_margin_s, fit_step_s)  # option errors now
        _set_trainable(self.encoders, not freeze)
        # unpadded, a frozen teacher with the same source (default options) computes the same
        # states: the enhanced speech then goes through Whisper's encoder once
        window = {"pad_to_s": pad_to_s} if fit_margin_s is None else {"fit_margin_s": fit_margin_s, "fit_step_s": fit_step_s}
        self._share_key = one_pass.source_key(f"whisper:{whisper_model}", {**window, "whole_window": True}
                                              if pad_to_s or fit_margin_s is not None else {}, False)

    def output_size(self) -> int:
        return self.encoders.ln_post.normalized_shape[0]

    def forward(self, xs_pad: torch.Tensor, ilens: torch.Tensor, prev_states: Optional[torch.Tensor] = None
                ) -> Tuple[torch.Tensor, torch.Tensor, None]:
        whole = self.pad_to_s is not None or self.fit_margin_s is not None

        def run(k):
            return encoder_states(self.encoders, xs_pad, ilens, k, self.pad_to_s, whole, self.fit_margin_s, self.fit_step_s)

        if self.freeze:
            self.encoders.eval()
            states, lens = one_pass.run_once(self._share_key, xs_pad, ilens, len(self.encoders.blocks), run)
        else:
            states, lens = run(None)
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


# --------------------------------------------------------------------------- batched greedy decoding
def _kv_cache_hooks(decoder) -> Tuple[dict, list]:
    """openai-whisper's own key/value cache hooks (``Whisper.install_kv_cache_hooks``) on a
    ``TextDecoder``: self-attention keys/values grow by one token per step, cross-attention
    keys/values of the audio are computed on the first step and reused."""
    from whisper.model import Whisper

    owner = SimpleNamespace(decoder=decoder, dims=SimpleNamespace(n_text_ctx=decoder.positional_embedding.shape[0]))
    return Whisper.install_kv_cache_hooks(owner)


def whisper_tokenizer(n_vocab: int):
    """openai-whisper's tokenizer of a model with n_vocab tokens (English, transcribe)."""
    from whisper.tokenizer import get_tokenizer

    return get_tokenizer(multilingual=n_vocab >= 51865, num_languages=n_vocab - 51765 - (n_vocab >= 51865),
                         language="en", task="transcribe")


def suppressed_tokens(tokenizer, suppress_tokens: str) -> List[int]:
    """Token ids openai-whisper suppresses for ``DecodingOptions.suppress_tokens`` (``"-1"``: its
    non-speech symbols; a comma-separated list; ``""``: none), plus the special tokens it always
    suppresses (its ``DecodingTask._get_suppress_tokens``)."""
    from whisper.decoding import DecodingTask

    task = SimpleNamespace(options=SimpleNamespace(suppress_tokens=suppress_tokens or ""), tokenizer=tokenizer)
    return list(DecodingTask._get_suppress_tokens(task))


@torch.no_grad()
def cross_kv(decoder, enc: torch.Tensor, compute_dtype: torch.dtype = torch.float32
             ) -> List[Tuple[torch.Tensor, torch.Tensor]]:
    """Cross-attention keys and values, each (B, T, D) in enc's dtype, of every block of a
    ``whisper.model.TextDecoder`` for encoder outputs enc (B, T, D).

    Each utterance is projected on its own, so its keys and values never depend on the batch
    (a matrix product of B * T rows may round differently from one of T rows), and a caller that
    decodes an utterance several times (the temperature fallback) projects it once.
    ``compute_dtype`` ``torch.bfloat16``: the projections under bf16 autocast (on a CPU with
    AVX512-BF16 about 2.5x faster than float32; the values are rounded to bf16).
    """
    if compute_dtype not in (torch.float32, torch.bfloat16):
        raise ValueError(f"compute_dtype must be float32 or bfloat16, got {compute_dtype}")
    # what bf16 autocast computes, with each weight and input cast once instead of on every call
    projections = [(lin.weight.to(compute_dtype), None if lin.bias is None else lin.bias.to(compute_dtype))
                   for blk in decoder.blocks for lin in (blk.cross_attn.key, blk.cross_attn.value)]
    out = [torch.empty(enc.shape[0], enc.shape[1], w.shape[0], dtype=enc.dtype, device=enc.device) for w, _ in projections]
    with torch.autocast(enc.device.type, enabled=False):
        for b in range(enc.shape[0]):
            x = enc[b].to(compute_dtype)
            for o, (w, bias) in zip(out, projections):
                o[b] = F.linear(x, w, bias)
    return list(zip(out[0::2], out[1::2]))


@torch.no_grad()
def greedy_batch(decoder, enc: torch.Tensor, prompt: List[int], eot: int, max_tokens: int, temperature: float = 0.0,
                 generators: Optional[List[torch.Generator]] = None, logit_filters: Sequence = (),
                 no_speech: Optional[int] = None, kv: Optional[List[Tuple[torch.Tensor, torch.Tensor]]] = None
                 ) -> List[dict]:
    """Greedy (or, at temperature > 0, sampled) decoding of a batch with openai-whisper's ``TextDecoder``.

    Args:
        decoder: ``whisper.model.TextDecoder``.
        enc: encoder outputs (B, T, D) of equal length T (the caller groups utterances by length,
            so no key is padding and every row computes what it would compute alone).
        prompt: the start tokens (e.g. ``<|startoftranscript|><|en|><|transcribe|><|notimestamps|>``).
        eot: end-of-text id; an utterance leaves the batch at its end-of-text (its cached keys and
            values are dropped), decoding stops when all have or after ``max_tokens`` tokens.
        temperature: 0: argmax; > 0: a sample of softmax(logits / temperature), drawn with the
            utterance's own generator (``generators``, one per row), so a draw never depends on
            the other utterances of the batch.
        logit_filters: openai-whisper ``LogitFilter`` objects (``SuppressBlank``, ``SuppressTokens``).
        no_speech: id of ``<|nospeech|>``, to return its probability at the first position.
        kv: the cross-attention keys and values of enc (``cross_kv``); default: computed by the
            decoder on the first step, for the whole batch at once, in the decoder's precision.

    Returns, per row: ``tokens`` (generated ids, end-of-text excluded), ``sum_logprob`` (sum of
    log-probabilities of the generated tokens and of end-of-text, untempered, after the filters:
    openai-whisper's ``sum_logprobs``), ``no_speech_prob`` (or None).
    """
    n = enc.shape[0]
    if temperature > 0 and (generators is None or len(generators) != n):
        raise ValueError(f"sampling at temperature {temperature} needs one generator per utterance ({n})")
    out = [{"tokens": [], "sum_logprob": 0.0, "no_speech_prob": None} for _ in range(n)]
    active = list(range(n))
    tokens = torch.tensor([prompt] * n, dtype=torch.long, device=enc.device)
    x, xa = tokens, enc
    cache, hooks = _kv_cache_hooks(decoder)
    if kv is not None:  # the decoder reuses cached cross-attention keys/values instead of projecting xa
        # openai-whisper reads the position offset from the cache's first entry: block 1's
        # self-attention keys go first, empty, and grow from the prompt on as without kv
        device = enc.device.type
        dtype = torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else enc.dtype
        empty = enc.new_zeros(n, 0, enc.shape[2], dtype=dtype)
        for blk in decoder.blocks:
            cache[blk.attn.key], cache[blk.attn.value] = empty, empty
        for blk, (k, v) in zip(decoder.blocks, kv):
            cache[blk.cross_attn.key], cache[blk.cross_attn.value] = k, v
    try:
        for step in range(max_tokens):
            logits = decoder(x, xa, kv_cache=cache)
            if step == 0 and no_speech is not None:
                probs = logits[:, 0].float().softmax(-1)[:, no_speech].tolist()
                for row, p in zip(active, probs):
                    out[row]["no_speech_prob"] = p
            logits = logits[:, -1]
            for f in logit_filters:
                f.apply(logits, tokens)
            logprobs = torch.log_softmax(logits.float(), dim=-1)
            if temperature == 0:
                nxt = logits.argmax(-1)
            else:
                probs = torch.softmax(logits.float() / temperature, dim=-1)
                nxt = torch.cat([torch.multinomial(probs[j], 1, generator=generators[j]) for j in range(len(active))])
            picked = logprobs.gather(1, nxt[:, None])[:, 0].tolist()
            keep = []
            for j, (row, tok, lp) in enumerate(zip(active, nxt.tolist(), picked)):
                out[row]["sum_logprob"] += lp
                if tok == eot:
                    continue
                out[row]["tokens"].append(tok)
                keep.append(j)
            if not keep:
                break
            if len(keep) < len(active):  # early exit: finished utterances leave the batch
                idx = torch.tensor(keep, device=enc.device)
                for module in cache:
                    cache[module] = cache[module][idx]
                xa, tokens, nxt = xa[idx], tokens[idx], nxt[idx]
                active = [active[j] for j in keep]
                if generators is not None:
                    generators = [generators[j] for j in keep]
            tokens = torch.cat([tokens, nxt[:, None]], 1)
            x = nxt[:, None]
    finally:
        for h in hooks:
            h.remove()
    return out


def _generator(seed: int, uid: str, temperature: float) -> torch.Generator:
    return torch.Generator().manual_seed(zlib.crc32(f"{seed}|{uid}|{temperature}".encode()))


class FallbackDecoding:
    """openai-whisper ``transcribe``'s temperature fallback over batched greedy decoding, for a
    stream of utterances.

    ``add(uid, enc, max_tokens)`` queues an utterance's encoder output (T, D); ``batch_size``
    utterances of equal length T waiting at a temperature are decoded together (``greedy_batch``),
    ``finish()`` decodes what still waits, temperature by temperature, and returns every result.
    An utterance is decoded at ``temperatures[0]``; only one whose result is too repetitive (gzip
    compression ratio of the text above ``compression_ratio_threshold``) or too unlikely (average
    log-probability ``sum_logprob / (tokens + 1)`` below ``logprob_threshold``) waits for the next
    temperature, and so on; the last temperature's result stands.  The utterances rejected in
    different batches are decoded again together, so a retry runs in a full batch, not in a batch
    of one or two.  With ``no_speech_threshold``, an utterance whose ``<|nospeech|>`` probability is
    above it and whose average log-probability is below ``logprob_threshold`` is silence: no
    fallback, and an empty transcript (``transcribe`` skips such a segment).  ``suppress_blank`` /
    ``suppress_tokens``: openai-whisper's ``DecodingOptions`` of the same names (its defaults: True,
    ``"-1"``).  Samples are seeded by (``seed``, utterance id, temperature): an utterance gets the
    same draws in any batch.  ``cross_kv_dtype``: the cross-attention keys and values are projected
    per utterance in this precision (``cross_kv``); ``None``: the decoder projects them for the
    whole batch (openai-whisper's way).

    Results, per utterance id: ``tokens``, ``avg_logprob``, ``compression_ratio``,
    ``no_speech_prob``, ``temperature`` (the one whose result stands).
    """

    @typechecked
    def __init__(self, decoder, prompt: List[int], batch_size: int = 16, temperatures: Sequence[float] = (0.0,),
                 compression_ratio_threshold: Optional[float] = None, logprob_threshold: Optional[float] = None,
                 no_speech_threshold: Optional[float] = None, suppress_blank: bool = False,
                 suppress_tokens: str = "", seed: int = 0, cross_kv_dtype: Optional[torch.dtype] = None):
        from whisper.decoding import SuppressBlank, SuppressTokens

        if not temperatures:
            raise ValueError("temperatures is empty")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.decoder, self.prompt, self.batch_size = decoder, prompt, batch_size
        self.temperatures, self.seed, self.cross_kv_dtype = list(temperatures), seed, cross_kv_dtype
        self.cr_threshold, self.lp_threshold, self.ns_threshold = (compression_ratio_threshold, logprob_threshold,
                                                                   no_speech_threshold)
        self.tokenizer = whisper_tokenizer(decoder.token_embedding.weight.shape[0])
        self.filters = []
        if suppress_blank:
            self.filters.append(SuppressBlank(self.tokenizer, len(prompt)))
        if suppress_tokens:
            self.filters.append(SuppressTokens(suppressed_tokens(self.tokenizer, suppress_tokens)))
        self.no_speech = self.tokenizer.no_speech if no_speech_threshold is not None else None
        # (temperature index, frames, max_tokens) -> [(uid, enc)] waiting
        self.waiting: Dict[Tuple[int, int, int], List[Tuple[str, torch.Tensor]]] = {}
        self.results: Dict[str, dict] = {}

    def add(self, uid: str, enc: torch.Tensor, max_tokens: int) -> None:
        """Queue one utterance's encoder output (T, D), decoded with at most max_tokens tokens."""
        if uid in self.results or any(uid == u for q in self.waiting.values() for u, _ in q):
            raise ValueError(f"utterance {uid} was added twice")
        self._queue((0, enc.shape[0], max_tokens), uid, enc)

    def finish(self) -> Dict[str, dict]:
        """Decode whatever waits, lowest temperature first; the results of all utterances added."""
        while self.waiting:
            key = min(self.waiting)
            self._decode(key, self.waiting.pop(key))
        return self.results

    def _queue(self, key, uid: str, enc: torch.Tensor) -> None:
        self.waiting.setdefault(key, []).append((uid, enc))
        if len(self.waiting[key]) == self.batch_size:
            self._decode(key, self.waiting.pop(key))

    def _decode(self, key, group: List[Tuple[str, torch.Tensor]]) -> None:
        from whisper.utils import compression_ratio

        level, _, max_tokens = key
        t = self.temperatures[level]
        uids = [u for u, _ in group]
        enc = torch.stack([e for _, e in group])
        gens = [_generator(self.seed, u, t) for u in uids] if t > 0 else None
        kv = None if self.cross_kv_dtype is None else cross_kv(self.decoder, enc, self.cross_kv_dtype)
        decoded = greedy_batch(self.decoder, enc, self.prompt, self.tokenizer.eot, max_tokens, t, gens, self.filters,
                               self.no_speech, kv)
        lp, ns = self.lp_threshold, self.ns_threshold
        for (uid, e), r in zip(group, decoded):
            r["avg_logprob"] = r["sum_logprob"] / (len(r["tokens"]) + 1)
            r["compression_ratio"] = compression_ratio(self.tokenizer.decode(r["tokens"]).strip())
            r["temperature"] = t
            if self.no_speech is None:
                r["no_speech_prob"] = None
            retry = ((self.cr_threshold is not None and r["compression_ratio"] > self.cr_threshold)
                     or (lp is not None and r["avg_logprob"] < lp))
            silent = ns is not None and r["no_speech_prob"] > ns and lp is not None and r["avg_logprob"] < lp
            if retry and not silent and level + 1 < len(self.temperatures):
                self._queue((level + 1,) + key[1:], uid, e)
                continue
            if ns is not None and r["no_speech_prob"] > ns and not (lp is not None and r["avg_logprob"] > lp):
                r["tokens"] = []  # transcribe's skipped (silent) segment
            self.results[uid] = r


@typechecked
def decode_with_fallback(decoder, enc: torch.Tensor, uids: List[str], prompt: List[int], max_tokens: int,
                         **options) -> List[dict]:
    """``FallbackDecoding`` of one batch, enc (B, T, D): the results in the order of uids.
    ``options``: those of ``FallbackDecoding`` (the batch size is B)."""
    fallback = FallbackDecoding(decoder, prompt, batch_size=max(1, enc.shape[0]), **options)
    for uid, e in zip(uids, enc):
        fallback.add(uid, e, max_tokens)
    results = fallback.finish()
    return [results[u] for u in uids]
