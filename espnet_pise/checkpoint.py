"""Loading checkpoint files that users point to, with errors that name the file.

Files are read with ``torch.load(weights_only=True)``: only tensors, containers and an explicit
allow-list of classes are unpickled, so no pickled code runs.  Released fairseq and denoiser files
pickle a few classes of packages that need not be installed (fairseq's ``Dictionary`` in
``task_state``, ``denoiser.demucs.Demucs`` in model packages, argparse / OmegaConf configs); those
names are mapped to inert stand-ins (plain attribute holders) or, for OmegaConf, to omegaconf's
own classes, and nothing else is accepted.
"""
import argparse
import re
import typing
from collections import OrderedDict, defaultdict
from pathlib import Path
from typing import Any, List, Tuple


class PickledStandIn:
    """An object of a class from an uninstalled package: keeps its pickled attributes only."""

    def __repr__(self) -> str:
        return f"<stand-in for {type(self).__module__}.{type(self).__qualname__}>"


class PickledStandInDict(OrderedDict):
    """Stand-in for a pickled OrderedDict subclass (fairseq's MetersDict)."""


def _stand_in(full_name: str, base: type = PickledStandIn) -> Tuple[type, str]:
    module, name = full_name.rsplit(".", 1)
    return type(name, (base,), {"__module__": module, "__qualname__": name}), full_name


# What released fairseq (HuBERT / wav2vec 2.0) and denoiser (best.th, checkpoint.th) files pickle.
STAND_INS = {
    name: _stand_in(name, base)
    for name, base in [
        ("fairseq.data.dictionary.Dictionary", PickledStandIn),
        ("fairseq.logging.meters.AverageMeter", PickledStandIn),
        ("fairseq.logging.meters.SumMeter", PickledStandIn),
        ("fairseq.logging.meters.TimeMeter", PickledStandIn),
        ("fairseq.logging.meters.StopwatchMeter", PickledStandIn),
        ("fairseq.logging.meters.MetersDict", PickledStandInDict),
        ("denoiser.demucs.Demucs", PickledStandIn),
    ]
}


def _omegaconf_globals() -> List[Any]:
    """omegaconf's own classes (DictConfig, nodes, metadata) and what they pickle."""
    try:
        import omegaconf
        from omegaconf import base, listconfig, nodes
    except ImportError:  # then DictConfig files fail with the unsupported-global error
        return []
    classes = [omegaconf.DictConfig, listconfig.ListConfig, base.ContainerMetadata, base.Metadata]
    classes += [getattr(nodes, n) for n in ("AnyNode", "StringNode", "IntegerNode", "FloatNode",
                                            "BooleanNode", "EnumNode", "BytesNode", "PathNode")
                if hasattr(nodes, n)]
    return classes + [(typing.Any, "typing.Any"), defaultdict, dict, list, int, float, str, bool, tuple]


def safe_globals() -> List[Any]:
    """The allow-list passed to ``torch.serialization.safe_globals``."""
    return [*STAND_INS.values(), argparse.Namespace, *_omegaconf_globals()]


def load_checkpoint_file(path, what: str) -> Any:
    """``torch.load(path, weights_only=True)`` on CPU with the allow-list above.

    FileNotFoundError / ValueError naming ``what``, the path and, for a refused class, its name.
    """
    import torch

    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{what} not found: {p}")
    try:
        with torch.serialization.safe_globals(safe_globals()):
            return torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:
        refused = re.search(r"(Unsupported global: GLOBAL \S+|unrecognized function [^\n]+|new object for [^\n]+)", str(e))
        if refused:
            raise ValueError(
                f"{p}: {what} pickles a class that is not on espnet_pise's allow-list (only tensors, "
                f"containers, argparse/OmegaConf configs and the fairseq/denoiser classes of released "
                f"files are unpickled; no pickled code is run): {refused.group(1)}"
            ) from e
        raise ValueError(f"{p}: not a readable torch checkpoint ({e})") from e


def to_plain(obj: Any) -> Any:
    """A config as plain dicts/lists: OmegaConf containers resolved, Namespaces as dicts."""
    try:
        from omegaconf import OmegaConf

        if OmegaConf.is_config(obj):
            return OmegaConf.to_container(obj, resolve=True)
    except ImportError:
        pass
    if isinstance(obj, argparse.Namespace):
        return {k: to_plain(v) for k, v in vars(obj).items()}
    if isinstance(obj, dict):
        return {k: to_plain(v) for k, v in obj.items()}
    return obj
