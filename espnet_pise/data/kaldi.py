"""Kaldi list files (``uttid value`` per line) and the audio they name."""
from pathlib import Path
from typing import Dict

import numpy as np
import soundfile as sf


def read_scp(path: Path) -> Dict[str, str]:
    """id -> value; a line without a value is an error naming the file and line."""
    entries = {}
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            key, _, value = line.strip().partition(" ")
            if not value.strip():
                raise ValueError(f"{path}:{lineno}: expected 'uttid value', got {line.strip()!r}")
            entries[key] = value.strip()
    return entries


def load_wav(scp: Path, uid: str, path: str, fs: int) -> np.ndarray:
    """float32 mono samples of one list entry; unreadable, wrong-rate or multi-channel audio is
    an error naming the list, the utterance and the file."""
    try:
        wav, sr = sf.read(path, dtype="float32")
    except Exception as e:
        raise RuntimeError(f"{scp}: {uid}: cannot read {path} ({e})") from e
    if sr != fs:
        raise ValueError(f"{scp}: {uid}: sample rate {sr}, expected {fs}: {path}")
    if wav.ndim != 1:
        raise ValueError(f"{scp}: {uid}: {wav.shape[1]} channels, expected mono: {path}")
    return wav
