"""Decode several wav.scp lists with one ESPnet ASR (or joint enh_s2t) model, loading it once.

    python -m espnet_pise.bin.decode_sets --asr_train_config EXP/config.yaml --asr_model_file EXP/valid.acc.ave.pth \\
        --config conf/tuning/decode_asr.yaml test_seen=data/test_seen/wav.scp:OUT_DIR ...

Uses ESPnet's ``Speech2Text`` (what espnet2.bin.asr_inference runs) and writes, per list,
``OUT_DIR/1best_recog/text`` (written last: an interrupted list is redone; a finished one is
skipped, unless the list now holds other utterances, e.g. a test set rebuilt larger).
Utterances too short for the model get an empty hypothesis, as ESPnet does.

The decoding config holds ``Speech2Text``'s options, plus one of ours: ``search: ctc_greedy``
decodes by the CTC best path (frame-wise argmax, repeats merged, blanks dropped: what ESPnet
reports as ``cer_ctc`` during validation) without any beam search, at the cost of one encoder
pass; ``search: beam`` (default) is ESPnet's beam search with the config's options;
``search: greedy`` (Whisper recogniser, decoder ``pise_whisper``) decodes ``batch_size``
utterances at a time by greedy search with cached keys/values (``espnet_pise.asr.whisper``):
each utterance is encoded alone (what ``Speech2Text`` computes), decoded in a batch of
utterances with equal window lengths (no key is padding), and leaves the batch at its end-of-text; ``maxlenratio`` bounds the tokens as in
ESPnet's beam search, and id 0 is dropped from the output as ``Speech2Text`` drops it, so the
transcript is ESPnet's beam-1 transcript.  Options of ``search: greedy`` (the repetition guard,
openai-whisper ``transcribe``'s temperature fallback; off by default):
``temperatures`` (default [0.0]), ``compression_ratio_threshold``, ``logprob_threshold``,
``no_speech_threshold`` (default null each), ``suppress_blank`` (false), ``suppress_tokens``
("": none; "-1": Whisper's non-speech symbols), ``sampling_seed`` (0).  Only the utterances
the thresholds reject are decoded again, in batches with those rejected in other batches.
``compute_dtype: bfloat16`` runs the encoder under CPU/GPU bf16 autocast (log-mel and a joint
model's SE front end in float32; default float32:
transcripts then differ from float32 ones, see bench/whisper_decode.py), and the decoder too
unless ``decoder_compute_dtype: float32``.  A bf16 decoder's matrix products round differently
for different batch sizes (1 of 64 dev transcripts differ between batch 16 and batch 1); a
float32 decoder on bf16 encoder states (every utterance is encoded alone) rounds differently per
batch size only in float32's last bits: 0 of 300 dev transcripts differ between batch 16 and
batch 1 (bench/whisper_decode.py).  ``cross_kv_compute_dtype`` (float32 or bfloat16; default:
the decoder projects them for the whole batch on the first step): the decoder's cross-attention
keys and values are projected once per utterance, alone, in that precision, and reused by every
temperature of the guard (``espnet_pise.asr.whisper.cross_kv``).
"""
import argparse
import contextlib
import functools
import sys
from pathlib import Path
from typing import List

import torch
import yaml
from tqdm import tqdm

from espnet_pise import register
from espnet_pise.data.kaldi import is_done_for, load_wav, read_scp

GREEDY_OPTIONS = ("batch_size", "temperatures", "compression_ratio_threshold", "logprob_threshold",
                  "no_speech_threshold", "suppress_blank", "suppress_tokens", "sampling_seed", "compute_dtype",
                  "decoder_compute_dtype", "cross_kv_compute_dtype")


def ctc_greedy(s2t, wav: torch.Tensor) -> str:
    """CTC best-path transcript of one waveform (T,) with the model of ESPnet's ``Speech2Text``.

    Encodes as ``Speech2Text`` does (an enh_s2t model enhances first; speaker 1 is kept), takes the
    frame-wise argmax of the CTC posteriors, merges repeats and drops blanks and <sos/eos>.
    """
    speech = wav.unsqueeze(0).to(device=s2t.device, dtype=getattr(torch, s2t.dtype))
    lengths = torch.full((1,), speech.size(1), dtype=torch.long, device=s2t.device)
    enc, _ = s2t.asr_model.encode(speech=speech, speech_lengths=lengths)
    while isinstance(enc, (list, tuple)):  # (enc, intermediate CTC outputs) or one entry per speaker
        enc = enc[0]
    asr = getattr(s2t.asr_model, "s2t_model", s2t.asr_model)  # enh_s2t wraps the ASR model
    ids = torch.unique_consecutive(asr.ctc.argmax(enc)[0]).tolist()
    ids = [i for i in ids if i not in (asr.blank_id, asr.sos, asr.eos)]
    return s2t.tokenizer.tokens2text(s2t.converter.ids2tokens(ids))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("jobs", nargs="+", help="NAME=WAV_SCP:OUT_DIR")
    ap.add_argument("--asr_train_config", required=True)
    ap.add_argument("--asr_model_file", help="omit for a model whose config names its weights (pretrained Whisper)")
    ap.add_argument("--config", type=Path, help="decoding options (beam_size, ctc_weight, ...)")
    ap.add_argument("--enh_s2t_task", default="false", choices=["true", "false"])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--fs", type=int, default=16000)
    args = ap.parse_args(argv)
    # the config is checked before the (slow) ESPnet imports and model loading
    options = yaml.safe_load(open(args.config)) if args.config else {}
    search = options.pop("search", "beam")
    if search not in ("beam", "ctc_greedy", "greedy"):
        raise SystemExit(f"{args.config}: search must be 'beam', 'ctc_greedy' or 'greedy', got {search!r}")
    greedy_conf = {k: options.pop(k) for k in list(options) if k in GREEDY_OPTIONS}
    if greedy_conf and search != "greedy":
        raise SystemExit(f"{args.config}: {sorted(greedy_conf)} apply to search: greedy only")
    batch_size = int(greedy_conf.pop("batch_size", 1))
    if batch_size < 1:
        raise SystemExit(f"{args.config}: batch_size must be >= 1, got {batch_size}")
    if "temperatures" in greedy_conf:
        greedy_conf["temperatures"] = [float(t) for t in greedy_conf["temperatures"]]
    for key in ("compute_dtype", "decoder_compute_dtype", "cross_kv_compute_dtype"):
        if greedy_conf.get(key, "float32") not in ("float32", "bfloat16"):
            raise SystemExit(f"{args.config}: {key} must be float32 or bfloat16, got {greedy_conf[key]!r}")
    if "sampling_seed" in greedy_conf:
        greedy_conf["seed"] = int(greedy_conf.pop("sampling_seed"))
    jobs = []
    for job in args.jobs:
        name, _, rest = job.partition("=")
        scp, _, out = rest.partition(":")
        if not (name and scp and out):
            raise SystemExit(f"job must be NAME=WAV_SCP:OUT_DIR, got {job!r}")
        if not is_done_for(Path(out) / "1best_recog" / "text", Path(scp)):
            jobs.append((name, Path(scp), Path(out)))
    if not jobs:
        return
    register()
    from espnet2.bin.asr_inference import Speech2Text

    s2t = Speech2Text(asr_train_config=args.asr_train_config, asr_model_file=args.asr_model_file,
                      device=args.device, enh_s2t_task=args.enh_s2t_task == "true", **options)
    for name, scp, out in jobs:
        if search == "greedy":
            hyps = greedy_hyps(s2t, scp, args.fs, batch_size, greedy_conf, name)
        else:
            hyps = one_by_one_hyps(s2t, scp, args.fs, search, args.enh_s2t_task == "true", name)
        _write(out, hyps)


def one_by_one_hyps(s2t, scp: Path, fs: int, search: str = "beam", enh_s2t: bool = False, name: str = "") -> List[str]:
    """``UID TEXT`` lines of a wav.scp, one utterance at a time (``search: beam`` or ``ctc_greedy``)."""
    from espnet.nets.pytorch_backend.transformer.subsampling import TooShortUttError

    hyps = []
    for uid, path in tqdm(read_scp(scp).items(), desc=f"decode {name}", file=sys.stderr):
        wav = torch.as_tensor(load_wav(scp, uid, path, fs))
        try:
            with torch.no_grad():
                if search == "ctc_greedy":
                    text = ctc_greedy(s2t, wav)
                else:
                    results = s2t(wav)
                    if enh_s2t:
                        results = results[0]  # speaker 1
                    text = results[0][0] or ""
        except TooShortUttError:
            text = ""
        except ValueError as e:  # e.g. longer than Whisper's window: refused, never truncated
            raise SystemExit(f"{scp}: {uid}: {e}") from e
        hyps.append(f"{uid} {text}\n")
    return hyps


def _write(out: Path, hyps: List[str]) -> None:
    (out / "1best_recog").mkdir(parents=True, exist_ok=True)
    tmp = out / "1best_recog" / "text.tmp"
    tmp.write_text("".join(hyps))
    tmp.rename(out / "1best_recog" / "text")


def _encode_alone(s2t, wav: torch.Tensor) -> torch.Tensor:
    """Encoder output (T, D) of one waveform, as ``Speech2Text.__call__`` computes it."""
    speech = wav.unsqueeze(0).to(device=s2t.device, dtype=getattr(torch, s2t.dtype))
    lengths = speech.new_full([1], dtype=torch.long, fill_value=speech.size(1))
    enc, _ = s2t.asr_model.encode(speech=speech, speech_lengths=lengths)
    while isinstance(enc, (list, tuple)):  # enh_s2t: one entry per speaker (speaker 1 kept); (enc, interctc)
        enc = enc[0]
    return enc[0]


def max_tokens(maxlenratio: float, frames: int) -> int:
    """ESPnet's ``BeamSearch`` bound on output tokens for an encoder output of ``frames`` frames."""
    if maxlenratio == 0:
        return frames
    if maxlenratio < 0:
        return -1 * int(maxlenratio)
    return max(1, int(maxlenratio * frames))


@contextlib.contextmanager
def _front_end_in_float32(enh_model, device_type: str):
    """A joint (enh_s2t) model's SE front end enhances in float32 under the recogniser's bf16
    autocast: its spectral masks are complex, which bf16 does not have."""
    if enh_model is None:
        yield
        return
    forward = enh_model.forward_enhance

    def float32_forward(*args, **kwargs):
        with torch.autocast(device_type, enabled=False):
            return forward(*args, **kwargs)

    enh_model.forward_enhance = float32_forward
    try:
        yield
    finally:
        del enh_model.forward_enhance  # the class's method again


def greedy_hyps(s2t, scp: Path, fs: int, batch_size: int, conf: dict, name: str = "") -> List[str]:
    """``UID TEXT`` lines of a wav.scp by batched greedy decoding (``search: greedy``)."""
    from espnet.nets.pytorch_backend.transformer.subsampling import TooShortUttError

    from espnet_pise.asr.whisper import FallbackDecoding, PiseWhisperDecoder

    asr = getattr(s2t.asr_model, "s2t_model", s2t.asr_model)
    if not isinstance(asr.decoder, PiseWhisperDecoder):
        raise SystemExit(f"search: greedy needs the Whisper decoder pise_whisper, not {type(asr.decoder).__name__}")
    conf = dict(conf)
    dtype = conf.pop("compute_dtype", "float32")
    bf16_decoder = conf.pop("decoder_compute_dtype", dtype) == "bfloat16"
    kv_dtype = conf.pop("cross_kv_compute_dtype", None)
    if kv_dtype is not None:
        conf["cross_kv_dtype"] = getattr(torch, kv_dtype)
    device_type = torch.device(s2t.device).type
    autocast = torch.autocast(device_type, dtype=torch.bfloat16, enabled=dtype == "bfloat16")
    decoder_autocast = functools.partial(torch.autocast, device_type, dtype=torch.bfloat16, enabled=bf16_decoder)
    prompt = [int(t) for t in (s2t.beam_search.hyp_primer or [asr.sos])]
    utts = list(read_scp(scp).items())
    # batches of utterances with equal encoder lengths (no key is padding); a retry of the guard
    # waits for others rejected at the same temperature
    fallback = FallbackDecoding(asr.decoder.decoders, prompt, batch_size, **conf)
    with torch.no_grad(), autocast, _front_end_in_float32(getattr(s2t.asr_model, "enh_model", None), device_type):
        for uid, path in tqdm(utts, desc=f"decode {name}", file=sys.stderr):
            wav = torch.as_tensor(load_wav(scp, uid, path, fs))
            try:
                enc = _encode_alone(s2t, wav)
            except TooShortUttError:
                continue
            except ValueError as e:  # e.g. longer than Whisper's window: refused, never truncated
                raise SystemExit(f"{scp}: {uid}: {e}") from e
            with decoder_autocast():
                fallback.add(uid, enc if bf16_decoder else enc.float(), max_tokens(s2t.maxlenratio, enc.shape[0]))
        with decoder_autocast():
            results = fallback.finish()
    texts = {}
    for uid, r in results.items():
        ids = [t for t in r["tokens"] if t != 0]  # Speech2Text drops id 0 (ESPnet's blank)
        texts[uid] = s2t.tokenizer.tokens2text(s2t.converter.ids2tokens(ids)) if ids else ""
    return [f"{uid} {texts.get(uid, '')}\n" for uid, _ in utts]  # too short for the model: empty, as ESPnet


if __name__ == "__main__":
    main()
