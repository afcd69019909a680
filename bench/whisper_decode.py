"""Whisper base decoding through ESPnet: utterances per second per process, today's path and the new ones.

    OMP_NUM_THREADS=1 python bench/whisper_decode.py --data egs/mini_noisy/pise1/data/dev --n 64 \\
        [--batch_sizes 1 8 16] [--threads 1] [--out bench/results/whisper_decode_DATE.txt]

One process, one ESPnet ``Speech2Text`` of the recipe's recogniser (``whisper_asr_config``,
``--pad_to_s`` window, default 10 s) and the options of ``--decode_config`` (default the
recipe's ``decode_whisper.yaml``), then, on the same utterances (after one warm-up utterance):

* ``beam (today)``: ESPnet's beam search, one utterance at a time (``search: beam``, beam 1);
* ``greedy, batch N``: ``search: greedy`` of ``espnet_pise.bin.decode_sets`` (each utterance
  encoded alone, the decoder batched with cached keys/values, early exit at end-of-text);
* ``greedy, batch N, bf16``: the same under bf16 autocast (``compute_dtype: bfloat16``), at the
  smallest and the largest batch size;
* ``window length + M s``: greedy with the recogniser's window fitted to each utterance
  (``encoder_conf: {pad_to_s: null, fit_margin_s: M}``) instead of the fixed window;
* ``bf16 encoder``: the encoder under bf16 autocast, the decoder in float32
  (``decoder_compute_dtype: float32``; the recipe's decoding), at every batch size, and with the
  fallback at the smallest and the largest;
* ``bf16 encoder + keys/values``: the same with the decoder's cross-attention keys and values
  projected once per utterance in bf16 (``cross_kv_compute_dtype: bfloat16``);
* ``window W s``: the recipe's decoding (bf16 + fallback) with a recogniser whose fixed window is
  ``--windows`` W seconds instead of ``--pad_to_s``, at the smallest and the largest batch size;
* ``greedy + fallback``: the repetition guard (openai-whisper ``transcribe``'s temperature fallback,
  compression ratio 2.4, log-probability -1.0, temperatures 0.0..1.0), with the number of
  utterances it decoded again; also with bf16 at the smallest and largest batch size (the recipe's
  ``decode_whisper.yaml``).

With ``--repeats R`` every row runs R times in turn: utterances per second is the median (min-max
in brackets) and the speed-up the median of the per-repeat ratios to the beam row of the same repeat
(pairing keeps the ratio meaningful when the machine's speed drifts); ``--only S ...`` keeps the
rows whose name contains one of the strings (and the beam row).
Prints utterances per second (wall clock), the speed-up over today's path, CPU seconds per
utterance (process time: what the figures mean on a machine shared with other jobs), and the number of transcripts that
differ from today's (``vs beam``) and from greedy batch 1 with the same options (``vs batch 1``:
bf16 rows against bf16 batch 1, and so on): batching must give 0.
Without ``--data`` (or without its wav.scp) it synthesizes utterances with flite + pink noise.
"""
import argparse
import atexit
import datetime
import io
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import redirect_stdout
from pathlib import Path

import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from _data import Printout, git_revision, load_set, machine, write_lists  # noqa: E402

GUARD = dict(temperatures=[0.0, 0.2, 0.4, 0.6, 0.8, 1.0], compression_ratio_threshold=2.4, logprob_threshold=-1.0)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(ROOT / "downloads/whisper_base/whisper_base.pt"))
    ap.add_argument("--data", type=Path, help="a recipe data directory (wav.scp); default: synthesize")
    ap.add_argument("--n", type=int, default=32, help="utterances (spread over the sorted list)")
    ap.add_argument("--pad_to_s", default="10")
    ap.add_argument("--decode_config", type=Path, default=ROOT / "egs/mini_noisy/pise1/conf/tuning/decode_whisper.yaml")
    ap.add_argument("--batch_sizes", type=int, nargs="+", default=[1, 8, 16])
    ap.add_argument("--no_bf16", action="store_true", help="skip the bf16 rows")
    ap.add_argument("--no_guard", action="store_true", help="skip the fallback row")
    ap.add_argument("--fit_margins", type=float, nargs="*", default=[2.0],
                    help="also: greedy with a window fitted to each utterance (length + margin, rounded up to 1 s)")
    ap.add_argument("--windows", type=float, nargs="*", default=[],
                    help="also: the recipe's decoding (bf16 + fallback) with a fixed window of this many seconds")
    ap.add_argument("--repeats", type=int, default=1, help="run all rows this many times in turn (medians)")
    ap.add_argument("--only", nargs="*", default=[],
                    help="keep only the rows whose name contains one of these strings (and the beam row)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (the recipe decodes with 1 per process)")
    ap.add_argument("--out", type=Path, help="also write the output here (default bench/results/whisper_decode_DATE.txt)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    say = Printout()

    from espnet_pise import register
    from espnet_pise.bin import decode_sets, whisper_asr_config

    register()
    from espnet2.bin.asr_inference import Speech2Text

    work = Path(tempfile.mkdtemp(prefix="whisper_decode_"))
    atexit.register(shutil.rmtree, work, True)  # audio copies and configs: tens of MB per run
    utts = load_set(args.data, args.n, work / "data")
    scp = write_lists(utts, work / "data")
    warm = write_lists(utts[:1], work / "warm")
    with redirect_stdout(io.StringIO()):
        whisper_asr_config.main(["--whisper_model", args.model, "--out_dir", str(work / "asr"), "--pad_to_s", args.pad_to_s])
    options = yaml.safe_load(open(args.decode_config))
    # ESPnet's Speech2Text options only; the greedy ones (batch size, precision, guard) are the rows' own
    options = {k: v for k, v in options.items() if k != "search" and k not in decode_sets.GREEDY_OPTIONS}
    s2t = Speech2Text(asr_train_config=str(work / "asr/config.yaml"), device="cpu", **options)
    secs = sum(len(u.noisy) for u in utts) / 16000
    say(f"# bench/whisper_decode.py, {datetime.datetime.now():%Y-%m-%d %H:%M}, commit {git_revision()}")
    say(f"# {machine()}")
    say(f"# {len(utts)} utterances ({secs / len(utts):.2f} s on average) from {args.data or 'flite + pink noise'}; "
        f"window {args.pad_to_s} s; {args.decode_config.name}: {options}")
    say("| decoding | utt/s | speed-up | CPU s/utt | CPU speed-up | vs beam (differ) | vs batch 1 (differ) | decoded again |")
    say("|---|---|---|---|---|---|---|---|")
    runs = [("beam (today)", None)]
    for b in args.batch_sizes:
        runs.append((f"greedy, batch {b}", dict(batch_size=b)))
    if not args.no_bf16:  # bf16 changes transcripts: its batched rows are compared with bf16 batch 1
        for b in sorted({min(args.batch_sizes), max(args.batch_sizes)}):
            runs.append((f"greedy, batch {b}, bf16", dict(batch_size=b, compute_dtype="bfloat16")))
        for b in args.batch_sizes:  # bf16 encoder, float32 decoder (the recipe's decoding): every batch size
            runs.append((f"greedy, batch {b}, bf16 encoder", dict(batch_size=b, compute_dtype="bfloat16",
                                                                  decoder_compute_dtype="float32")))
        for b in args.batch_sizes:  # ... with the cross-attention keys/values projected per utterance in bf16
            runs.append((f"greedy, batch {b}, bf16 encoder + keys/values", dict(
                batch_size=b, compute_dtype="bfloat16", decoder_compute_dtype="float32", cross_kv_compute_dtype="bfloat16")))
    if not args.no_guard:  # the recipe's decoding: bf16 + the guard, batched and alone
        runs.append((f"greedy, batch {max(args.batch_sizes)} + fallback", dict(batch_size=max(args.batch_sizes), **GUARD)))
        if not args.no_bf16:
            for b in sorted({min(args.batch_sizes), max(args.batch_sizes)}):
                runs.append((f"greedy, batch {b}, bf16 + fallback", dict(batch_size=b, compute_dtype="bfloat16", **GUARD)))
            for b in sorted({min(args.batch_sizes), max(args.batch_sizes)}):
                runs.append((f"greedy, batch {b}, bf16 encoder + fallback",
                             dict(batch_size=b, compute_dtype="bfloat16", decoder_compute_dtype="float32", **GUARD)))
            for b in sorted({min(args.batch_sizes), max(args.batch_sizes)}):
                runs.append((f"greedy, batch {b}, bf16 encoder + keys/values + fallback",
                             dict(batch_size=b, compute_dtype="bfloat16", decoder_compute_dtype="float32",
                                  cross_kv_compute_dtype="bfloat16", **GUARD)))
    for margin in args.fit_margins:
        runs.append((f"greedy, batch {max(args.batch_sizes)}, window length + {margin:g} s",
                     dict(batch_size=max(args.batch_sizes), window=("fit", margin))))
    for w in args.windows:
        for b in sorted({min(args.batch_sizes), max(args.batch_sizes)}):
            runs.append((f"greedy, batch {b}, bf16 + fallback, window {w:g} s",
                         dict(batch_size=b, compute_dtype="bfloat16", **GUARD, window=("pad", w))))
    if args.only:
        runs = runs[:1] + [(name, conf) for name, conf in runs[1:] if any(o in name for o in args.only)]
    recognisers = {None: s2t}

    def recogniser(kind, seconds):  # the same recogniser with another window
        conf = yaml.safe_load(open(work / "asr/config.yaml"))
        window = dict(pad_to_s=None, fit_margin_s=seconds, fit_step_s=1.0) if kind == "fit" else dict(pad_to_s=seconds)
        conf["encoder_conf"].update(window)
        path = work / f"asr/config_{kind}{seconds:g}.yaml"
        path.write_text(yaml.safe_dump(conf))
        return Speech2Text(asr_train_config=str(path), device="cpu", **options)
    recognisers.update({("fit", m): recogniser("fit", m) for m in args.fit_margins})
    recognisers.update({("pad", w): recogniser("pad", w) for w in args.windows})
    texts = {}
    by_options = {}  # greedy options without the batch size -> transcripts at the smallest batch size
    rates, cpus, again_counts = {}, {}, {}

    def same_but_batch(conf):
        return repr(sorted((k, v) for k, v in conf.items() if k != "batch_size"))
    from espnet_pise.asr import whisper as whisper_asr

    # --repeats R: the rows run R times in turn, so a drift of the machine's speed reaches every row;
    # a row's speed-up is the median over repeats of its rate / the beam's rate in the same repeat
    for repeat in range(args.repeats):
        for name, conf in runs:
            calls = []
            if conf is not None and "temperatures" in conf:  # count the utterances each temperature decodes
                orig = whisper_asr.greedy_batch

                def counting(decoder, enc, *a, **k):
                    calls.append((a[3] if len(a) > 3 else k.get("temperature", 0.0), enc.shape[0]))
                    return orig(decoder, enc, *a, **k)
                whisper_asr.greedy_batch = counting

            def decode(path):
                if conf is None:
                    return decode_sets.one_by_one_hyps(s2t, path, 16000)
                c = dict(conf)
                return decode_sets.greedy_hyps(recognisers[c.pop("window", None)], path, 16000, c.pop("batch_size"), c)
            decode(warm)
            calls.clear()
            t, c = time.perf_counter(), time.process_time()
            hyps = decode(scp)
            elapsed, cpu = time.perf_counter() - t, (time.process_time() - c) / len(utts)
            if conf is not None and "temperatures" in conf:
                whisper_asr.greedy_batch = orig
            if name in texts and hyps != texts[name]:
                raise SystemExit(f"{name}: repeat {repeat + 1} gave other transcripts than repeat 1 (not deterministic)")
            texts[name] = hyps
            if conf is not None and conf["batch_size"] == min(args.batch_sizes):
                by_options.setdefault(same_but_batch(conf), hyps)
            rates.setdefault(name, []).append(len(utts) / elapsed)
            cpus.setdefault(name, []).append(cpu)
            again_counts[name] = "-" if not calls else str(sum(n for temp, n in calls if temp > 0))
    beam_name = runs[0][0]
    for name, conf in runs:
        rate, cpu = statistics.median(rates[name]), statistics.median(cpus[name])
        speed_up = statistics.median(r / b for r, b in zip(rates[name], rates[beam_name]))
        cpu_speed_up = statistics.median(b / c for c, b in zip(cpus[name], cpus[beam_name]))
        spread = "" if args.repeats == 1 else f" ({min(rates[name]):.2f}-{max(rates[name]):.2f})"
        beam = sum(a != b for a, b in zip(texts[name], texts[beam_name]))
        # the same options at the smallest batch size (bf16 and the guard change transcripts themselves)
        b1 = None if conf is None else by_options.get(same_but_batch(conf))
        vs1 = "-" if b1 is None or conf is None else str(sum(a != b for a, b in zip(texts[name], b1)))
        say(f"| {name} | {rate:.2f}{spread} | {speed_up:.2f} | {cpu:.3f} | {cpu_speed_up:.2f} | {beam} | {vs1} | "
            f"{again_counts[name]} |")
    say()
    for name, hyps in texts.items():
        diff = [(a, b) for a, b in zip(hyps, texts[beam_name]) if a != b]
        for a, b in diff[:5]:
            say(f"# {name} differs: {a.strip()!r} (beam: {b.split(maxsplit=1)[1:]!r})")
    say.save(args.out, "whisper_decode")


if __name__ == "__main__":
    main()
