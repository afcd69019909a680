#!/usr/bin/env bash
# One prepared GPU session: CUDA soft-DTW correctness against the CPU path, then the benchmark.
# Usage (device machine): bash bench/gpu_check.sh OUT_DIR
set -euo pipefail
out="${1:-bench/results}"
mkdir -p "${out}"
export PYTHONPATH="${PWD}:${PYTHONPATH:-}" PYTHONUNBUFFERED=1
python3 - <<'PY' 2>&1 | tee "${out}/cuda_correctness.txt"
import time, torch
from espnet_pise.losses.soft_dtw import soft_dtw
print(torch.__version__, torch.cuda.get_device_name())
torch.manual_seed(0)
for dtype in (torch.float64, torch.float32):
    for (B, N, M, D, band) in [(4, 37, 53, 16, None), (4, 300, 280, 64, None), (3, 1500, 1300, 32, 40), (2, 700, 700, 8, 0)]:
        x = torch.randn(B, N, D, dtype=dtype); y = torch.randn(B, M, D, dtype=dtype)
        xl = torch.randint(N // 2, N + 1, (B,)); yl = torch.randint(M // 2, M + 1, (B,)); xl[0], yl[0] = N, M
        res = {}
        for dev in ("cpu", "cuda"):
            xd = x.to(dev).requires_grad_(); yd = y.to(dev).requires_grad_()
            v = soft_dtw(xd, yd, xl, yl, gamma=0.1, bandwidth=band, normalize=True)
            v.sum().backward()
            res[dev] = (v.detach().cpu(), xd.grad.cpu(), yd.grad.cpu())
        tol = 1e-9 if dtype == torch.float64 else 1e-3
        errs = [((a - b).abs().max() / b.abs().max().clamp(min=1)).item() for a, b in zip(res["cuda"], res["cpu"])]
        print(f"{dtype} B={B} N={N} M={M} D={D} band={band}: rel err value/gx/gy = {errs} {'OK' if max(errs) < tol else 'FAIL'}")
# long inputs and tiny gamma stay finite on the GPU (no 1024 limit)
for N in (2000, 4096):
    x = torch.randn(2, N, 64, device="cuda", requires_grad=True); y = torch.randn(2, N - 100, 64, device="cuda")
    torch.cuda.synchronize(); t = time.perf_counter()
    v = soft_dtw(x, y, gamma=0.001); v.sum().backward(); torch.cuda.synchronize()
    print(f"N={N} gamma=0.001: finite={bool(torch.isfinite(v).all() and torch.isfinite(x.grad).all())} {time.perf_counter()-t:.3f}s")
PY
python3 bench/soft_dtw.py --device cuda --impls pise,pysdtw,autograd --repeats 5 --json_out "${out}/soft_dtw_cuda.json" 2>&1 | tee "${out}/soft_dtw_cuda.txt"
