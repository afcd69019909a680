"""Per-utterance lengths for enhancement criterions.

ESPnet calls ``criterion(ref, inf)`` on zero-padded batches without lengths.  ``register()``
wraps ``ESPnetEnhancementModel.forward_loss`` so that the batch's ``speech_lengths`` are visible
here while the criterions run; criterions that must not see padding read them with
``current_lengths()``.
"""
import contextlib
import contextvars
import functools
from typing import Optional

import torch

_LENGTHS: contextvars.ContextVar[Optional[torch.Tensor]] = contextvars.ContextVar("pise_lengths", default=None)


def current_lengths() -> Optional[torch.Tensor]:
    """Lengths (B,) of the batch whose loss is being computed, or None outside ESPnet."""
    return _LENGTHS.get()


@contextlib.contextmanager
def batch_lengths(lengths: Optional[torch.Tensor]):
    token = _LENGTHS.set(lengths)
    try:
        yield
    finally:
        _LENGTHS.reset(token)


def wrap_forward_loss(cls) -> None:
    """Make ``cls.forward_loss(..., speech_lengths, ...)`` publish its lengths (idempotent)."""
    original = cls.forward_loss
    if getattr(original, "_pise_wrapped", False):
        return

    @functools.wraps(original)
    def forward_loss(self, speech_pre, speech_lengths, *args, **kwargs):
        with batch_lengths(speech_lengths):
            return original(self, speech_pre, speech_lengths, *args, **kwargs)

    forward_loss._pise_wrapped = True
    cls.forward_loss = forward_loss
