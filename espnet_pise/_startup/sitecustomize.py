"""Interpreter start-up of processes opted in by ``espnet-pise-python`` (see espnet_pise.autoregister).

This directory is first on PYTHONPATH only for those processes.  It runs whatever other
``sitecustomize`` the interpreter would have run, then installs the registration hook unless
ESPNET_PISE_REGISTER is not "1".
"""
import importlib.machinery
import importlib.util
import os
import sys


def _run_next_sitecustomize():
    here = os.path.dirname(os.path.abspath(__file__))
    rest = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
    if spec is not None and spec.loader is not None:
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)


_run_next_sitecustomize()
if os.environ.get("ESPNET_PISE_REGISTER", "0") == "1":
    from espnet_pise.autoregister import install_hook

    install_hook()
