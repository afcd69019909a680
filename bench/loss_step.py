#!/usr/bin/env python
"""Cost of one SE training step with each SSL loss on the same batch.

A step = SE forward, loss (frozen SSL on enhanced speech with grad + on the moved clean speech
without grad), backward, optimiser step.  Prints median seconds per step and the ratio to
ssl_mse.  The SSL model defaults to the HuBERT-Base architecture (random weights: the cost does
not depend on the weights); pass --ssl_source PATH for a real checkpoint.

    python bench/loss_step.py --batch 4 --seconds 4
"""
import argparse
import statistics
import time

import torch

from espnet_pise.losses.ssl_losses import SSLMSELoss, SSLMSEPadLoss, SSLShiftMSELoss, SSLSoftDTWLoss


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ssl_source", default="torchaudio:hubert_base")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args()

    torch.manual_seed(0)
    n = int(args.seconds * 16000)
    clean = torch.randn(args.batch, n, device=args.device) * 0.1
    noisy = clean + 0.05 * torch.randn_like(clean)
    lens = torch.full((args.batch,), n, device=args.device)
    # stand-in SE front end: a small conv net (the SE cost is the same for every loss)
    se = torch.nn.Sequential(
        torch.nn.Conv1d(1, 32, 9, padding=4), torch.nn.ReLU(), torch.nn.Conv1d(32, 1, 9, padding=4)
    ).to(args.device)
    opt = torch.optim.Adam(se.parameters(), lr=1e-4)
    losses = {
        "ssl_mse": SSLMSELoss(ssl_source=args.ssl_source),
        "ssl_mse_pad": SSLMSEPadLoss(ssl_source=args.ssl_source),
        "ssl_sdtw": SSLSoftDTWLoss(ssl_source=args.ssl_source),
        "ssl_sdtw (band 20)": SSLSoftDTWLoss(ssl_source=args.ssl_source, bandwidth=20),
        "ssl_shift_mse": SSLShiftMSELoss(ssl_source=args.ssl_source),
    }
    times = {}
    for name, loss in losses.items():
        runs = []
        for rep in range(args.repeats + 1):
            if args.device == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            enhanced = noisy + se(noisy[:, None])[:, 0]
            value = loss(clean, enhanced, lens).mean()
            opt.zero_grad()
            value.backward()
            opt.step()
            if args.device == "cuda":
                torch.cuda.synchronize()
            if rep:
                runs.append(time.perf_counter() - t0)
        times[name] = statistics.median(runs)
    print(f"SE training step, B={args.batch} x {args.seconds:g} s, SSL {args.ssl_source}, device {args.device}, "
          f"{torch.get_num_threads()} threads, median of {args.repeats}")
    print("| loss | s / step | ratio to ssl_mse |")
    print("|---|---|---|")
    for name, t in times.items():
        print(f"| {name} | {t:.2f} | {t / times['ssl_mse']:.2f} |")


if __name__ == "__main__":
    main()
