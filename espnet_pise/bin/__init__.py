"""ESPnet command-line entry points with espnet_pise components registered."""
import importlib
from typing import List, Optional


def run_espnet_main(espnet_module: str, cmd: Optional[List[str]] = None) -> None:
    """register() and then ``espnet2.bin.<espnet_module>.main(cmd)`` with the same arguments."""
    from espnet_pise import register

    register()
    importlib.import_module(f"espnet2.bin.{espnet_module}").main(cmd)
