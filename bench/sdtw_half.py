#!/usr/bin/env python
"""soft_dtw with half-precision inputs and under torch.autocast, against float32.

For every shape, the float32 value and input gradients are the reference; each case must give
finite values and gradients within the stated tolerance of them (the gap includes the rounding
of the inputs themselves to 8 / 11 significant bits):

* ``bf16 in`` / ``fp16 in``: x, y cast to that dtype (soft_dtw computes in float32);
* ``autocast bf16`` / ``autocast fp16``: float32 inputs, the call inside
  ``torch.autocast(device, dtype)`` (as in an AMP training step);
* ``autocast bf16 + bf16 in`` / fp16 likewise: half inputs inside autocast (features from a model
  run under AMP).

A case that raises is reported as FAIL with the error (the script goes on).  Exit status 1 when
any case fails.

    python bench/sdtw_half.py --device cuda
    python bench/sdtw_half.py --device cpu --shapes 2:20x24x8,2:30x30x8b3    # dry run
"""
import argparse
import importlib.util
import sys
from pathlib import Path

import torch

from espnet_pise.losses.soft_dtw import soft_dtw

# max relative error (max |a - b| / max |b|) of value and gradient vs float32
TOLERANCE = {torch.bfloat16: 5e-2, torch.float16: 1e-2}
DEFAULT_SHAPES = "32:512x512x64,8:250x250x768,8:250x250x768b50,8:1000x1000x768,8:1000x1000x768b50"


def parse_shapes(spec: str):
    """'B:NxMxD[bW],...' -> [(B, N, M, D, W or None), ...]; the NxMxD[bW] part as bench/soft_dtw.py reads it."""
    read_nmd = _soft_dtw_bench().parse_shapes
    out = []
    for item in spec.split(","):
        batch, sep, shape = item.strip().partition(":")
        try:
            if not (sep and batch.isdigit()):
                raise argparse.ArgumentTypeError("batch missing")
            ((n, mm, d, band),) = read_nmd(shape)
        except argparse.ArgumentTypeError:
            raise argparse.ArgumentTypeError(f"bad shape '{item}': expected B:NxMxD or B:NxMxDbW (e.g. 8:1000x1000x768b50)")
        out.append((int(batch), n, mm, d, band))
    return out


def _soft_dtw_bench():
    """bench/soft_dtw.py as a module (this script may be loaded from any working directory)."""
    spec = importlib.util.spec_from_file_location("bench_soft_dtw", Path(__file__).with_name("soft_dtw.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.double() - b.double()).abs().max() / b.double().abs().max().clamp(min=1e-12))


def run_case(x0, y0, gamma, band, in_dtype, autocast_dtype, device):
    x = x0.detach().to(in_dtype).requires_grad_()
    y = y0.detach().to(in_dtype).requires_grad_()
    if autocast_dtype is None:
        v = soft_dtw(x, y, gamma=gamma, bandwidth=band)
    else:
        with torch.autocast(device, dtype=autocast_dtype):
            v = soft_dtw(x, y, gamma=gamma, bandwidth=band)
    v.float().sum().backward()
    return v.detach().float(), x.grad.float(), y.grad.float()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda", choices=["cpu", "cuda"])
    ap.add_argument("--shapes", type=parse_shapes, default=parse_shapes(DEFAULT_SHAPES))
    ap.add_argument("--gamma", type=float, default=0.1)
    args = ap.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        ap.error("--device cuda: no CUDA device")
    print(f"soft_dtw half precision vs float32, gamma={args.gamma}, device={args.device}; rel err = max|a-b|/max|b| "
          f"of value / grad x / grad y; tolerance bf16 {TOLERANCE[torch.bfloat16]:g}, fp16 {TOLERANCE[torch.float16]:g}")
    print("| B | N | M | D | band | case | finite | rel err value / gx / gy | verdict |")
    print("|---|---|---|---|---|---|---|---|---|")
    failures = 0
    for b, n, m, d, band in args.shapes:
        gen = torch.Generator().manual_seed(n * 7 + m * 13 + d)
        x0 = (torch.randn(b, n, d, generator=gen) * 0.1).to(args.device)
        y0 = (torch.randn(b, m, d, generator=gen) * 0.1).to(args.device)
        ref = run_case(x0, y0, args.gamma, band, torch.float32, None, args.device)
        cases = []
        for half, tag in ((torch.bfloat16, "bf16"), (torch.float16, "fp16")):
            cases += [(f"{tag} in", half, None, half), (f"autocast {tag}", torch.float32, half, half),
                      (f"autocast {tag} + {tag} in", half, half, half)]
        for name, in_dtype, ac_dtype, half in cases:
            head = f"| {b} | {n} | {m} | {d} | {band if band is not None else '-'} | {name} |"
            try:
                got = run_case(x0, y0, args.gamma, band, in_dtype, ac_dtype, args.device)
            except Exception as e:  # reported, not fatal: the other cases still run
                failures += 1
                print(f"{head} - | - | FAIL: {type(e).__name__}: {str(e)[:120]} |", flush=True)
                continue
            finite = all(bool(torch.isfinite(t).all()) for t in got)
            errs = [_rel(a, r) for a, r in zip(got, ref)]
            ok = finite and max(errs) <= TOLERANCE[half]
            failures += not ok
            print(f"{head} {finite} | {' / '.join(f'{e:.1e}' for e in errs)} | {'ok' if ok else 'FAIL'} |", flush=True)
        if args.device == "cuda":
            torch.cuda.empty_cache()
    if failures:
        print(f"\n{failures} case(s) failed", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
