"""Frozen SSL models: upstream loading (names, local checkpoints) and the loss teacher."""
from espnet_pise.ssl.teacher import LayerSelector, SSLTeacher, shared_upstream
from espnet_pise.ssl.upstream import AbsSSLUpstream, build_upstream, load_checkpoint

__all__ = ["AbsSSLUpstream", "LayerSelector", "SSLTeacher", "build_upstream", "load_checkpoint", "shared_upstream"]
