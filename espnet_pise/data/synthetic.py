"""A tiny synthetic noisy-speech data set for smoke runs and tests (no synthesizer needed).

Speech-like signals (harmonic tones with gliding pitch and syllable-rate envelopes) in white
noise, written as a Kaldi-style directory: wav.scp (noisy), spk1.scp (clean), utt2spk,
speech_mix_shape.  It exercises training and inference; it is not a corpus for WER results.
"""
import argparse
from pathlib import Path

import numpy as np
import soundfile as sf
import torch


def speechlike(n_samples: int, seed: int = 0, fs: int = 16000) -> torch.Tensor:
    """Amplitude-modulated harmonic tones with changing pitch: structured, not white noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_samples) / fs
    f0 = 120 + 60 * np.sin(2 * np.pi * rng.uniform(0.5, 2) * t + rng.uniform(0, 6))
    phase = 2 * np.pi * np.cumsum(f0) / fs
    x = sum(np.sin(k * phase) / k for k in range(1, 6))
    env = 0.5 * (1 + np.sin(2 * np.pi * rng.uniform(2, 5) * t))
    return torch.tensor(0.1 * x * env, dtype=torch.float32)


def write_enh_data(root, n_utts: int = 4, fs: int = 16000, seed: int = 0, min_len: int = 6000, max_len: int = 12000):
    """Write the data directory under ``root`` and return its path."""
    root = Path(root)
    (root / "wav").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    lines = {"wav.scp": [], "spk1.scp": [], "utt2spk": [], "speech_mix_shape": []}
    for k in range(n_utts):
        uid = f"utt{k:03d}"
        n = int(rng.integers(min_len, max_len))
        clean = speechlike(n, seed * 100 + k, fs).numpy()
        noisy = clean + 0.05 * rng.standard_normal(n).astype(np.float32)
        sf.write(root / "wav" / f"{uid}_clean.wav", clean, fs, subtype="PCM_16")
        sf.write(root / "wav" / f"{uid}_noisy.wav", noisy, fs, subtype="PCM_16")
        lines["wav.scp"].append(f"{uid} {(root / 'wav' / f'{uid}_noisy.wav').resolve()}")
        lines["spk1.scp"].append(f"{uid} {(root / 'wav' / f'{uid}_clean.wav').resolve()}")
        lines["utt2spk"].append(f"{uid} {uid}")
        lines["speech_mix_shape"].append(f"{uid} {n}")
    for name, rows in lines.items():
        (root / name).write_text("\n".join(rows) + "\n")
    return root


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("outdir")
    ap.add_argument("--n_utts", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--min_len", type=int, default=16000)
    ap.add_argument("--max_len", type=int, default=32000)
    args = ap.parse_args()
    write_enh_data(args.outdir, args.n_utts, seed=args.seed, min_len=args.min_len, max_len=args.max_len)


if __name__ == "__main__":
    main()
