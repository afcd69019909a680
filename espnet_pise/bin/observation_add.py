"""Observation adding: a weighted sum of the noisy input and an enhancer's output, per test set.

    python -m espnet_pise.bin.observation_add --noisy_weight 0.3 --enhanced_root exp/enh_gtcrn \\
        --out_root exp/obs_add_gtcrn data/test_seen data/test_unseen ...

Reads ``DATA_DIR/wav.scp`` (noisy) and ``ENHANCED_ROOT/enhanced_<set>/spk1.scp`` (what
``enhance_sets`` wrote) and writes ``OUT_ROOT/enhanced_<set>/wavs/*.wav`` and ``spk1.scp`` in the
same layout, so the result is decoded and scored as any SE system.  Every utterance of the set
must have its enhanced twin of the same length (else an error naming both files).  A set whose
spk1.scp exists is skipped (redone if it lists other utterances than the set's wav.scp: a set
rebuilt larger); spk1.scp is written last, so an interrupted set is redone.
"""
import argparse
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from tqdm import tqdm

from espnet_pise.data.kaldi import is_done_for, load_wav, read_scp
from espnet_pise.enh.dsp import observation_add


def add_set(data_dir: Path, enhanced_scp: Path, out: Path, noisy_weight: float, fs: int = 16000) -> None:
    noisy_scp = data_dir / "wav.scp"
    noisy, enhanced = read_scp(noisy_scp), read_scp(enhanced_scp)
    missing = sorted(set(noisy) - set(enhanced))
    if missing:
        raise ValueError(f"{enhanced_scp}: no enhanced audio for {len(missing)} utterances of {noisy_scp} "
                         f"(first: {missing[0]})")
    (out / "wavs").mkdir(parents=True, exist_ok=True)
    lines = []
    for uid, path in tqdm(noisy.items(), desc=f"observation adding {data_dir.name}", file=sys.stderr):
        x = load_wav(noisy_scp, uid, path, fs)
        y = load_wav(enhanced_scp, uid, enhanced[uid], fs)
        if len(x) != len(y):
            raise ValueError(f"{uid}: noisy {path} has {len(x)} samples, enhanced {enhanced[uid]} has {len(y)}")
        mix = observation_add(torch.from_numpy(x), torch.from_numpy(y), noisy_weight).numpy()
        target = out / "wavs" / f"{uid}.wav"
        sf.write(str(target), np.asarray(mix, dtype=np.float32), fs, subtype="FLOAT")
        lines.append(f"{uid} {target.resolve()}\n")
    tmp = out / "spk1.scp.tmp"
    tmp.write_text("".join(lines))
    tmp.rename(out / "spk1.scp")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data_dirs", nargs="+", type=Path)
    ap.add_argument("--noisy_weight", type=float, required=True, help="weight of the noisy input, in [0, 1]")
    ap.add_argument("--enhanced_root", type=Path, required=True, help="holds enhanced_<set>/spk1.scp")
    ap.add_argument("--out_root", type=Path, required=True)
    ap.add_argument("--fs", type=int, default=16000)
    args = ap.parse_args(argv)
    for d in args.data_dirs:
        out = args.out_root / f"enhanced_{d.name}"
        if is_done_for(out / "spk1.scp", d / "wav.scp"):
            continue
        add_set(d, args.enhanced_root / f"enhanced_{d.name}" / "spk1.scp", out, args.noisy_weight, args.fs)


if __name__ == "__main__":
    main()
