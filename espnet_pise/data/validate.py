"""Check a Kaldi/ESPnet data directory and print every problem found.

    python -m espnet_pise.data.validate DATA_DIR [--fs 16000] [--min_samples 400]

Checks: each list file has sorted, unique ids and well-formed lines; all lists name the same
utterances; audio in wav.scp / spk1.scp / noise1.scp exists, is readable, mono, at the expected
sample rate, has only finite samples (no NaN / Inf), is at least ``min_samples`` long (default 400:
the receptive field of the HuBERT / wav2vec 2.0 CNN, one frame) and, for noisy and clean speech,
is not all zeros; clean/noise references have the noisy signal's length; transcripts (text,
text_spk1) are not empty; utt2spk and spk2utt agree.  Exit status 1 when anything is wrong.
"""
import argparse
import sys
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np
import soundfile as sf

AUDIO_LISTS = ("wav.scp", "spk1.scp", "noise1.scp")
TEXT_LISTS = ("text", "text_spk1")
KEYED_LISTS = AUDIO_LISTS + TEXT_LISTS + ("utt2spk", "utt2dur", "utt2category")


def read_list(path: Path, problems: List[str]) -> Dict[str, str]:
    """id -> rest of line, reporting unsorted / duplicate ids and malformed lines."""
    entries: Dict[str, str] = {}
    prev: Optional[str] = None
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip():
                problems.append(f"{path}:{lineno}: empty line")
                continue
            key, _, value = line.partition(" ")
            if key in entries:
                problems.append(f"{path}:{lineno}: duplicate id '{key}'")
            if prev is not None and key < prev:
                problems.append(f"{path}:{lineno}: ids not sorted ('{key}' after '{prev}')")
            entries[key] = value.strip()
            prev = key
    return entries


def _sample_problems(where: str, path: str, frames: int, min_samples: int, zeros_ok: bool) -> List[str]:
    """Non-finite samples, too short for the SSL model, all zeros (silent speech trains nothing)."""
    problems = []
    if frames < min_samples:
        problems.append(f"{where}: {frames} samples, shorter than the minimum {min_samples} "
                        f"(the SSL model's receptive field): {path}")
    try:
        audio, _ = sf.read(path, dtype="float64", always_2d=True)
    except Exception as e:
        return problems + [f"{where}: unreadable samples ({e}): {path}"]
    bad = ~np.isfinite(audio)
    if bad.any():
        first = int(np.argmax(bad.any(axis=1)))
        problems.append(f"{where}: {int(bad.sum())} NaN/Inf samples (first at sample {first}): {path}")
    elif not zeros_ok and audio.size and not np.any(audio):
        problems.append(f"{where}: all samples are zero: {path}")
    return problems


def header_problems(where: str, path: str, fs: int) -> Tuple[Optional["sf._SoundFileInfo"], List[str]]:
    """(soundfile info or None, problems) of one audio file from its header: missing, unreadable,
    not at ``fs`` or not mono."""
    try:
        info = sf.info(path)
    except Exception as e:  # missing or unreadable
        reason = "missing file" if not Path(path).exists() else f"unreadable ({e})"
        return None, [f"{where}: {reason}: {path}"]
    problems = []
    if info.samplerate != fs:
        problems.append(f"{where}: sample rate {info.samplerate}, expected {fs}: {path}")
    if info.channels != 1:
        problems.append(f"{where}: {info.channels} channels, expected mono: {path}")
    return info, problems


def check_dir(data_dir: Path, fs: int = 16000, min_samples: int = 400) -> List[str]:
    problems: List[str] = []
    if not (data_dir / "wav.scp").is_file():
        return [f"{data_dir}: no wav.scp"]
    lists = {name: read_list(data_dir / name, problems) for name in KEYED_LISTS if (data_dir / name).is_file()}
    ids = set(lists["wav.scp"])
    for name, entries in lists.items():
        missing, extra = ids - set(entries), set(entries) - ids
        if missing:
            problems.append(f"{data_dir / name}: {len(missing)} utterances of wav.scp missing, e.g. {sorted(missing)[:3]}")
        if extra:
            problems.append(f"{data_dir / name}: {len(extra)} utterances not in wav.scp, e.g. {sorted(extra)[:3]}")
    lengths: Dict[str, int] = {}
    for name in AUDIO_LISTS:
        for uid, path in lists.get(name, {}).items():
            where = f"{data_dir / name}: {uid}"
            if not path or path.endswith("|"):
                problems.append(f"{where}: not a file path ('{path}')")
                continue
            info, header = header_problems(where, path, fs)
            problems += header
            if info is None:
                continue
            problems += _sample_problems(where, path, info.frames, min_samples, zeros_ok=name == "noise1.scp")
            if name == "wav.scp":
                lengths[uid] = info.frames
            elif uid in lengths and info.frames != lengths[uid]:
                problems.append(f"{where}: {info.frames} samples but the noisy signal has {lengths[uid]}: {path}")
    for name in TEXT_LISTS:
        for uid, text in lists.get(name, {}).items():
            if not text:
                problems.append(f"{data_dir / name}: {uid}: empty transcript")
    if "utt2spk" in lists and (data_dir / "spk2utt").is_file():
        spk2utt = read_list(data_dir / "spk2utt", problems)
        pairs = {(spk, uid) for spk, uids in spk2utt.items() for uid in uids.split()}
        if pairs != {(spk, uid) for uid, spk in lists["utt2spk"].items()}:
            problems.append(f"{data_dir / 'spk2utt'}: disagrees with utt2spk")
    return problems


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data_dirs", nargs="+", type=Path)
    ap.add_argument("--fs", type=int, default=16000)
    ap.add_argument("--min_samples", type=int, default=400,
                    help="shortest allowed utterance (400: one frame of the HuBERT / wav2vec 2.0 CNN)")
    args = ap.parse_args(argv)
    bad = 0
    for d in args.data_dirs:
        problems = check_dir(d, args.fs, args.min_samples)
        for p in problems:
            print(p)
        print(f"{d}: {'OK' if not problems else f'{len(problems)} problem(s)'}", file=sys.stderr)
        bad += bool(problems)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
