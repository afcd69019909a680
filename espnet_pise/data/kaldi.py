"""Kaldi list files (``uttid value`` per line)."""
from pathlib import Path
from typing import Dict


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
