"""Drop-in registration for unmodified ESPnet recipes (``./enh_asr.sh --python espnet-pise-python``).

ESPnet's TEMPLATE scripts run every step as ``${python} -m espnet2.bin.<step> ...``, and the
trainer, ``torch.distributed.run`` and the run.pl/slurm backends start further interpreters.  The
console script ``espnet-pise-python`` is a Python interpreter that opts all of them in: it sets
``ESPNET_PISE_REGISTER=1``, puts ``espnet_pise/_startup`` (a ``sitecustomize`` only) first on
``PYTHONPATH`` and execs the real interpreter with the same arguments.  Both variables are
inherited by every child process, whose startup then installs ``install_hook()``: the first time
an ``espnet2.tasks.*`` module (where ESPnet's ClassChoices tables live) finishes importing,
``espnet_pise.register()`` runs.  Processes that never import a task (tokenize_text,
format_wav_scp.py, ...) import nothing from espnet_pise and print nothing.

Off: pass the plain interpreter, or set ``ESPNET_PISE_REGISTER=0`` for a command.
"""
import os
import sys
import threading

ENV = "ESPNET_PISE_REGISTER"
STARTUP_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_startup")
_WATCHED = "espnet2.tasks."


def enabled() -> bool:
    return os.environ.get(ENV, "0") == "1"


class _RegisteringLoader:
    """Delegates to the real loader; registers once the outermost espnet2.tasks import is done."""

    def __init__(self, loader, finder):
        self._loader, self._finder = loader, finder

    def __getattr__(self, attr):
        return getattr(self._loader, attr)

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        finder = self._finder
        finder.depth += 1
        try:
            self._loader.exec_module(module)
        finally:
            finder.depth -= 1
        # a nested task import (enh_s2t imports enh and asr) leaves its importer half-built:
        # register only when the outermost one has finished
        if finder.depth == 0:
            finder.fire()


class _TaskImportFinder:
    """Meta-path finder that only wraps the loaders of ``espnet2.tasks.*`` modules."""

    def __init__(self):
        self.depth = 0
        self._lock = threading.RLock()

    def find_spec(self, name, path=None, target=None):
        if not name.startswith(_WATCHED):
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _RegisteringLoader(spec.loader, self)
                return spec
        return None

    def fire(self):
        with self._lock:
            if self not in sys.meta_path:
                return
            sys.meta_path.remove(self)  # register() imports more tasks: no re-entry
        from espnet_pise import register

        register()


def install_hook() -> None:
    """Register espnet_pise as soon as ESPnet's task tables are imported (now, if they already are)."""
    if any(isinstance(f, _TaskImportFinder) for f in sys.meta_path):
        return
    if any(name.startswith(_WATCHED) for name in list(sys.modules)):
        from espnet_pise import register

        register()
        return
    sys.meta_path.insert(0, _TaskImportFinder())


def child_environ(environ=None) -> dict:
    """``environ`` (default os.environ) with the opt-in variables every child inherits."""
    env = dict(os.environ if environ is None else environ)
    if env.get(ENV) != "0":  # an explicit 0 still turns it off
        env[ENV] = "1"
    parts = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and os.path.abspath(p) != STARTUP_DIR]
    env["PYTHONPATH"] = os.pathsep.join([STARTUP_DIR, *parts])
    return env


def main() -> None:
    """``espnet-pise-python ARGS``: the venv's interpreter with ARGS, espnet_pise opted in."""
    os.execve(sys.executable, [sys.executable, *sys.argv[1:]], child_environ())


if __name__ == "__main__":
    main()
