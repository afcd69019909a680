"""Reading the weights (initializers) of an ONNX graph with the ``onnx`` package.

Pretrained enhancers shipped as ONNX graphs (GTCRN, NSNet2) are converted to the project's
PyTorch modules from their initializers; the graph itself is never run here (onnxruntime is only
the reference in tests).
"""
from pathlib import Path
from typing import Dict, Mapping, Tuple

import numpy as np


def load_graph(path) -> "onnx.ModelProto":
    """The ONNX model at path (a clear error naming the file when it is missing, not an ONNX model
    or has no graph nodes)."""
    import onnx

    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no such ONNX file")
    try:
        model = onnx.load(str(p), load_external_data=False)
    except Exception as e:  # onnx raises DecodeError, ValueError, ... for damaged files
        raise ValueError(f"{p}: not a readable ONNX model ({type(e).__name__}: {e})") from e
    if not model.graph.node:
        raise ValueError(f"{p}: ONNX file has no graph nodes (truncated or not a model)")
    return model


def initializers(model) -> Dict[str, np.ndarray]:
    """name -> array of every initializer of a loaded ONNX model."""
    from onnx import numpy_helper

    return {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}


def read_initializers(path) -> Dict[str, np.ndarray]:
    """name -> array of every initializer of the ONNX file at path (errors as ``load_graph``)."""
    return initializers(load_graph(path))


def take(tensors: Mapping[str, np.ndarray], name: str, shape: Tuple[int, ...], path) -> np.ndarray:
    """tensors[name], checked to have the expected shape; a ValueError naming path and tensor."""
    if name not in tensors:
        raise ValueError(f"{path}: ONNX tensor '{name}' is missing (expected shape {tuple(shape)})")
    arr = tensors[name]
    if tuple(arr.shape) != tuple(shape):
        raise ValueError(f"{path}: ONNX tensor '{name}' has shape {tuple(arr.shape)}, expected {tuple(shape)}")
    return arr
