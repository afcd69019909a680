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


def gru_params(tensors: Mapping[str, np.ndarray], node, input_size: int, hidden_size: int, path,
               layer: int = 0) -> Dict[str, np.ndarray]:
    """``torch.nn.GRU`` parameters (``weight_ih_l{layer}``, ``weight_hh_l{layer}``, ``bias_ih_l{layer}``,
    ``bias_hh_l{layer}``, and their ``_reverse`` twins for a bidirectional node) of one ONNX GRU node.

    ONNX stores W (D, 3H, I), R (D, 3H, H), B (D, 6H) with the gates in the order z, r, h; PyTorch
    uses r, z, n.  The node must compute what ``nn.GRU`` computes (``linear_before_reset=1``, no
    sequence lengths, zero initial state when one is given, default activations); a ValueError
    names the file and the node or tensor otherwise."""
    attrs = {a.name: a for a in node.attribute}
    what = f"{path}: GRU node '{node.name or node.output[0]}'"
    direction = attrs["direction"].s.decode() if "direction" in attrs else "forward"
    if "linear_before_reset" not in attrs or attrs["linear_before_reset"].i != 1:
        raise ValueError(f"{what} has linear_before_reset != 1 (torch.nn.GRU applies the reset gate after the matmul)")
    if direction not in ("forward", "bidirectional") or "activations" in attrs or "clip" in attrs:
        raise ValueError(f"{what}: direction {direction!r} / custom activations or clip: not what torch.nn.GRU computes")
    if attrs.get("hidden_size") is not None and attrs["hidden_size"].i != hidden_size:
        raise ValueError(f"{what} has hidden_size {attrs['hidden_size'].i}, expected {hidden_size}")
    dirs = 2 if direction == "bidirectional" else 1
    inputs = list(node.input) + [""] * (6 - len(node.input))
    w = take(tensors, inputs[1], (dirs, 3 * hidden_size, input_size), path)
    r = take(tensors, inputs[2], (dirs, 3 * hidden_size, hidden_size), path)
    b = take(tensors, inputs[3], (dirs, 6 * hidden_size), path) if inputs[3] else np.zeros((dirs, 6 * hidden_size), np.float32)
    if inputs[4]:
        raise ValueError(f"{what} takes sequence lengths ('{inputs[4]}'): not supported")
    if inputs[5] in tensors and np.any(take(tensors, inputs[5], (dirs, 1, hidden_size), path) != 0):
        raise ValueError(f"{path}: ONNX tensor '{inputs[5]}' (initial state of a GRU) is not zero")

    def gates(a: np.ndarray) -> np.ndarray:  # z, r, h -> r, z, n along axis 0
        z, r_, h = np.split(a, 3, axis=0)
        return np.concatenate([r_, z, h], axis=0)

    out = {}
    for d in range(dirs):
        sfx = f"_l{layer}" + ("_reverse" if d else "")
        out["weight_ih" + sfx], out["weight_hh" + sfx] = gates(w[d]), gates(r[d])
        out["bias_ih" + sfx], out["bias_hh" + sfx] = gates(b[d, : 3 * hidden_size]), gates(b[d, 3 * hidden_size:])
    return out
