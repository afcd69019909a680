"""First-iteration HuBERT targets: k-means clusters of MFCC features at the SSL frame rate.

    python -m espnet_pise.ssl.kmeans --out_dir exp/ssl/km --n_clusters 100 \
        train:data/train/spk1.scp dev:data/dev/spk1.scp

Fits k-means on the first set and writes, per set, ``labels_<set>`` (Kaldi text: ``uttid c1 c2 ...``, one cluster per 20 ms frame, the frame grid
of HuBERT's CNN: 400-sample window, 320-sample hop), ``token_list`` (cluster ids, then ``<unk>``) and the fitted
``kmeans.pkl``.  MFCCs (13 + deltas + delta-deltas) follow HuBERT's first iteration.
"""
import argparse
import pickle
import sys
from pathlib import Path
from typing import Dict
import numpy as np
import torch
import torchaudio
from sklearn.cluster import MiniBatchKMeans
from tqdm import tqdm

from espnet_pise.data.kaldi import load_wav, read_scp

WIN, HOP = 400, 320


def mfcc_frames(wav: np.ndarray, fs: int = 16000) -> np.ndarray:
    """(frames, 39) MFCC+delta+delta-delta on HuBERT's CNN frame grid."""
    x = torch.as_tensor(wav, dtype=torch.float32)[None]
    n_frames = max(1, (x.shape[1] - WIN) // HOP + 1)
    mfcc = torchaudio.compliance.kaldi.mfcc(x, sample_frequency=fs, frame_length=WIN / fs * 1000,
                                            frame_shift=HOP / fs * 1000, num_ceps=13, snip_edges=True,
                                            use_energy=False, dither=0.0)  # (T, 13)
    d1 = torchaudio.functional.compute_deltas(mfcc.T[None])[0]
    d2 = torchaudio.functional.compute_deltas(d1[None])[0]
    feats = torch.cat([mfcc, d1.T, d2.T], dim=1).numpy()
    return feats[:n_frames]


def read_features(scp: Path) -> Dict[str, np.ndarray]:
    feats = {}
    for uid, path in tqdm(read_scp(scp).items(), desc=f"mfcc {scp}", file=sys.stderr):
        feats[uid] = mfcc_frames(load_wav(scp, uid, path, 16000), 16000)
    return feats


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sets", nargs="+", help="NAME:WAV_SCP; k-means is fitted on the first")
    ap.add_argument("--out_dir", type=Path, required=True)
    ap.add_argument("--n_clusters", type=int, default=100)
    ap.add_argument("--fit_frames", type=int, default=200_000, help="frames sampled to fit k-means")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    sets = [s.split(":", 1) for s in args.sets]
    if any(len(s) != 2 for s in sets):
        raise SystemExit(f"sets must be NAME:WAV_SCP, got {args.sets}")
    args.out_dir.mkdir(parents=True, exist_ok=True)
    feats = read_features(Path(sets[0][1]))
    allf = np.concatenate(list(feats.values()))
    mean, std = allf.mean(0), allf.std(0) + 1e-5
    rng = np.random.default_rng(args.seed)
    sample = allf[rng.choice(len(allf), size=min(args.fit_frames, len(allf)), replace=False)]
    km = MiniBatchKMeans(n_clusters=args.n_clusters, random_state=args.seed, batch_size=10000, n_init=3)
    km.fit((sample - mean) / std)
    for k, (name, scp) in enumerate(sets):
        set_feats = feats if k == 0 else read_features(Path(scp))
        with open(args.out_dir / f"labels_{name}", "w") as f:
            for uid in sorted(set_feats):
                labels = km.predict((set_feats[uid] - mean) / std)
                f.write(f"{uid} {' '.join(map(str, labels))}\n")
    with open(args.out_dir / "token_list", "w") as f:
        # ESPnet's text preprocessor needs an unknown symbol; no label ever maps to it
        f.writelines([f"{i}\n" for i in range(args.n_clusters)] + ["<unk>\n"])
    with open(args.out_dir / "kmeans.pkl", "wb") as f:
        pickle.dump({"kmeans": km, "mean": mean, "std": std}, f)
    print(f"{args.out_dir}: fitted on {len(feats)} utterances ({len(allf)} frames), inertia/frame "
          f"{km.inertia_ / len(sample):.2f}", file=sys.stderr)


if __name__ == "__main__":
    main()
