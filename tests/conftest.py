"""Shared fixtures: a tiny random SSL model (HuBERT structure) and synthetic speech-like audio."""
import numpy as np
import pytest
import torch

# HuBERT structure (7-layer CNN, 320-sample hop, conv positional embedding, transformer), tiny.
TINY_ARCH = dict(
    extractor_conv_layer_config=[[16, 10, 5], [16, 3, 2], [16, 3, 2], [16, 3, 2], [16, 3, 2], [16, 2, 2], [16, 2, 2]],
    encoder_embed_dim=32,
    encoder_pos_conv_kernel=16,
    encoder_pos_conv_groups=4,
    encoder_num_layers=2,
    encoder_num_heads=4,
    encoder_ff_interm_features=64,
)
TINY_SSL = dict(ssl_source="torchaudio:custom", arch_conf=TINY_ARCH)


@pytest.fixture
def tiny_ssl():
    return dict(TINY_SSL)


def speechlike(n_samples: int, seed: int = 0, fs: int = 16000) -> torch.Tensor:
    """Amplitude-modulated harmonic tones with changing pitch: structured, not white noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_samples) / fs
    f0 = 120 + 60 * np.sin(2 * np.pi * rng.uniform(0.5, 2) * t + rng.uniform(0, 6))
    phase = 2 * np.pi * np.cumsum(f0) / fs
    x = sum(np.sin(k * phase) / k for k in range(1, 6))
    env = 0.5 * (1 + np.sin(2 * np.pi * rng.uniform(2, 5) * t))
    return torch.tensor(0.1 * x * env, dtype=torch.float32)


def write_enh_data(root, n_utts: int = 4, fs: int = 16000, seed: int = 0):
    """A Kaldi-style enhancement data dir (wav.scp noisy, spk1.scp clean, speech_mix_shape) of
    speech-like signals in white noise, written as 16 kHz PCM files."""
    import soundfile as sf
    from pathlib import Path

    root = Path(root)
    (root / "wav").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    lines = {"wav.scp": [], "spk1.scp": [], "speech_mix_shape": []}
    for k in range(n_utts):
        uid = f"utt{k:03d}"
        n = int(rng.integers(6000, 12000))
        clean = speechlike(n, seed * 100 + k).numpy()
        noisy = clean + 0.05 * rng.standard_normal(n).astype(np.float32)
        sf.write(root / "wav" / f"{uid}_clean.wav", clean, fs, subtype="PCM_16")
        sf.write(root / "wav" / f"{uid}_noisy.wav", noisy, fs, subtype="PCM_16")
        lines["wav.scp"].append(f"{uid} {root / 'wav' / f'{uid}_noisy.wav'}")
        lines["spk1.scp"].append(f"{uid} {root / 'wav' / f'{uid}_clean.wav'}")
        lines["speech_mix_shape"].append(f"{uid} {n}")
    for name, rows in lines.items():
        (root / name).write_text("\n".join(rows) + "\n")
    return root
