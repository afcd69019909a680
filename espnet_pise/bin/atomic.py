"""Files an experiment directory is read from, written whole or not at all (temporary name, rename)."""
from pathlib import Path

import yaml


def write_config(config, out_dir: Path) -> Path:
    """ESPnet's ``config.yaml`` of an argparse namespace (as ESPnet's trainer writes it) into out_dir."""
    out = Path(out_dir) / "config.yaml"
    tmp = out.with_suffix(".yaml.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        yaml.safe_dump(vars(config), f, allow_unicode=True, sort_keys=False)
    tmp.rename(out)
    return out
