"""Demucs as an ESPnet separator (time domain: use it with the ``same`` encoder and decoder)."""
import inspect
import logging
from collections import OrderedDict
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import torch
from espnet2.enh.separator.abs_separator import AbsSeparator
from typeguard import typechecked

from espnet_pise.checkpoint import load_checkpoint_file
from espnet_pise.enh.demucs import Demucs, demucs_config


def load_denoiser_state(path: str) -> Tuple[Dict[str, torch.Tensor], Optional[dict]]:
    """Weights and stored Demucs kwargs (None for a bare state dict) of a facebookresearch/denoiser
    file: a bare state dict (the released ``master64-*.th``), a serialized model package
    (``serialize_model``: ``{"class", "args", "kwargs", "state"}``, e.g. ``best.th``) or a Solver
    training checkpoint (``checkpoint.th``: ``{"model": package, "best_state", ...}``; its best
    state is used, as denoiser's ``get_model`` does).  Read without the denoiser package."""
    p = Path(path)
    pkg = load_checkpoint_file(p, "Demucs checkpoint")
    best = None
    if isinstance(pkg, dict) and isinstance(pkg.get("model"), dict) and "state" in pkg["model"]:
        best = pkg.get("best_state")
        pkg = pkg["model"]
    kwargs = None
    if isinstance(pkg, dict) and "state" in pkg and "kwargs" in pkg:
        kwargs = _package_kwargs(pkg, p)
        pkg = pkg["state"]
    if best is not None:
        pkg = best
    if not isinstance(pkg, dict) or not any(k.startswith("encoder.") for k in pkg):
        raise ValueError(f"{p}: not a Demucs state dict (no encoder.* weights)")
    return pkg, kwargs


def _package_kwargs(pkg: dict, path: Path) -> dict:
    """Demucs kwargs of a serialize_model package (positional args mapped to their names)."""
    cls = pkg.get("class")
    cls_name = cls if isinstance(cls, str) else getattr(cls, "__qualname__", str(cls))
    if not str(cls_name).endswith("Demucs"):
        raise ValueError(f"{path}: a denoiser package of class {cls_name}, not Demucs")
    names = [n for n in inspect.signature(Demucs.__init__).parameters if n != "self"]
    kwargs = dict(zip(names, pkg.get("args") or ()))
    kwargs.update(pkg.get("kwargs") or {})
    sample_rate = kwargs.pop("sample_rate", None)  # later denoiser versions store it
    if sample_rate is not None:
        logging.info(f"{path}: Demucs trained at sample_rate={sample_rate}")
    unknown = sorted(set(kwargs) - set(names))
    if unknown:
        raise ValueError(f"{path}: Demucs package has settings this Demucs does not know: {unknown}")
    return kwargs


class DemucsSeparator(AbsSeparator):
    """Single-channel Demucs enhancer: (B, T) noisy waveform -> [(B, T)] enhanced waveform.

    Args:
        input_dim: given by ESPnet (1 for the ``same`` encoder); unused.
        preset: ``dns48``, ``dns64`` or ``master64``: every setting of the released model.
        init_checkpoint: a denoiser checkpoint to start from (e.g. master64, as in the paper); a
            model package or training checkpoint stores its Demucs settings.
        hidden ... floor: see ``espnet_pise.enh.demucs.Demucs``; None (default) = not set: taken
            from the preset or the checkpoint's stored settings, else Demucs's defaults.  A set
            value that disagrees with the preset or the checkpoint raises a ValueError naming it.
    """

    @typechecked
    def __init__(
        self,
        input_dim: int = 1,
        num_spk: int = 1,
        preset: Optional[str] = None,
        init_checkpoint: Optional[str] = None,
        hidden: Optional[int] = None,
        depth: Optional[int] = None,
        kernel_size: Optional[int] = None,
        stride: Optional[int] = None,
        causal: Optional[bool] = None,
        resample: Optional[int] = None,
        growth: Optional[float] = None,
        max_hidden: Optional[int] = None,
        normalize: Optional[bool] = None,
        glu: Optional[bool] = None,
        rescale: Optional[float] = None,
        floor: Optional[float] = None,
    ):
        super().__init__()
        if num_spk != 1:
            raise ValueError("Demucs enhances one speaker: num_spk must be 1")
        state, stored = (None, None) if init_checkpoint is None else load_denoiser_state(init_checkpoint)
        conf = demucs_config(
            preset, fixed=stored, fixed_by=f"the settings stored in {init_checkpoint}",
            hidden=hidden, depth=depth, kernel_size=kernel_size, stride=stride, causal=causal,
            resample=resample, growth=growth, max_hidden=max_hidden, normalize=normalize, glu=glu,
            rescale=rescale, floor=floor,
        )
        if stored:
            logging.info(f"Demucs settings from {init_checkpoint}: {stored}")
        self._num_spk = num_spk
        self.demucs = Demucs(**conf)
        if state is not None:
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
