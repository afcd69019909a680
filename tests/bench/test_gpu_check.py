"""Argument handling of the prepared GPU check (bench/gpu_check.sh and the scripts it calls): a typo
must fail here, at once, not on the device machine.  (The whole CUDA-less run of the script is
`bash bench/gpu_check.sh --dry-run OUT`, about 2 min on 2 cores: not part of the unit tests.)"""
import argparse
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load(name):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "bench" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_soft_dtw_shapes_parse_and_reject_typos():
    sd = _load("soft_dtw")
    assert sd.parse_shapes("512x512x64, 1000x1200x768b50") == [(512, 512, 64, None), (1000, 1200, 768, 50)]
    for bad in ("512x512", "512x512x64b", "512*512*64", "2:512x512x64"):
        with pytest.raises(argparse.ArgumentTypeError, match="bad shape"):
            sd.parse_shapes(bad)


def test_sdtw_half_shapes_parse_and_reject_typos():
    half = _load("sdtw_half")
    assert half.parse_shapes(half.DEFAULT_SHAPES)[0] == (32, 512, 512, 64, None)
    assert half.parse_shapes("8:1000x1000x768b50") == [(8, 1000, 1000, 768, 50)]
    with pytest.raises(argparse.ArgumentTypeError, match="bad shape"):
        half.parse_shapes("1000x1000x768")  # batch missing


@pytest.mark.parametrize("args, message", [
    (["--impls", "sdtw_cuda"], "CUDA only"),
    (["--impls", "pise,pysdt"], "unknown implementation"),
    (["--shapes", "250x250"], "bad shape"),
])
def test_soft_dtw_cli_refuses_bad_arguments(args, message):
    res = subprocess.run([sys.executable, str(ROOT / "bench" / "soft_dtw.py"), *args], capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 2 and message in res.stderr, res.stderr


@pytest.mark.parametrize("args, message", [
    ([], "usage"),
    (["--parts", "6", "/tmp/x"], "--parts"),
    (["--budget", "ten", "/tmp/x"], "--budget"),
    (["--dryrun", "/tmp/x"], "unknown option"),
    (["/tmp/a", "/tmp/b"], "one output folder"),
])
def test_gpu_check_refuses_bad_arguments(args, message):
    res = subprocess.run(["bash", str(ROOT / "bench" / "gpu_check.sh"), *args], capture_output=True, text=True, timeout=30)
    assert res.returncode == 2 and message in res.stderr, res.stderr


def test_gpu_check_without_cuda_stops_with_a_clear_error(tmp_path):
    """GPU mode on a machine without CUDA: one clear error, no part started."""
    res = subprocess.run(["bash", str(ROOT / "bench" / "gpu_check.sh"), "--parts", "1", str(tmp_path)],
                         capture_output=True, text=True, timeout=120, env={"PATH": "/usr/bin:/bin", "PY": sys.executable, "PISE_GPU_SITE": str(tmp_path / "site")})
    assert res.returncode == 1, res.stdout + res.stderr
    log = (tmp_path / "gpu_check.log").read_text()
    assert "no CUDA device" in log and "1 correctness" not in log
