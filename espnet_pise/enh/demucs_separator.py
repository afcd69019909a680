"""Demucs as an ESPnet separator (time domain: use it with the ``same`` encoder and decoder)."""
from collections import OrderedDict
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import torch
from espnet2.enh.separator.abs_separator import AbsSeparator
from typeguard import typechecked

from espnet_pise.checkpoint import load_checkpoint_file
from espnet_pise.enh.demucs import Demucs, demucs_config


def load_denoiser_state(path: str) -> Dict[str, torch.Tensor]:
    """Weights from a facebookresearch/denoiser file: a bare state dict (the released
    ``master64-*.th``), a serialized model package (``{"args", "kwargs", "state"}``) or a
    training checkpoint (``{"best_state" | "model": {"state"}}``)."""
    p = Path(path)
    pkg = load_checkpoint_file(p, "Demucs checkpoint")
    if isinstance(pkg, dict) and "best_state" in pkg and pkg["best_state"] is not None:
        pkg = pkg["best_state"]
    if isinstance(pkg, dict) and isinstance(pkg.get("model"), dict) and "state" in pkg["model"]:
        pkg = pkg["model"]
    if isinstance(pkg, dict) and "state" in pkg and "kwargs" in pkg:
        pkg = pkg["state"]
    if not isinstance(pkg, dict) or not any(k.startswith("encoder.") for k in pkg):
        raise ValueError(f"{p}: not a Demucs state dict (no encoder.* weights)")
    return pkg


class DemucsSeparator(AbsSeparator):
    """Single-channel Demucs enhancer: (B, T) noisy waveform -> [(B, T)] enhanced waveform.

    Args:
        input_dim: given by ESPnet (1 for the ``same`` encoder); unused.
        preset: ``dns48``, ``dns64`` or ``master64`` (the published models; the preset's values
            override the arguments below).
        init_checkpoint: a denoiser checkpoint to start from (e.g. master64, as in the paper).
        hidden ... floor: see ``espnet_pise.enh.demucs.Demucs``.
    """

    @typechecked
    def __init__(
        self,
        input_dim: int = 1,
        num_spk: int = 1,
        preset: Optional[str] = None,
        init_checkpoint: Optional[str] = None,
        hidden: int = 48,
        depth: int = 5,
        kernel_size: int = 8,
        stride: int = 4,
        causal: bool = True,
        resample: int = 4,
        growth: float = 2.0,
        max_hidden: int = 10000,
        normalize: bool = True,
        glu: bool = True,
        rescale: float = 0.1,
        floor: float = 1e-3,
    ):
        super().__init__()
        if num_spk != 1:
            raise ValueError("Demucs enhances one speaker: num_spk must be 1")
        conf = demucs_config(
            preset, hidden=hidden, depth=depth, kernel_size=kernel_size, stride=stride, causal=causal,
            resample=resample, growth=growth, max_hidden=max_hidden, normalize=normalize, glu=glu,
            rescale=rescale, floor=floor,
        )
        self._num_spk = num_spk
        self.demucs = Demucs(**conf)
        if init_checkpoint is not None:
            state = load_denoiser_state(init_checkpoint)
            try:
                self.demucs.load_state_dict(state)
            except RuntimeError as e:
                raise ValueError(f"{init_checkpoint}: does not fit Demucs{conf}: {e}") from e

    @property
    def num_spk(self) -> int:
        return self._num_spk

    def forward(
        self, input: torch.Tensor, ilens: torch.Tensor, additional: Optional[Dict] = None
    ) -> Tuple[List[torch.Tensor], torch.Tensor, OrderedDict]:
        """input: (B, T) waveform (``same`` encoder), ilens: (B,) -> ([(B, T)], ilens, {})."""
        if input.dim() != 2:
            raise ValueError(f"DemucsSeparator expects (B, T) waveforms (use encoder 'same'), got {tuple(input.shape)}")
        if bool((ilens == input.shape[1]).all()):
            return [self.demucs(input)[:, 0]], ilens, OrderedDict()
        # per utterance: the input normalisation and the LSTM must not see another one's padding
        out = torch.zeros_like(input)
        for b in range(input.shape[0]):
            n = int(ilens[b])
            out[b, :n] = self.demucs(input[b : b + 1, :n])[0, 0]
        return [out], ilens, OrderedDict()
