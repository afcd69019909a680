"""Enhance several test sets with one ESPnet SE model, loading the model once.

    python -m espnet_pise.bin.enhance_sets --train_config EXP/config.yaml --model_file EXP/valid.loss.best.pth \\
        --out_root EXP data/test_seen data/test_unseen ...

Uses ESPnet's ``SeparateSpeech`` (what espnet2.bin.enh_inference runs) and writes, per set,
``OUT_ROOT/enhanced_<set>/wavs/*.wav`` and ``spk1.scp``.  A set whose spk1.scp exists is skipped
(redone if it lists other utterances than the set's wav.scp: a set rebuilt larger); spk1.scp is
written last, so an interrupted set is redone.  ``--enh_s2t_task true`` takes the SE
part of a joint enh_s2t model.  Every input is checked first (exists, readable, mono, at ``--fs``):
a problem is an error naming the list, the utterance and the file, before anything is written.
"""
import argparse
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from tqdm import tqdm

from espnet_pise import register
from espnet_pise.data.kaldi import is_done_for, load_wav, read_scp
from espnet_pise.data.validate import header_problems

MAX_LISTED = 20


def check_inputs(data_dirs, fs: int) -> None:
    """Every wav.scp entry of the sets names an existing, readable, mono file at ``fs`` (read from
    the headers, before the model is loaded or anything is written); a SystemExit listing each
    problem with its list, utterance and file otherwise."""
    problems = []
    for d in data_dirs:
        scp = d / "wav.scp"
        if not scp.is_file():
            problems.append(f"{d}: no wav.scp")
            continue
        for uid, path in read_scp(scp).items():
            problems += header_problems(f"{scp}: {uid}", path, fs)[1]
    if problems:
        more = f"\n... and {len(problems) - MAX_LISTED} more" if len(problems) > MAX_LISTED else ""
        raise SystemExit(f"enhance_sets: {len(problems)} input problem(s), nothing enhanced:\n"
                         + "\n".join(problems[:MAX_LISTED]) + more)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data_dirs", nargs="+", type=Path)
    ap.add_argument("--train_config", required=True)
    ap.add_argument("--model_file", required=True)
    ap.add_argument("--out_root", type=Path, required=True)
    ap.add_argument("--enh_s2t_task", default="false", choices=["true", "false"])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--fs", type=int, default=16000)
    args = ap.parse_args(argv)
    register()
    from espnet2.bin.enh_inference import SeparateSpeech

    todo = [d for d in args.data_dirs if not is_done_for(args.out_root / f"enhanced_{d.name}" / "spk1.scp", d / "wav.scp")]
    if not todo:
        return
    check_inputs(todo, args.fs)
    enh = SeparateSpeech(train_config=args.train_config, model_file=args.model_file, device=args.device,
                         enh_s2t_task=args.enh_s2t_task == "true", normalize_output_wav=False)
    for d in todo:
        out = args.out_root / f"enhanced_{d.name}"
        (out / "wavs").mkdir(parents=True, exist_ok=True)
        scp = d / "wav.scp"
        lines = []
        for uid, path in tqdm(read_scp(scp).items(), desc=f"enhance {d.name}", file=sys.stderr):
            wav = load_wav(scp, uid, path, args.fs)
            with torch.no_grad():
                est = enh(wav[None], fs=args.fs)[0][0]  # speaker 1, batch item 0
            target = out / "wavs" / f"{uid}.wav"
            sf.write(str(target), np.asarray(est, dtype=np.float32)[: len(wav)], args.fs, subtype="FLOAT")
            lines.append(f"{uid} {target.resolve()}\n")
        tmp = out / "spk1.scp.tmp"
        tmp.write_text("".join(lines))
        tmp.rename(out / "spk1.scp")


if __name__ == "__main__":
    main()
