"""PESQ (wide band), STOI and SI-SDR of enhanced speech against clean references, many sets at once.

    python -m espnet_pise.bin.score_enh --nj 2 NAME=REF_SCP:INF_SCP:OUT_DIR ...

Per job: ``OUT_DIR/metrics.json`` (means, utterance count) and ``OUT_DIR/per_utt.tsv``; a job
with metrics.json is skipped (redone if it scored other utterances than the reference list holds).  pesq and pystoi compute the first two; SI-SDR is the
scale-invariant SDR (Le Roux et al. 2019) after removing the means.  Lists must name the same
utterances and the signals must be equally long (an enhanced signal may be longer by padding: it
is cut), otherwise it is an error naming the file.
"""
import argparse
import json
import multiprocessing
import sys
from pathlib import Path

import numpy as np
from pesq import pesq
from pystoi import stoi
from tqdm import tqdm

from espnet_pise.data.kaldi import list_ids, load_wav, read_scp

FS = 16000


def si_sdr(ref: np.ndarray, est: np.ndarray) -> float:
    ref, est = ref - ref.mean(), est - est.mean()
    target = (est @ ref) / max(ref @ ref, 1e-12) * ref
    noise = est - target
    return float(10 * np.log10(max(target @ target, 1e-12) / max(noise @ noise, 1e-12)))


def score_pair(args):
    uid, ref_scp, ref_path, inf_scp, inf_path = args
    ref = load_wav(Path(ref_scp), uid, ref_path, FS).astype(np.float64)
    est = load_wav(Path(inf_scp), uid, inf_path, FS).astype(np.float64)
    if len(est) < len(ref):
        raise ValueError(f"{inf_scp}: {uid}: {len(est)} samples, shorter than the reference ({len(ref)}): {inf_path}")
    est = est[: len(ref)]
    try:
        p = pesq(FS, ref, est, "wb")
    except Exception:  # pesq refuses signals without detectable speech
        p = float("nan")
    return uid, p, float(stoi(ref, est, FS, extended=False)), si_sdr(ref, est)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("jobs", nargs="+", help="NAME=REF_SCP:INF_SCP:OUT_DIR")
    ap.add_argument("--nj", type=int, default=1)
    args = ap.parse_args(argv)
    for job in args.jobs:
        name, _, rest = job.partition("=")
        parts = rest.split(":")
        if len(parts) != 3:
            raise SystemExit(f"job must be NAME=REF_SCP:INF_SCP:OUT_DIR, got {job!r}")
        ref_scp, inf_scp, out = Path(parts[0]), Path(parts[1]), Path(parts[2])
        refs, infs = read_scp(ref_scp), read_scp(inf_scp)
        if (out / "metrics.json").is_file():
            if list_ids(out / "per_utt.tsv")[1:] == sorted(refs):  # [1:]: the header line
                continue
            print(f"{out}: scored other utterances than {ref_scp} (an older version of it): redone", file=sys.stderr)
        if set(refs) != set(infs):
            raise ValueError(f"{inf_scp} and {ref_scp} name different utterances "
                             f"({len(set(refs) - set(infs))} missing, {len(set(infs) - set(refs))} extra)")
        work = [(u, str(ref_scp), refs[u], str(inf_scp), infs[u]) for u in sorted(refs)]
        with multiprocessing.get_context("fork").Pool(args.nj) as pool:
            rows = list(tqdm(pool.imap(score_pair, work, chunksize=4), total=len(work), desc=f"score {name}", file=sys.stderr))
        out.mkdir(parents=True, exist_ok=True)
        with open(out / "per_utt.tsv", "w") as f:
            f.write("utt\tpesq_wb\tstoi\tsi_sdr\n")
            f.writelines(f"{u}\t{p:.4f}\t{s:.4f}\t{d:.3f}\n" for u, p, s, d in rows)
        arr = np.array([r[1:] for r in rows], dtype=np.float64)
        metrics = {"n": len(rows), "pesq_wb": float(np.nanmean(arr[:, 0])), "pesq_failed": int(np.isnan(arr[:, 0]).sum()),
                   "stoi": float(arr[:, 1].mean()), "si_sdr": float(arr[:, 2].mean())}
        tmp = out / "metrics.json.tmp"
        tmp.write_text(json.dumps(metrics, indent=1))
        tmp.rename(out / "metrics.json")


if __name__ == "__main__":
    main()
