"""Word and character error rates of a hypothesis text file against a reference (jiwer), ESPnet style.

    python -m espnet_pise.bin.score_wer --ref data/test/text --hyp exp/.../1best_recog/text --out_dir DIR
    python -m espnet_pise.bin.score_wer --normalizer whisper_en REF:HYP:OUT_DIR [REF:HYP:OUT_DIR ...]

The second form scores many hypothesis files in one process (a recipe's scoring stage: the
normaliser's import costs more than scoring 100 utterances).

Writes ``DIR/result.txt`` (corpus-level Snt/Wrd/Corr/Sub/Del/Ins/Err as sclite's summary line),
``DIR/wer.json`` (with the character error rate ``cer``) and ``DIR/per_utt.json`` (word errors and
reference words per utterance, for paired bootstrap intervals).  ``--normalizer whisper_en``
applies openai-whisper's English text normaliser to references and hypotheses alike (casing,
punctuation, numerals, British/American spellings: the corpus's upper-case KJV text vs Whisper's
written English); ``none`` scores the texts as they are.  Every reference utterance must have a hypothesis (an empty one counts as all
deletions) and the hypotheses must not name unknown utterances: mismatched lists are an error.
"""
import argparse
import functools
import json
import sys
from pathlib import Path

import jiwer



def read_text(path: Path, allow_empty: bool) -> dict:
    out = {}
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            uid, _, text = line.rstrip("\n").partition(" ")
            if not uid:
                continue
            if not text.strip() and not allow_empty:
                raise ValueError(f"{path}:{lineno}: {uid}: empty reference transcript")
            out[uid] = " ".join(text.split())
    return out


@functools.lru_cache(maxsize=None)
def normalizer(name: str):
    """The text normaliser applied to references and hypotheses alike."""
    if name == "none":
        return lambda text: text
    if name == "whisper_en":
        from whisper.normalizers import EnglishTextNormalizer

        norm = EnglishTextNormalizer()
        return lambda text: " ".join(norm(text).split())
    raise ValueError(f"unknown normalizer {name!r} (none, whisper_en)")


def score(ref_path: Path, hyp_path: Path, norm: str = "none") -> dict:
    refs = read_text(ref_path, allow_empty=False)
    hyps = read_text(hyp_path, allow_empty=True)
    apply = normalizer(norm)
    refs = {k: apply(v) for k, v in refs.items()}
    hyps = {k: apply(v) for k, v in hyps.items()}
    empty = [k for k, v in refs.items() if not v]
    if empty:
        raise ValueError(f"{ref_path}: {len(empty)} references are empty after normalisation (e.g. {empty[:3]})")
    missing, extra = set(refs) - set(hyps), set(hyps) - set(refs)
    if missing or extra:
        raise ValueError(f"{hyp_path} vs {ref_path}: {len(missing)} utterances without hypothesis "
                         f"(e.g. {sorted(missing)[:3]}), {len(extra)} unknown (e.g. {sorted(extra)[:3]})")
    ids = sorted(refs)
    out = jiwer.process_words([refs[i] for i in ids], [hyps[i] or "" for i in ids])
    n_words = sum(len(refs[i].split()) for i in ids)
    res = {"snt": len(ids), "wrd": n_words, "cor": out.hits, "sub": out.substitutions, "del": out.deletions,
           "ins": out.insertions}
    res["wer"] = 100.0 * (res["sub"] + res["del"] + res["ins"]) / max(n_words, 1)
    res["normalizer"] = norm
    res["per_utt"] = {
        uid: [sum(c.ref_end_idx - c.ref_start_idx if c.type in ("substitute", "delete") else
                  c.hyp_end_idx - c.hyp_start_idx if c.type == "insert" else 0 for c in chunks),
              len(refs[uid].split())]
        for uid, chunks in zip(ids, out.alignments)
    }
    chars = jiwer.process_characters([refs[i] for i in ids], [hyps[i] or "" for i in ids])
    n_chars = sum(len(refs[i]) for i in ids)
    res["cer"] = 100.0 * (chars.substitutions + chars.deletions + chars.insertions) / max(n_chars, 1)
    return res


def write(res: dict, out_dir: Path) -> None:
    """``per_utt.json``, ``wer.json`` and sclite's summary line ``result.txt`` of a ``score`` result."""
    res = dict(res)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "per_utt.json").write_text(json.dumps(res.pop("per_utt")))
    (out_dir / "wer.json").write_text(json.dumps(res, indent=1))
    w = res["wrd"] or 1
    line = (f"|{'Snt':>6}|{'Wrd':>7}|{'Corr':>6}|{'Sub':>6}|{'Del':>6}|{'Ins':>6}|{'Err':>6}|\n"
            f"|{res['snt']:>6}|{res['wrd']:>7}|{100 * res['cor'] / w:>6.1f}|{100 * res['sub'] / w:>6.1f}|"
            f"{100 * res['del'] / w:>6.1f}|{100 * res['ins'] / w:>6.1f}|{res['wer']:>6.1f}|\n")
    (out_dir / "result.txt").write_text(line)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("jobs", nargs="*", help="REF:HYP:OUT_DIR (instead of, or besides, --ref/--hyp/--out_dir)")
    ap.add_argument("--ref", type=Path)
    ap.add_argument("--hyp", type=Path)
    ap.add_argument("--out_dir", type=Path)
    ap.add_argument("--normalizer", default="none", choices=["none", "whisper_en"])
    args = ap.parse_args(argv)
    jobs = []
    if args.ref or args.hyp or args.out_dir:
        if not (args.ref and args.hyp and args.out_dir):
            ap.error("--ref, --hyp and --out_dir go together")
        jobs.append((args.ref, args.hyp, args.out_dir))
    for job in args.jobs:
        parts = job.split(":")
        if len(parts) != 3 or not all(parts):
            ap.error(f"a job is REF:HYP:OUT_DIR, got {job!r}")
        jobs.append(tuple(Path(p) for p in parts))
    if not jobs:
        ap.error("nothing to score: give --ref/--hyp/--out_dir or REF:HYP:OUT_DIR jobs")
    for ref, hyp, out_dir in jobs:
        res = score(ref, hyp, args.normalizer)
        write(res, out_dir)
        print(f"{hyp}: WER {res['wer']:.2f} %, CER {res['cer']:.2f} %", file=sys.stderr)


if __name__ == "__main__":
    main()
