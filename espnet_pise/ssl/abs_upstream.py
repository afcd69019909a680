"""The upstream interface every SSL teacher / frontend model implements (HuBERT, wav2vec 2.0, WavLM, Whisper)."""
from abc import ABC, abstractmethod
from typing import List, Optional, Tuple

import torch


class AbsSSLUpstream(torch.nn.Module, ABC):
    """Waveform (B, L) -> list of L+1 hidden states (B, T, D) and frame lengths (B,).

    Subclasses set ``_hop``, ``_layers`` and ``_dim`` in their constructor.
    """

    _hop: int
    _layers: int
    _dim: int

    @property
    def hop(self) -> int:
        """Samples per output frame (320 for HuBERT at 16 kHz)."""
        return self._hop

    @property
    def num_layers(self) -> int:
        """Number of transformer layers (hidden states are 0..num_layers)."""
        return self._layers

    @property
    def dim(self) -> int:
        """Feature dimension D."""
        return self._dim

    @abstractmethod
    def forward(
        self, wav: torch.Tensor, wav_lens: torch.Tensor, max_layer: Optional[int] = None
    ) -> Tuple[List[torch.Tensor], torch.Tensor]:
        """Hidden states 0..max_layer (default all) and frame lengths."""
