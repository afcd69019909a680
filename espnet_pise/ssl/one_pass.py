"""One SSL pass per enhanced waveform in joint SE + ASR training.

With ESPnet's enh_s2t, the enhanced speech feeds both the SSL loss (through the frozen loss
teacher) and the ASR frontend (through the frozen ``pise_ssl`` frontend).  When both name the same
checkpoint, the second call reuses the first one's hidden states (and autograd graph) instead of
running the SSL model again.  Only frozen upstreams share, only for the very same tensor data
(same storage, shape, strides, in-place version and lengths, while the tensor is alive), and the
cached pass must cover the layers the caller needs.
"""
import weakref
from typing import Callable, List, Optional, Tuple

import torch

_last: Optional[dict] = None


def source_key(source: str, arch_conf: Optional[dict], normalize_wav: bool) -> str:
    """What makes two frozen upstreams compute the same function."""
    return f"{source}|{sorted((arch_conf or {}).items())!r}|{normalize_wav}"


def _key(source: str, wav: torch.Tensor, wav_lens: torch.Tensor) -> tuple:
    return (source, wav.device, wav.dtype, wav.data_ptr(), tuple(wav.shape), wav.stride(), wav._version,
            tuple(wav_lens.tolist()), torch.is_grad_enabled())


def run_once(source: str, wav: torch.Tensor, wav_lens: torch.Tensor, max_layer: Optional[int],
             forward: Callable[[Optional[int]], Tuple[List[torch.Tensor], torch.Tensor]]):
    """``forward(max_layer)`` -> (states, lens), or the previous result for the same input."""
    global _last
    key = _key(source, wav, wav_lens)
    root = wav._base if wav._base is not None else wav
    hit = _last
    if (hit is not None and hit["key"] == key and hit["root"]() is root
            and (hit["max_layer"] is None or (max_layer is not None and max_layer <= hit["max_layer"]))):
        hit["hits"] += 1
        states = hit["states"] if max_layer is None else hit["states"][: max_layer + 1]
        return states, hit["lens"]
    states, lens = forward(max_layer)
    _last = {"key": key, "root": weakref.ref(root), "max_layer": max_layer, "states": states, "lens": lens, "hits": 0}
    return states, lens


def clear() -> None:
    global _last
    _last = None
