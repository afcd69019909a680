"""Kaldi list files (``uttid value`` per line) and the audio they name."""
import sys
from pathlib import Path
from typing import Dict, List

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


def list_ids(path: Path) -> List[str]:
    """The utterance ids (first fields) of a list, in order; blank lines are skipped.  Unlike
    ``read_scp`` it accepts an id without a value (an empty hypothesis of a decoded ``text``)."""
    with open(path, encoding="utf-8") as f:
        return [line.split(maxsplit=1)[0] for line in f if line.strip()]


def is_done_for(output: Path, input_list: Path) -> bool:
    """Whether ``output``, a list written per utterance of ``input_list`` (enhanced audio, decoded
    text), exists and holds exactly that list's utterances in its order.  An output left by an older
    version of the input (a test set rebuilt with more utterances) is not done: it must be redone,
    never reused for the utterances it happens to share."""
    if not Path(output).is_file():
        return False
    done = list_ids(output) == list_ids(input_list)
    if not done:
        print(f"{output}: lists other utterances than {input_list} (an older version of it): redone", file=sys.stderr)
    return done


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
