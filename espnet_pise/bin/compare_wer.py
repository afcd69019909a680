"""Compare scored decodings of the same utterances: WER (S/D/I) and paired bootstrap differences.

    python -m espnet_pise.bin.compare_wer BASE=exp/asr_whisper/decode_noisy/dev/score_wer \\
        A=exp_a/.../score_wer B=exp_b/.../score_wer [--out table.md]

Each NAME=DIR is a ``score_wer`` output directory (``wer.json``, ``per_utt.json``);
NAME=DIR1,DIR2,... are one system's runs (training seeds: ``run.sh --train_seed 1 --tag _seed1``).
Prints a Markdown table: WER, substitution/deletion/insertion rates (means over a system's runs,
each run's WER beside), and every system's WER minus the first one's with its 95 % interval
(``espnet_pise.report.bootstrap``: paired over utterances; over runs and utterances where a
system has several runs), then the median interval width.  Meant for choices on dev between runs in different experiment
directories (``make_report`` compares the systems of one recipe run).
"""
import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import List, Tuple

import numpy as np

from espnet_pise.report.bootstrap import seed_wer_difference, wer_difference
from espnet_pise.report.tables import interval


def load(spec: str) -> Tuple[str, List[dict], List[dict]]:
    """NAME=DIR[,DIR...] -> (name, each run's wer.json, each run's per_utt.json)."""
    name, sep, paths = spec.partition("=")
    if not (name and sep and paths):
        raise SystemExit(f"expected NAME=SCORE_DIR[,SCORE_DIR...], got {spec!r}")
    wers, per_utts = [], []
    for d in map(Path, paths.split(",")):
        for f in ("wer.json", "per_utt.json"):
            if not (d / f).is_file():
                raise SystemExit(f"{d / f}: missing (a score_wer output directory holds wer.json and per_utt.json)")
        wers.append(json.loads((d / "wer.json").read_text()))
        per_utts.append(json.loads((d / "per_utt.json").read_text()))
    return name, wers, per_utts


def table(systems: List[Tuple[str, List[dict], List[dict]]]) -> Tuple[List[str], List[float]]:
    base_name, _, base_runs = systems[0]
    lines = [f"| system | WER % | sub | del | ins | vs {base_name}, 95 % CI |", "|---|---|---|---|---|---|"]
    widths = []
    for name, wers, runs in systems:
        def rate(key):
            return np.mean([100 * w[key] / max(w["wrd"], 1) for w in wers])
        each = " (" + " / ".join(f"{w['wer']:.1f}" for w in wers) + ")" if len(wers) > 1 else ""
        diff = ""
        if name != base_name:
            try:
                d = (wer_difference(runs[0], base_runs[0]) if len(runs) == len(base_runs) == 1
                     else seed_wer_difference(runs, base_runs))
            except ValueError as e:  # scored on different utterances
                raise SystemExit(f"{name} vs {base_name}: {e}") from e
            diff = interval(d)
            widths.append(d[2] - d[1])
        lines.append(f"| {name} | {np.mean([w['wer'] for w in wers]):.1f}{each} | {rate('sub'):.1f} | "
                     f"{rate('del'):.1f} | {rate('ins'):.1f} | {diff} |")
    return lines, widths


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("systems", nargs="+", help="NAME=SCORE_DIR; the first is the baseline")
    ap.add_argument("--out", type=Path, help="also write the table here")
    args = ap.parse_args(argv)
    systems = [load(s) for s in args.systems]
    lines, widths = table(systems)
    n = len(systems[0][2][0])
    lines.append("")
    lines.append(f"{n} utterances, {systems[0][1][0]['wrd']} reference words"
                 + (f"; median 95 % interval width {statistics.median(widths):.1f} points" if widths else ""))
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)


if __name__ == "__main__":
    main()
