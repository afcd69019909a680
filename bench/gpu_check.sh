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
for (B, N, M, D, band) in [(4, 37, 53, 16, None), (4, 300, 280, 64, None), (3, 1500, 1300, 32, 40), (2, 700, 700, 8, 0)]:
    x = torch.randn(B, N, D, dtype=torch.float64); y = torch.randn(B, M, D, dtype=torch.float64)
    xl = torch.randint(N // 2, N + 1, (B,)); yl = torch.randint(M // 2, M + 1, (B,)); xl[0], yl[0] = N, M
    res = {}
    for dev, dtype in (("cpu", torch.float64), ("cuda", torch.float64), ("cpu", torch.float32), ("cuda", torch.float32)):
        xd = x.detach().to(dev, dtype).clone().requires_grad_(); yd = y.detach().to(dev, dtype).clone().requires_grad_()
        v = soft_dtw(xd, yd, xl, yl, gamma=0.1, bandwidth=band, normalize=True)
        v.sum().backward()
        res[dev, dtype] = [t.detach().cpu().double() for t in (v, xd.grad, yd.grad)]
    truth = res["cpu", torch.float64]
    for key, tol in ((("cuda", torch.float64), 1e-7), (("cpu", torch.float32), None), (("cuda", torch.float32), None)):
        errs = [((a - b).abs().max() / b.abs().max().clamp(min=1)).item() for a, b in zip(res[key], truth)]
        verdict = ("OK" if max(errs) < tol else "FAIL") if tol else "(float32 vs float64 truth)"
        print(f"B={B} N={N} M={M} D={D} band={band} {key[0]} {key[1]}: rel err value/gx/gy = {[f'{e:.1e}' for e in errs]} {verdict}")
# long inputs and tiny gamma stay finite on the GPU (no 1024 limit)
for N in (2000, 4096):
    x = torch.randn(2, N, 64, device="cuda", requires_grad=True); y = torch.randn(2, N - 100, 64, device="cuda")
    torch.cuda.synchronize(); t = time.perf_counter()
    v = soft_dtw(x, y, gamma=0.001); v.sum().backward(); torch.cuda.synchronize()
    print(f"N={N} gamma=0.001: finite={bool(torch.isfinite(v).all() and torch.isfinite(x.grad).all())} {time.perf_counter()-t:.3f}s")
PY
python3 bench/soft_dtw.py --device cuda --impls ${IMPLS:-pise,pysdtw,autograd} --repeats 5 --json_out "${out}/soft_dtw_cuda.json" 2>&1 | tee "${out}/soft_dtw_cuda.txt"
