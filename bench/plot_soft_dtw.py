#!/usr/bin/env python
"""Plot soft-DTW benchmark JSON files (from bench/soft_dtw.py --json_out) as time vs length.

    python bench/plot_soft_dtw.py bench/results/soft_dtw_cpu.json bench/results/soft_dtw_cuda.json \
        -o bench/results/soft_dtw.png
"""
import argparse
import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("json_files", nargs="+")
    ap.add_argument("-o", "--output", default="bench/results/soft_dtw.png")
    ap.add_argument("--dim", type=int, default=768)
    args = ap.parse_args()
    fig, axes = plt.subplots(1, len(args.json_files), figsize=(5.5 * len(args.json_files), 4), squeeze=False)
    for ax, path in zip(axes[0], args.json_files):
        rows = json.load(open(path))
        impls = sorted({r["impl"] for r in rows if "impl" in r})
        for impl in impls:
            for band, style in ((None, "-o"), (50, "--s")):
                pts = sorted(
                    (r["n"], r["time_s"]) for r in rows
                    if r.get("impl") == impl and r["n"] == r["m"] and r["d"] == args.dim
                    and r["band"] == band and "time_s" in r
                )
                if pts:
                    label = impl + ("" if band is None else f" (band {band})")
                    ax.plot(*zip(*pts), style, label=label)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("frames N = M")
        ax.set_ylabel("forward + backward [s]")
        ax.set_title(f"{path.split('/')[-1]}: B=8, D={args.dim}")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(args.output, dpi=120)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
