#!/usr/bin/env python
"""Cost of one SE training step with each SSL loss on the same batch.

A step = SE forward, loss (frozen SSL on enhanced speech with grad + on the moved clean speech
without grad), backward, optimiser step.  Prints median seconds per step and the ratio to
ssl_mse.  The SSL model defaults to the HuBERT-Base architecture (random weights: the cost does
not depend on the weights); pass --ssl_source PATH for a real checkpoint.  --se master64 uses
the Demucs master64 architecture (random weights) as the SE model instead of a small conv net.

    python bench/loss_step.py --batch 4 --seconds 4
    python bench/loss_step.py --device cuda --batch 8 --seconds 4 --se master64 --losses ssl_mse,ssl_mse_pad,ssl_sdtw
"""
import argparse
import json
import statistics
import time

import torch

from espnet_pise.enh.demucs import demucs_from_preset
from espnet_pise.losses.ssl_losses import SSLMSELoss, SSLMSEPadLoss, SSLShiftMSELoss, SSLSoftDTWLoss

LOSSES = {
    "ssl_mse": lambda kw: SSLMSELoss(**kw),
    "ssl_mse_pad": lambda kw: SSLMSEPadLoss(**kw),
    "ssl_sdtw": lambda kw: SSLSoftDTWLoss(**kw),
    "ssl_sdtw_band20": lambda kw: SSLSoftDTWLoss(bandwidth=20, **kw),
    "ssl_shift_mse": lambda kw: SSLShiftMSELoss(**kw),
}


class _ConvSE(torch.nn.Module):
    """Stand-in SE front end: a small conv net (the SE cost is the same for every loss)."""

    def __init__(self):
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.Conv1d(1, 32, 9, padding=4), torch.nn.ReLU(), torch.nn.Conv1d(32, 1, 9, padding=4)
        )

    def forward(self, noisy):
        return noisy + self.net(noisy[:, None])[:, 0]


class _DemucsSE(torch.nn.Module):
    def __init__(self, preset):
        super().__init__()
        self.model = demucs_from_preset(preset)

    def forward(self, noisy):
        return self.model(noisy[:, None])[:, 0, : noisy.shape[1]]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ssl_source", default="torchaudio:hubert_base")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--se", default="conv", choices=["conv", "dns48", "dns64", "master64"],
                    help="SE model: a small conv net or a Demucs preset (random weights)")
    ap.add_argument("--losses", default=",".join(LOSSES), help=f"comma-separated, from {list(LOSSES)}")
    ap.add_argument("--arch_conf", type=json.loads, default=None,
                    help="JSON architecture of a torchaudio:custom SSL model (tiny models for a dry run)")
    args = ap.parse_args()
    names = args.losses.split(",")
    if "ssl_mse" not in names or any(n not in LOSSES for n in names):
        ap.error(f"--losses must include ssl_mse (the ratios' base) and name only {list(LOSSES)}; got {names}")
    if args.device == "cuda" and not torch.cuda.is_available():
        ap.error("--device cuda: no CUDA device")

    torch.manual_seed(0)
    n = int(args.seconds * 16000)
    clean = torch.randn(args.batch, n, device=args.device) * 0.1
    noisy = clean + 0.05 * torch.randn_like(clean)
    lens = torch.full((args.batch,), n, device=args.device)
    se = (_ConvSE() if args.se == "conv" else _DemucsSE(args.se)).to(args.device)
    opt = torch.optim.Adam(se.parameters(), lr=1e-4)
    kw = dict(ssl_source=args.ssl_source, **({"arch_conf": args.arch_conf} if args.arch_conf else {}))
    losses = {name: LOSSES[name](kw) for name in names}
    times = {}
    for k, (name, loss) in enumerate(losses.items()):
        runs = []
        warmup = 2 if k == 0 else 1  # the first loss also pays the process's one-time costs (allocator, kernels)
        for rep in range(args.repeats + warmup):
            if args.device == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            enhanced = se(noisy)
            value = loss(clean, enhanced, lens).mean()
            opt.zero_grad()
            value.backward()
            opt.step()
            if args.device == "cuda":
                torch.cuda.synchronize()
            if rep >= warmup:
                runs.append(time.perf_counter() - t0)
        times[name] = statistics.median(runs)
        print(f"# {name}: {[round(r * 1000, 1) for r in runs]} ms", flush=True)
    where = torch.cuda.get_device_name() if args.device == "cuda" else f"{torch.get_num_threads()} threads"
    print(f"SE training step, B={args.batch} x {args.seconds:g} s, SSL {args.ssl_source}, SE {args.se}, "
          f"device {args.device} ({where}), median of {args.repeats} after warm-up steps")
    print("| loss | ms / step | ratio to ssl_mse |")
    print("|---|---|---|")
    for name, t in times.items():
        print(f"| {name} | {t * 1000:.1f} | {t / times['ssl_mse']:.2f} |")


if __name__ == "__main__":
    main()
