"""Loading checkpoint files that users point to, with errors that name the file."""
from pathlib import Path
from typing import Any


def load_checkpoint_file(path, what: str) -> Any:
    """torch.load(path) on CPU; FileNotFoundError / ValueError naming ``what`` and the path.

    Checkpoints from fairseq, s3prl and denoiser pickle more than tensors, so this is a full
    (not weights-only) load: only point it to files you trust.
    """
    import torch

    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{what} not found: {p}")
    try:
        return torch.load(p, map_location="cpu", weights_only=False)
    except Exception as e:
        raise ValueError(f"{p}: not a readable torch checkpoint ({e})") from e
