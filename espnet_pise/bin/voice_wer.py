"""Clean Whisper WER of each synthetic voice on DEV sentences: which voices a recogniser can read.

    python -m espnet_pise.bin.voice_wer --whisper downloads/whisper_base/whisper_base.pt \\
        --n_sentences 24 --out_dir exp/voice_wer [--voices flite_slt piper_joe ...] \\
        [--variation corpus|none|tempo|pitch] [--tempo 0.85]

Every voice speaks the same first ``--n_sentences`` sentences of the corpus's **dev** pool
(``espnet_pise.data.corpus.sentence_pools``; never a test sentence), clean, as the corpus
synthesizes them (``espnet_pise.data.voices.synthesize``).  ``--variation corpus`` draws each
utterance's sox tempo and pitch from the corpus's ranges (``corpus.TEMPO_RANGE``,
``corpus.PITCH_RANGE``, or ``--tempo_range`` / ``--pitch_range``; one seeded draw per sentence, the
same for every voice); ``none`` keeps the
engine's own rate and pitch; ``tempo`` / ``pitch`` apply only that half of the corpus's
variation; ``--tempo T`` fixes the tempo at T with no pitch change.  The clips
are decoded by openai-whisper's ``whisper.decode`` (greedy, language en, no timestamps, fp16 off,
30 s window) on the converted checkpoint (``espnet_pise.ssl.whisper_model.load_whisper``) and
scored by ``espnet_pise.bin.score_wer`` after ``--normalizer`` (default ``whisper_en``).

Writes ``OUT/<config>/{wav/,text,hyp,hyp_scored}`` per voice configuration (reruns reuse the
clips and transcripts), ``OUT/voice_wer.json`` and a markdown table ``OUT/voice_wer.md``;
the table also goes to stdout.
"""
import argparse
import json
import sys
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np
import soundfile as sf
from tqdm import tqdm

from espnet_pise.bin.score_wer import score
from espnet_pise.data import corpus, voices

FS = 16000
VARIATIONS = ("corpus", "none", "tempo", "pitch")  # tempo / pitch: only that half of the corpus's variation


def config_name(voice: str, variation: str, tempo: Optional[float]) -> str:
    if tempo is not None:
        return f"{voice}@tempo{tempo:g}"
    return voice if variation == "corpus" else f"{voice}@{variation}"


def dev_utterances(n: int, variation: str, tempo: Optional[float], size: str = "default", seed: int = 0,
                   tempo_range=corpus.TEMPO_RANGE, pitch_range=corpus.PITCH_RANGE):
    """(index, text, tempo, pitch) of the first n dev sentences, with the variation asked for
    (tempo and pitch drawn uniformly from the ranges; the same draws whatever the ranges' values)."""
    pool = corpus.sentence_pools(size, seed)["dev"]
    if n > len(pool):
        raise ValueError(f"--n_sentences {n}: the {size} corpus's dev pool has {len(pool)} sentences")
    r = np.random.default_rng([seed, 100])
    out = []
    for i, sentence in enumerate(pool[:n]):
        t, p = float(r.uniform(*tempo_range)), float(r.uniform(*pitch_range))  # drawn always: same per index
        if tempo is not None:
            t, p = tempo, 0.0
        elif variation == "none":
            t, p = 1.0, 0.0
        elif variation == "tempo":
            p = 0.0
        elif variation == "pitch":
            t = 1.0
        out.append((i, sentence, t, p))
    return out


def transcribe(model, wavs: List[Path], batch_size: int = 8) -> List[str]:
    """Greedy English transcripts (openai-whisper ``decode``, 30 s window, no timestamps)."""
    import torch
    import whisper

    opts = whisper.DecodingOptions(language="en", without_timestamps=True, fp16=False)
    texts = []
    for start in range(0, len(wavs), batch_size):
        mels = []
        for path in wavs[start:start + batch_size]:
            x, fs = sf.read(str(path), dtype="float32")
            if fs != FS or x.ndim != 1:
                raise ValueError(f"{path}: expected {FS} Hz mono audio, got {fs} Hz, shape {x.shape}")
            if len(x) > 30 * FS:
                raise ValueError(f"{path}: {len(x) / FS:.1f} s is longer than Whisper's 30 s window")
            mels.append(whisper.log_mel_spectrogram(whisper.pad_or_trim(torch.from_numpy(x))))
        with torch.inference_mode():
            results = whisper.decode(model, torch.stack(mels), opts)
        texts += [" ".join(r.text.split()) for r in results]
    return texts


def measure(model, voice: voices.Voice, out_dir: Path, n: int, variation: str = "corpus",
            tempo: Optional[float] = None, normalizer: str = "whisper_en", batch_size: int = 8,
            tempo_range=corpus.TEMPO_RANGE, pitch_range=corpus.PITCH_RANGE) -> dict:
    """Synthesize, decode and score one voice configuration; returns score_wer's result (no per_utt)."""
    name = config_name(voice.name, variation, tempo)
    d = out_dir / name
    (d / "wav").mkdir(parents=True, exist_ok=True)
    utts = dev_utterances(n, variation, tempo, tempo_range=tempo_range, pitch_range=pitch_range)
    wavs, refs = [], {}
    for i, sentence, t, p in tqdm(utts, desc=f"{name} synthesis", file=sys.stderr):
        uid = f"{name}-dev-{i:05d}"
        wav = d / "wav" / f"{uid}.wav"
        if not wav.is_file():
            tmp = wav.with_suffix(".tmp.wav")
            voices.synthesize(voice, sentence, tmp, t, p, FS)
            tmp.rename(wav)
        wavs.append(wav)
        refs[uid] = sentence
    (d / "text").write_text("".join(f"{u} {s}\n" for u, s in refs.items()), encoding="utf-8")
    hyp_file = d / "hyp"
    cached = {}
    if hyp_file.is_file():
        for line in hyp_file.read_text(encoding="utf-8").splitlines():
            uid, _, h = line.partition(" ")
            cached[uid] = h
    todo = [(u, w) for u, w in zip(refs, wavs) if u not in cached]
    if todo:
        cached.update(zip([u for u, _ in todo], transcribe(model, [w for _, w in todo], batch_size)))
        tmp = hyp_file.with_suffix(".tmp")
        tmp.write_text("".join(f"{u} {h}\n" for u, h in sorted(cached.items())), encoding="utf-8")
        tmp.rename(hyp_file)
    (d / "hyp_scored").write_text("".join(f"{u} {cached[u]}\n" for u in refs), encoding="utf-8")
    res = score(d / "text", d / "hyp_scored", normalizer)
    res.pop("per_utt")
    res.update(config=name, voice=voice.name, engine=voice.engine, donor=voice.donor, variation=variation,
               tempo=tempo, tempo_range=list(tempo_range), pitch_range=list(pitch_range), seconds=round(sum(sf.info(str(w)).duration for w in wavs), 2))
    return res


def table(results: List[dict]) -> str:
    lines = ["| voice configuration | engine | donor | utts | words | WER % | sub | del | ins |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in sorted(results, key=lambda r: (r["wer"], r["config"])):
        lines.append(f"| {r['config']} | {r['engine']} | {r['donor']} | {r['snt']} | {r['wrd']} | {r['wer']:.1f} "
                     f"| {r['sub']} | {r['del']} | {r['ins']} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--whisper", type=Path, required=True, help="openai-whisper checkpoint (get_whisper writes it)")
    ap.add_argument("--out_dir", type=Path, required=True)
    ap.add_argument("--voices", nargs="*", default=None, help=f"voice names (default: all {len(voices.VOICES)})")
    ap.add_argument("--n_sentences", type=int, default=24)
    ap.add_argument("--variation", choices=VARIATIONS, default="corpus")
    ap.add_argument("--tempo", type=float, default=None, help="fixed sox tempo, no pitch change (overrides --variation)")
    ap.add_argument("--tempo_range", type=float, nargs=2, default=corpus.TEMPO_RANGE, metavar=("LO", "HI"),
                    help="sox tempo range of the variation (default: the corpus's, %(default)s)")
    ap.add_argument("--pitch_range", type=float, nargs=2, default=corpus.PITCH_RANGE, metavar=("LO", "HI"),
                    help="pitch range in cents (default: the corpus's, %(default)s; before 2026-12-04: -150 150)")
    ap.add_argument("--normalizer", default="whisper_en", choices=("none", "whisper_en"))
    ap.add_argument("--batch_size", type=int, default=8)
    ap.add_argument("--threads", type=int, default=1, help="torch threads")
    args = ap.parse_args(argv)
    names = args.voices or list(voices.VOICES)
    unknown = [v for v in names if v not in voices.VOICES]
    if unknown:
        raise SystemExit(f"unknown voices {unknown}; known: {', '.join(voices.VOICES)}")
    chosen = [voices.VOICES[v] for v in names]
    voices.check_programs(chosen)

    import torch

    from espnet_pise.ssl.whisper_model import load_whisper

    torch.set_num_threads(args.threads)
    model = load_whisper(args.whisper)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    summary = args.out_dir / "voice_wer.json"
    results: Dict[str, dict] = json.loads(summary.read_text()) if summary.is_file() else {}
    for v in chosen:
        r = measure(model, v, args.out_dir, args.n_sentences, args.variation, args.tempo, args.normalizer,
                    args.batch_size, tuple(args.tempo_range), tuple(args.pitch_range))
        results[r["config"]] = r
        print(f"{r['config']}: WER {r['wer']:.1f} % ({r['snt']} utterances)", file=sys.stderr)
        summary.write_text(json.dumps(results, indent=1))  # after each voice: an interrupted run keeps its work
    md = table(list(results.values()))
    (args.out_dir / "voice_wer.md").write_text(md)
    print(md, end="")


if __name__ == "__main__":
    main()
