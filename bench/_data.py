"""Utterances for the bench scripts: a data directory of the recipe, or a few synthesized ones.

``load_set(DIR, n, work)``: n utterances spread over DIR's sorted list (every k-th id, so short
and long ones are both taken): noisy ``wav.scp``, clean ``spk1.scp`` (if present), ``text``.
Without DIR (or where DIR has no ``wav.scp``): n KJV sentences of the embedded corpus spoken by
flite (``espnet_pise.bin.get_whisper.synthesize``) and mixed with pink noise at 5-15 dB
(``espnet_pise.data.mixing``), written under ``work`` with a wav.scp / spk1.scp / text.
"""
import datetime
import io
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

import numpy as np
import soundfile as sf

from espnet_pise.data.kaldi import load_wav, read_scp

FS = 16000


@dataclass
class Utt:
    uid: str
    noisy: np.ndarray
    clean: Optional[np.ndarray]
    text: str


def _spread(ids: List[str], n: int) -> List[str]:
    ids = sorted(ids)
    if n >= len(ids):
        return ids
    step = len(ids) / n
    return [ids[int(k * step)] for k in range(n)]


def load_set(data: Optional[Path], n: int, work: Path, seed: int = 0) -> List[Utt]:
    if data is not None and (Path(data) / "wav.scp").is_file():
        data = Path(data)
        noisy = read_scp(data / "wav.scp")
        clean = read_scp(data / "spk1.scp") if (data / "spk1.scp").is_file() else {}
        text = read_scp(data / "text") if (data / "text").is_file() else {}
        utts = []
        for uid in _spread(list(noisy), n):
            c = load_wav(data / "spk1.scp", uid, clean[uid], FS) if uid in clean else None
            utts.append(Utt(uid, load_wav(data / "wav.scp", uid, noisy[uid], FS), c, text.get(uid, "")))
        return utts
    if data is not None:
        print(f"# {data}: no wav.scp; synthesizing {n} utterances with flite instead")
    return synthesize_set(n, work, seed)


def synthesize_set(n: int, work: Path, seed: int = 0) -> List[Utt]:
    from espnet_pise.bin.get_whisper import synthesize
    from espnet_pise.data.mixing import coloured_noise, mix_at_snr
    from espnet_pise.data.text import load_sentences

    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    sentences = load_sentences()
    picks = rng.choice(len(sentences), size=n, replace=False)
    utts = []
    for k, i in enumerate(picks):
        uid = f"synth{k:03d}"
        clean_path = work / f"{uid}_clean.wav"
        try:
            ok = synthesize(sentences[i], clean_path)
        except subprocess.CalledProcessError as e:
            raise SystemExit(f"flite/sox failed on {sentences[i]!r}: {e}") from e
        if not ok:
            raise SystemExit("no --data directory with a wav.scp and no flite/sox to synthesize one")
        clean = sf.read(clean_path, dtype="float64")[0]
        noisy, clean, _ = mix_at_snr(clean, coloured_noise(len(clean), 1.0, rng), float(rng.uniform(5, 15)), FS)
        sf.write(work / f"{uid}.wav", noisy.astype(np.float32), FS)
        sf.write(clean_path, clean.astype(np.float32), FS)
        utts.append(Utt(uid, noisy.astype(np.float32), clean.astype(np.float32), sentences[i]))
    write_lists(utts, work)
    return utts


def write_lists(utts: List[Utt], work: Path) -> Path:
    """wav.scp (noisy, as the recipe's), spk1.scp and text of utts under work; returns wav.scp."""
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    lines, clean, text = [], [], []
    for u in utts:
        path = work / f"{u.uid}.wav"
        if not path.is_file():
            sf.write(path, u.noisy, FS)
        lines.append(f"{u.uid} {path}\n")
        if u.clean is not None:
            cpath = work / f"{u.uid}_clean.wav"
            if not cpath.is_file():
                sf.write(cpath, u.clean, FS)
            clean.append(f"{u.uid} {cpath}\n")
        text.append(f"{u.uid} {u.text}\n")
    (work / "wav.scp").write_text("".join(lines))
    (work / "spk1.scp").write_text("".join(clean))
    (work / "text").write_text("".join(text))
    return work / "wav.scp"


def git_revision() -> str:
    root = Path(__file__).resolve().parents[1]
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True).stdout.strip()
        return rev + ("+dirty" if dirty else "")
    except OSError:
        return "unknown"


def machine() -> str:
    import os
    import platform

    import torch

    name = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{name}, {os.cpu_count()} CPUs, torch {torch.__version__} ({torch.backends.cpu.get_cpu_capability()}), "
            f"{torch.get_num_threads()} threads")


class Printout:
    """``say(line)`` prints a line and keeps it; ``save(out, name)`` writes what was said to ``out``
    (default ``bench/results/NAME_DATE.txt``)."""

    def __init__(self):
        self.buf = io.StringIO()

    def __call__(self, line: str = "") -> None:
        print(line, flush=True)
        self.buf.write(line + "\n")

    def save(self, out: Optional[Path], name: str) -> Path:
        out = out or Path(__file__).resolve().parent / "results" / f"{name}_{datetime.date.today():%Y%m%d}.txt"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(self.buf.getvalue())
        print(f"# written {out}")
        return out
