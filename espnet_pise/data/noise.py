"""Noise bank of the embedded corpus: recorded ambience, coloured noise, babble, speech-shaped noise.

Noise TYPES are split into seen (training, dev, test_seen) and unseen (test_unseen only), as the
paper does with DEMAND environments.  Every seen type also has disjoint train/test material: the
first 75 % of each recording (or generated loop) feeds train/dev, the rest feeds the test sets.

Recorded ambience comes from Debian's megaglest-data (CC-BY-SA 3.0) tileset loops; identical
files shipped under several tilesets are used once.
"""
import hashlib
from pathlib import Path
from typing import Callable, Dict, List, Sequence

import numpy as np
import soundfile as sf

from espnet_pise.data.mixing import coloured_noise, pad, resample, shaped_noise, to_mono

MEGAGLEST_TILESETS = Path("/usr/share/games/megaglest/tilesets")
RECORDED = {  # noise type -> sound file stems in megaglest tilesets
    "rain": ("rain",),
    "birds": ("day", "sunny_day", "desertday"),
    "night": ("night", "nightime"),
    "wind": ("wind",),
}
COLOURED = {"white": 0.0, "pink": 1.0, "brown": 2.0}
SEEN_TYPES = ("rain", "birds", "babble", "pink")
UNSEEN_TYPES = ("wind", "night", "brown", "ssn")
TRAIN_FRACTION = 0.75


def recorded_files(noise_type: str, root: Path = MEGAGLEST_TILESETS) -> List[Path]:
    files = sorted(p for stem in RECORDED[noise_type] for p in root.glob(f"*/sounds/{stem}.ogg"))
    if not files:
        raise FileNotFoundError(f"{root}: no '{noise_type}' recordings ({', '.join(RECORDED[noise_type])}.ogg); "
                                "install the Debian package megaglest-data (tools/install.sh)")
    unique, digests = [], set()
    for f in files:
        digest = hashlib.md5(f.read_bytes()).hexdigest()
        if digest not in digests:
            digests.add(digest)
            unique.append(f)
    return unique


def load_recording(path: Path, fs: int) -> np.ndarray:
    try:
        x, sr = sf.read(str(path), dtype="float64")
    except Exception as e:
        raise RuntimeError(f"{path}: unreadable noise recording ({e})") from e
    x = resample(to_mono(x), sr, fs)
    return x - x.mean()


def split_parts(x: np.ndarray) -> Dict[str, np.ndarray]:
    cut = int(len(x) * TRAIN_FRACTION)
    return {"train": x[:cut], "test": x[cut:]}


def babble(utterances: Sequence[np.ndarray], n: int, talkers: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` samples of ``talkers`` overlapping voices, each a random chain of the utterances."""
    out = np.zeros(n)
    for _ in range(talkers):
        stream: List[np.ndarray] = []
        while sum(len(s) for s in stream) < n:
            u = utterances[rng.integers(len(utterances))]
            stream.append(pad(u / np.sqrt((u ** 2).mean() + 1e-12), 0, int(rng.integers(0, 4000))))
        out += np.concatenate(stream)[:n]
    return out / np.sqrt((out ** 2).mean())


def build_bank(out_dir: Path, babble_speech: Dict[str, List[np.ndarray]], seed: int, fs: int = 16000,
               generated_s: Dict[str, float] = None, talkers: int = 5,
               progress: Callable[[str], None] = lambda s: None) -> Dict[str, Dict[str, Path]]:
    """Write ``{type}_{train,test}.wav`` for every noise type; returns type -> part -> path.

    ``babble_speech``: part -> clean utterances of seen voices speaking sentences used nowhere
    else (the two parts use different sentences).  Files already present are kept (resume).
    """
    generated_s = generated_s or {"train": 120.0, "test": 40.0}
    out_dir.mkdir(parents=True, exist_ok=True)
    bank: Dict[str, Dict[str, Path]] = {}
    for k, noise_type in enumerate(sorted(SEEN_TYPES + UNSEEN_TYPES)):
        paths = {part: out_dir / f"{noise_type}_{part}.wav" for part in ("train", "test")}
        bank[noise_type] = paths
        if all(p.is_file() for p in paths.values()):
            continue
        progress(noise_type)
        rng = np.random.default_rng([seed, k])
        if noise_type in RECORDED:
            recordings = [split_parts(load_recording(f, fs)) for f in recorded_files(noise_type)]
            parts = {part: np.concatenate([r[part] for r in recordings]) for part in paths}
        else:
            parts = {}
            for part in paths:
                n = int(generated_s[part] * fs)
                if noise_type in COLOURED:
                    parts[part] = coloured_noise(n, COLOURED[noise_type], rng)
                elif noise_type == "babble":
                    parts[part] = babble(babble_speech[part], n, talkers, rng)
                elif noise_type == "ssn":
                    parts[part] = shaped_noise(n, np.concatenate(babble_speech[part]), rng)
                else:
                    raise ValueError(f"no generator for noise type {noise_type}")
        for part, x in parts.items():
            tmp = paths[part].with_suffix(".tmp.wav")
            sf.write(str(tmp), 0.5 * x / np.abs(x).max(), fs, subtype="PCM_16")
            tmp.rename(paths[part])
    return bank
