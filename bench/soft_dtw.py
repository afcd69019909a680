#!/usr/bin/env python
"""Forward+backward time and peak memory of espnet_pise's soft_dtw against its peers.

Peers: pysdtw (CPU numba / CUDA numba kernels), tslearn's SoftDTWLossPyTorch (default settings,
which build a B x N x M x D difference tensor), a plain autograd reference (anti-diagonal
recursion in torch) and, on CUDA, softdtw-cuda-torch (BGU-CS-VIL/sdtw-cuda-torch, import name
``softdtw_cuda``; ``sdtw_cuda`` = its unfused mode, ``sdtw_cuda_fused`` = its fused squared-Euclidean
mode).  softdtw-cuda-torch is not on PyPI (checked 2026-12-01 under the names softdtw-cuda-torch,
sdtw-cuda-torch, sdtw-cuda): it runs only where ``softdtw_cuda`` is importable, else its rows
say so.  Every implementation runs in its own worker process so that peak memory
is its own: CPU peak = rise of the resident-set high-water mark (VmHWM, reset before each run);
CUDA peak = torch.cuda.max_memory_allocated.  Values are checked to agree within 1e-4.
The peak includes the gradient outputs (B x (N + M) x D floats), which every implementation
must return; the 'x floor' column compares what is left (working memory) with the B x N x M
float32 table.

On the CPU each implementation runs twice: the times come from a worker with glibc's default
allocator (as in a training process), the peak memory from a second worker (one repeat) with
the mmap threshold fixed at 64 KiB, where freed large blocks go back to the system so that the
high-water mark measures live memory.  (Timing under that fixed threshold, as this script did
until 2026-11-26, makes every large allocation fresh pages: at N = M = 250, D = 768 it slowed
pise 1.6x and pysdtw 1.9x.)

    python bench/soft_dtw.py                 # CPU, full table
    python bench/soft_dtw.py --device cuda   # GPU
    python bench/soft_dtw.py --quick         # a few shapes
    python bench/soft_dtw.py --shapes 512x512x64,1000x1000x768b50 --batch 32   # given shapes

On CUDA the time of a run is measured with CUDA events (first run = warm-up, not counted).
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time

IMPLS = ("pise", "pysdtw", "tslearn", "autograd")
CUDA_ONLY = ("sdtw_cuda", "sdtw_cuda_fused")  # softdtw-cuda-torch, where importable


def parse_shapes(spec: str):
    """'NxMxD[bW],...' -> [(N, M, D, W or None), ...], e.g. '250x250x768,1000x1000x768b50'."""
    out = []
    for item in spec.split(","):
        m = re.fullmatch(r"(\d+)x(\d+)x(\d+)(?:b(\d+))?", item.strip())
        if not m:
            raise argparse.ArgumentTypeError(f"bad shape '{item}': expected NxMxD or NxMxDbW (e.g. 1000x1000x768b50)")
        n, mm, d, band = m.groups()
        out.append((int(n), int(mm), int(d), int(band) if band else None))
    return out


def shapes(quick: bool):
    out = []
    for n in (100, 250, 500, 1000, 2000):
        for d in (256, 768):
            out.append((n, n, d, None))
    out += [(250, 300, 768, None), (1000, 1200, 768, None), (500, 400, 256, None)]
    for n in (500, 1000, 2000):
        out.append((n, n, 768, 50))
    if quick:
        out = [(100, 100, 256, None), (250, 250, 768, None), (250, 300, 768, None), (1000, 1000, 768, 50)]
    return out


# ----------------------------------------------------------------------------- worker side
def _autograd_sdtw(x, y, gamma, bandwidth):
    """Reference: anti-diagonal recursion in torch, differentiated by autograd."""
    import torch

    B, N, _ = x.shape
    M = y.shape[1]
    cost = (x.pow(2).sum(-1)[:, :, None] + y.pow(2).sum(-1)[:, None, :] - 2 * x @ y.transpose(1, 2)).clamp(min=0)
    inf = torch.tensor(float("inf"), dtype=x.dtype, device=x.device)
    # R on diagonal d is stored as a (B, N + 1) vector indexed by i (+1 offset), inf elsewhere
    prev2 = torch.full((B, N + 1), float("inf"), dtype=x.dtype, device=x.device)
    prev2[:, 0] = 0.0  # R[-1, -1]
    prev1 = torch.full((B, N + 1), float("inf"), dtype=x.dtype, device=x.device)
    i_all = torch.arange(N, device=x.device)
    for d in range(N + M - 1):
        j = d - i_all
        valid = (j >= 0) & (j < M)
        if bandwidth is not None:
            valid = valid & ((j - i_all * (M - 1) / max(N - 1, 1)).abs() <= bandwidth)
        c = cost[:, i_all, j.clamp(0, M - 1)]
        up = prev1[:, :-1]       # R[i-1, j]   (diagonal d-1, row i-1)
        left = prev1[:, 1:]      # R[i, j-1]   (diagonal d-1, row i)
        diag = prev2[:, :-1]     # R[i-1, j-1] (diagonal d-2, row i-1)
        stack = torch.stack([up, left, diag], dim=-1)
        smin = -gamma * torch.logsumexp(-stack / gamma, dim=-1)
        r = torch.where(valid[None], c + smin, inf)
        cur = torch.cat([torch.full((B, 1), float("inf"), dtype=x.dtype, device=x.device), r], dim=1)
        prev2, prev1 = prev1, cur
    return prev1[:, N]


def _make_fn(impl, device, gamma, bandwidth):
    if impl == "pise":
        from espnet_pise.losses.soft_dtw import soft_dtw

        return lambda x, y: soft_dtw(x, y, gamma=gamma, bandwidth=bandwidth)
    if impl == "pysdtw":
        import numpy as np

        if not hasattr(np, "row_stack"):  # pysdtw 0.0.5 calls np.row_stack, removed in numpy 2.4
            np.row_stack = np.vstack
        import pysdtw

        sdtw = pysdtw.SoftDTW(gamma=gamma, use_cuda=device == "cuda", bandwidth=bandwidth)
        return lambda x, y: sdtw(x, y)
    if impl == "tslearn":
        if bandwidth is not None:
            return None  # no band support
        from tslearn.metrics import SoftDTWLossPyTorch

        loss = SoftDTWLossPyTorch(gamma=gamma, normalize=False)
        return lambda x, y: loss(x, y)
    if impl == "autograd":
        return lambda x, y: _autograd_sdtw(x, y, gamma, bandwidth)
    if impl in CUDA_ONLY:
        from softdtw_cuda import SoftDTW  # ImportError: the caller reports the peer as missing

        sdtw = SoftDTW(gamma=gamma, bandwidth=bandwidth, dist="sqeuclidean", fused=impl == "sdtw_cuda_fused")
        return lambda x, y: sdtw(x, y)
    raise ValueError(impl)


def _rss_hwm_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def _reset_hwm():
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def worker(impl, device, shape_list, batch, gamma, repeats, mem_limit_gb, min_time=0.0, max_run_s=1e9):
    import torch

    torch.manual_seed(0)
    results = []
    for n, m, d, band in shape_list:
        row = dict(impl=impl, n=n, m=m, d=d, band=band)
        # tslearn's default distance allocates B*N*M*D floats; pysdtw CUDA caps length at 1024
        need_gb = batch * n * m * d * 4 * 3 / 1e9 if impl == "tslearn" else 0
        fn = None
        if impl in CUDA_ONLY and device != "cuda":
            row["skip"] = "CUDA only"
        else:
            try:
                fn = _make_fn(impl, device, gamma, band)
            except ImportError as e:
                row["skip"] = f"not installed ({e}); softdtw-cuda-torch is not on PyPI" if impl in CUDA_ONLY \
                    else f"not installed ({e})"
        if "skip" in row:
            pass
        elif fn is None:
            row["skip"] = "no bandwidth support"
        elif need_gb > mem_limit_gb:
            row["skip"] = f"needs ~{need_gb:.0f} GB"
        elif impl == "pysdtw" and device == "cuda" and max(n, m) > 1024:
            row["skip"] = "length > 1024 unsupported"
        elif impl == "autograd" and device == "cpu" and n * m > 300 * 300:
            row["skip"] = "too slow (minutes)"
        if "skip" in row:
            results.append(row)
            print(json.dumps(row), flush=True)
            continue
        gen = torch.Generator().manual_seed(n * 7 + m * 13 + d)
        x0 = torch.randn(batch, n, d, generator=gen) * 0.1
        y0 = torch.randn(batch, m, d, generator=gen) * 0.1
        x0, y0 = x0.to(device), y0.to(device)
        times = []
        try:
            rep = 0
            # first run: warm-up / JIT; then at least `repeats` timed runs and, for fast shapes,
            # more until min_time seconds are timed (ms-scale medians of 3 vary by 20 %), at most 50
            # a run slower than max_run_s (e.g. a fused peer at D = 768) is timed once, not repeats times
            while rep <= repeats or (sum(times) < min_time and rep <= 50):
                if rep >= 2 and times[0] > max_run_s:
                    break
                # the previous run's value, graph and gradients are freed before the baseline (until
                # 2026-11-26 they were still alive then, so the column missed one set of gradients)
                v = x = y = None
                x = x0.clone().requires_grad_()
                y = y0.clone().requires_grad_()
                if device == "cuda":
                    torch.cuda.synchronize()
                    torch.cuda.reset_peak_memory_stats()
                    base = torch.cuda.memory_allocated()
                else:
                    _reset_hwm()
                    base = _rss_hwm_kb() * 1024
                t0 = time.perf_counter()
                if device == "cuda":
                    ev0, ev1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                    ev0.record()
                v = fn(x, y)
                v.sum().backward()
                if device == "cuda":
                    ev1.record()
                    torch.cuda.synchronize()
                    elapsed = ev0.elapsed_time(ev1) / 1000.0
                    peak = torch.cuda.max_memory_allocated() - base
                else:
                    elapsed = time.perf_counter() - t0
                    peak = _rss_hwm_kb() * 1024 - base
                if rep > 0:
                    times.append(elapsed)
                    row.setdefault("peaks", []).append(peak)
                rep += 1
            row["runs"] = len(times)
            row["time_s"] = statistics.median(times)
            row["peak_mb"] = max(row.pop("peaks")) / 2**20
            row["grad_mb"] = (x.numel() + y.numel()) * x.element_size() / 2**20  # outputs all must return
            row["value"] = v.detach().double().cpu().numpy().tolist()
            row["gx_norm"] = float(x.grad.double().norm())
        except Exception as e:  # e.g. out of memory
            row["skip"] = f"failed: {type(e).__name__}: {str(e)[:80]}"
            if device == "cuda":
                torch.cuda.empty_cache()
        results.append(row)
        print(json.dumps(row), flush=True)
    return results


# ----------------------------------------------------------------------------- driver side
def _working(row) -> float:
    """Peak MB minus the gradient outputs, which every implementation returns (at N = 250,
    D = 768 they are six times the B x N x M table): what the implementation itself needs."""
    return max(row["peak_mb"] - row["grad_mb"], 0.0)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--gamma", type=float, default=0.1)
    ap.add_argument("--repeats", type=int, default=3, help="timed runs per shape, at least")
    ap.add_argument("--min_time", type=float, default=2.0,
                    help="keep timing a shape until this many seconds (up to 50 runs; memory run: 1)")
    ap.add_argument("--impls", default=",".join(IMPLS))
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--shapes", type=parse_shapes, default=None,
                    help="comma-separated NxMxD or NxMxDbW (band W), replacing the default table")
    ap.add_argument("--max_run_s", type=float, default=1e9,
                    help="a shape whose first timed run takes longer is timed once")
    ap.add_argument("--worker_timeout", type=float, default=None,
                    help="seconds per implementation; a worker past it is stopped, its finished rows kept")
    ap.add_argument("--mem_limit_gb", type=float, default=12.0)
    ap.add_argument("--json_out", default=None, help="also write all rows here")
    ap.add_argument("--_worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    shape_list = args.shapes or shapes(args.quick)
    if args.device == "cpu":
        bad = [i for i in args.impls.split(",") if i in CUDA_ONLY]
        if bad:
            ap.error(f"{','.join(bad)}: CUDA only (use --device cuda)")
    unknown = [i for i in args.impls.split(",") if i not in IMPLS + CUDA_ONLY]
    if unknown:
        ap.error(f"unknown implementation(s) {unknown}; choose from {IMPLS + CUDA_ONLY}")
    if args._worker:
        worker(args._worker, args.device, shape_list, args.batch, args.gamma, args.repeats, args.mem_limit_gb,
               args.min_time, args.max_run_s)
        return

    def run_worker(impl, repeats, env, min_time):
        cmd = [sys.executable, __file__, "--_worker", impl, "--device", args.device, "--batch", str(args.batch),
               "--gamma", str(args.gamma), "--repeats", str(repeats), "--mem_limit_gb", str(args.mem_limit_gb),
               "--min_time", str(min_time), "--max_run_s", str(args.max_run_s)]
        if args.quick:
            cmd.append("--quick")
        if args.shapes:
            cmd += ["--shapes", ",".join(f"{n}x{m}x{d}" + (f"b{b}" if b is not None else "")
                                         for n, m, d, b in args.shapes)]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=args.worker_timeout)
            stdout, code = proc.stdout, proc.returncode
            if code != 0:
                print(f"# {impl} worker failed: {proc.stderr[-1500:]}", file=sys.stderr)
        except subprocess.TimeoutExpired as e:  # keep the rows it finished
            stdout = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
            code = "timeout"
            print(f"# {impl} worker stopped after {args.worker_timeout:g} s", file=sys.stderr)
        got = {(r["n"], r["m"], r["d"], r["band"]): r for r in
               (json.loads(line) for line in stdout.splitlines() if line.startswith("{"))}
        return got, code

    rows = {}
    for impl in args.impls.split(","):
        print(f"# running {impl} ...", file=sys.stderr, flush=True)
        got, code = run_worker(impl, args.repeats, dict(os.environ), args.min_time)
        if args.device == "cpu":  # peak memory: a second worker with the fixed mmap threshold
            mem, _ = run_worker(impl, 1, {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"}, 0.0)
            for key, r in got.items():
                if "peak_mb" in r and "peak_mb" in mem.get(key, {}):
                    r["peak_mb"] = mem[key]["peak_mb"]
                elif "peak_mb" in r:
                    r["skip"] = "memory run failed"
        for s in shape_list:
            missing = {"timeout": "worker timed out"}.get(code, "worker crashed") if code else "no result"
            rows[(impl, *s)] = got.get(s, dict(skip=missing))

    import numpy as np

    impls = args.impls.split(",")
    print(f"\nsoft-DTW forward+backward, B={args.batch}, gamma={args.gamma}, device={args.device}, "
          f"{'CUDA-event ' if args.device == 'cuda' else ''}median of >= {args.repeats} runs and >= {args.min_time:g} s; MB = peak memory over the inputs "
          f"(gradient outputs included); floor = B*N*M float32; 'Nx vs' = best peer time / ours; "
          f"'x floor' = our working memory (peak minus the B*(N+M)*D gradient outputs) / floor")
    head = "| N | M | D | band | floor MB | " + " | ".join(f"{i} s / MB" for i in impls) + " | pise vs best peer: time, memory/floor | agree |"
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    failures = 0
    for n, m, d, band in shape_list:
        floor = args.batch * n * m * 4 / 2**20
        cells, times = [], {}
        for impl in impls:
            r = rows[(impl, n, m, d, band)]
            if "skip" in r:
                cells.append(f"- ({r['skip']})")
            else:
                cells.append(f"{r['time_s']:.3f} / {r['peak_mb']:.0f}")
                times[impl] = r
        ours = times.get("pise")
        peers = {k: v for k, v in times.items() if k != "pise"}
        ratio = "-"
        if ours and peers:
            best = min(peers.values(), key=lambda r: r["time_s"])
            ratio = f"{best['time_s'] / ours['time_s']:.2f}x vs {best['impl']}, {_working(ours) / floor:.2f}x floor"
        elif ours:
            ratio = f"no peer ran, {_working(ours) / floor:.2f}x floor"
        agree = "-"
        if ours:
            ref = np.array(ours["value"])
            errs = []
            for k, r in peers.items():
                if band is not None and n != m and k in ("pysdtw",) + CUDA_ONLY:
                    continue  # pysdtw's band differs from Sakoe-Chiba when N != M
                errs.append(np.max(np.abs(np.array(r["value"]) - ref) / np.maximum(1.0, np.abs(ref))))
            if errs:
                ok = max(errs) <= 1e-4
                failures += not ok
                agree = f"{'ok' if ok else 'MISMATCH'} ({max(errs):.1e})"
        print(f"| {n} | {m} | {d} | {band or '-'} | {floor:.0f} | " + " | ".join(cells) + f" | {ratio} | {agree} |")
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump([dict(r, key=list(k)) for k, r in rows.items()], f, indent=1)
    if failures:
        print(f"\n{failures} shape(s) where implementations disagree by more than 1e-4", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
