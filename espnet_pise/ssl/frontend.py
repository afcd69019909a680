"""An ESPnet ASR frontend on the same SSL upstreams as the loss teacher (names, local checkpoints).

Unlike the loss teacher, the frontend is part of the ASR model: its layer weights are learned
and its upstream is saved with the model (as ESPnet's own s3prl frontend does), frozen by default.
"""
from typing import Optional, Tuple, Union

import torch
from espnet2.asr.frontend.abs_frontend import AbsFrontend
from typeguard import typechecked

from espnet_pise.ssl import one_pass
from espnet_pise.ssl.upstream import build_upstream


class SSLFrontend(AbsFrontend):
    """Waveform (B, T) -> SSL features (B, T', D): one layer or a learned softmax-weighted sum.

    Args:
        fs: input sampling rate (must be 16000: SSL models are trained at 16 kHz).
        ssl_source: as for the losses (s3prl name, local checkpoint, ``torchaudio:<arch>``).
        layer: a hidden state index (-1: last), or None for a learned weighted sum of all.
        freeze: keep the upstream frozen (no gradient, eval mode).
        arch_conf, normalize_wav: as for the losses.
    """

    @typechecked
    def __init__(
        self,
        fs: Union[int, str] = 16000,
        ssl_source: str = "hubert_base",
        layer: Optional[int] = None,
        freeze: bool = True,
        arch_conf: Optional[dict] = None,
        normalize_wav: bool = False,
    ):
        super().__init__()
        if int(fs) != 16000:
            raise ValueError(f"SSL frontends expect 16 kHz input, got fs={fs}")
        self.upstream = build_upstream(ssl_source, arch_conf, normalize_wav)
        self.ssl_source = one_pass.source_key(ssl_source, arch_conf, normalize_wav)
        self.freeze = freeze
        if freeze:
            for p in self.upstream.parameters():
                p.requires_grad_(False)
        n_states = self.upstream.num_layers + 1
        if layer is not None and not -n_states <= layer < n_states:
            raise ValueError(f"layer {layer} out of range for {n_states} hidden states")
        self.layer = layer
        self.layer_logits = torch.nn.Parameter(torch.zeros(n_states)) if layer is None else None

    def output_size(self) -> int:
        return self.upstream.dim

    def forward(self, input: torch.Tensor, input_lengths: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        if self.freeze:
            self.upstream.eval()
        max_layer = None if self.layer is None else self.layer % (self.upstream.num_layers + 1)
        if self.freeze:
            # frozen weights, but gradients still reach the input: in joint SE + ASR training the
            # ASR loss trains the enhancer through this frontend.  The same frozen checkpoint run
            # by an SSL loss on the same enhanced tensor is reused, not run twice.
            needed = self.upstream.num_layers if max_layer is None else max_layer
            states, lens = one_pass.run_once(self.ssl_source, input, input_lengths, needed,
                                             lambda n: self.upstream(input, input_lengths, max_layer=n))
        else:
            states, lens = self.upstream(input, input_lengths, max_layer=max_layer)
        if self.layer_logits is None:
            return states[max_layer], lens
        weights = torch.softmax(self.layer_logits, dim=0)
        return sum(w * s for w, s in zip(weights, states)), lens
