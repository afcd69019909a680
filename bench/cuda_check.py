#!/usr/bin/env python
"""soft_dtw on a device against the float64 CPU path (value and both gradients), then long inputs
with a tiny gamma (finite, no length limit).

    python bench/cuda_check.py                  # on a GPU
    python bench/cuda_check.py --device cpu --small   # dry run of this script (CPU vs CPU)
"""
import argparse
import sys
import time

import torch

from espnet_pise.losses.soft_dtw import soft_dtw

CASES = [(4, 37, 53, 16, None), (4, 300, 280, 64, None), (3, 1500, 1300, 32, 40), (2, 700, 700, 8, 0)]
SMALL = [(3, 17, 23, 4, None), (2, 30, 26, 4, 3), (2, 12, 12, 2, 0)]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda", choices=["cpu", "cuda"])
    ap.add_argument("--small", action="store_true", help="tiny shapes (dry run)")
    args = ap.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        ap.error("--device cuda: no CUDA device")
    dev = args.device
    print(torch.__version__, torch.cuda.get_device_name() if dev == "cuda" else "cpu", flush=True)
    torch.manual_seed(0)
    failures = 0
    for B, N, M, D, band in SMALL if args.small else CASES:
        x = torch.randn(B, N, D, dtype=torch.float64)
        y = torch.randn(B, M, D, dtype=torch.float64)
        xl = torch.randint(N // 2, N + 1, (B,))
        yl = torch.randint(M // 2, M + 1, (B,))
        xl[0], yl[0] = N, M
        res = {}
        for where, dtype in (("cpu", torch.float64), (dev, torch.float64), ("cpu", torch.float32), (dev, torch.float32)):
            xd = x.detach().to(where, dtype).clone().requires_grad_()
            yd = y.detach().to(where, dtype).clone().requires_grad_()
            v = soft_dtw(xd, yd, xl, yl, gamma=0.1, bandwidth=band, normalize=True)
            v.sum().backward()
            res[where, dtype] = [t.detach().cpu().double() for t in (v, xd.grad, yd.grad)]
        truth = res["cpu", torch.float64]
        for key, tol in (((dev, torch.float64), 1e-7), (("cpu", torch.float32), None), ((dev, torch.float32), None)):
            errs = [((a - b).abs().max() / b.abs().max().clamp(min=1)).item() for a, b in zip(res[key], truth)]
            verdict = ("OK" if max(errs) < tol else "FAIL") if tol else "(float32 vs float64 truth)"
            failures += verdict == "FAIL"
            print(f"B={B} N={N} M={M} D={D} band={band} {key[0]} {key[1]}: rel err value/gx/gy = "
                  f"{[f'{e:.1e}' for e in errs]} {verdict}", flush=True)
    # long inputs and tiny gamma stay finite (no 1024-frame limit)
    for N in (40, 70) if args.small else (2000, 4096):
        x = torch.randn(2, N, 64, device=dev, requires_grad=True)
        y = torch.randn(2, N - 10, 64, device=dev)
        if dev == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        v = soft_dtw(x, y, gamma=0.001)
        v.sum().backward()
        if dev == "cuda":
            torch.cuda.synchronize()
        finite = bool(torch.isfinite(v).all() and torch.isfinite(x.grad).all())
        failures += not finite
        print(f"N={N} gamma=0.001: finite={finite} {time.perf_counter() - t:.3f}s (first call: includes compilation)")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
