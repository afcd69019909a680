"""Compare scored decodings of the same utterances: WER (S/D/I) and paired bootstrap differences.

    python -m espnet_pise.bin.compare_wer BASE=exp/asr_whisper/decode_noisy/dev/score_wer \\
        A=exp_a/.../score_wer B=exp_b/.../score_wer [--out table.md]

Each NAME=DIR is a ``score_wer`` output directory (``wer.json``, ``per_utt.json``).  Prints a
Markdown table: WER, substitution/deletion/insertion rates, and every system's WER minus the
first one's with its paired bootstrap 95 % interval (``espnet_pise.report.bootstrap``), then the
median interval width.  Meant for choices on dev between runs in different experiment
directories (``make_report`` compares the systems of one recipe run).
"""
import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import List, Tuple

from espnet_pise.report.bootstrap import wer_difference
from espnet_pise.report.tables import interval


def load(spec: str) -> Tuple[str, dict, dict]:
    name, sep, path = spec.partition("=")
    if not (name and sep and path):
        raise SystemExit(f"expected NAME=SCORE_DIR, got {spec!r}")
    d = Path(path)
    for f in ("wer.json", "per_utt.json"):
        if not (d / f).is_file():
            raise SystemExit(f"{d / f}: missing (a score_wer output directory holds wer.json and per_utt.json)")
    return name, json.loads((d / "wer.json").read_text()), json.loads((d / "per_utt.json").read_text())


def table(systems: List[Tuple[str, dict, dict]]) -> Tuple[List[str], List[float]]:
    base_name, _, base_utt = systems[0]
    lines = [f"| system | WER % | sub | del | ins | vs {base_name}, 95 % CI |", "|---|---|---|---|---|---|"]
    widths = []
    for name, wer, per_utt in systems:
        w = max(wer["wrd"], 1)
        diff = ""
        if name != base_name:
            try:
                d = wer_difference(per_utt, base_utt)
            except ValueError as e:  # scored on different utterances
                raise SystemExit(f"{name} vs {base_name}: {e}") from e
            diff = interval(d)
            widths.append(d[2] - d[1])
        lines.append(f"| {name} | {wer['wer']:.1f} | {100 * wer['sub'] / w:.1f} | {100 * wer['del'] / w:.1f} | "
                     f"{100 * wer['ins'] / w:.1f} | {diff} |")
    return lines, widths


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("systems", nargs="+", help="NAME=SCORE_DIR; the first is the baseline")
    ap.add_argument("--out", type=Path, help="also write the table here")
    args = ap.parse_args(argv)
    systems = [load(s) for s in args.systems]
    lines, widths = table(systems)
    n = len(systems[0][2])
    lines.append("")
    lines.append(f"{n} utterances, {systems[0][1]['wrd']} reference words"
                 + (f"; median 95 % interval width {statistics.median(widths):.1f} points" if widths else ""))
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)


if __name__ == "__main__":
    main()
