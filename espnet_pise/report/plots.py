"""Plots of the recipe report (matplotlib, PNG)."""
import re
from pathlib import Path
from typing import Dict, List

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

_EPOCH = re.compile(r"(\d+)epoch results: \[train\] (.*?)\[valid\] (.*?)(?:\[att_plot\]|$)")


def _save(fig, out: Path) -> None:
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def _panel(ax, title: str, xlabel: str, ylabel: str, legend_size: int) -> None:
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=legend_size)


def epoch_losses(train_log: Path, key: str = "loss") -> Dict[str, List[float]]:
    """{"train": [...], "valid": [...]} per epoch from an ESPnet train.log."""
    out: Dict[str, List[float]] = {"train": [], "valid": []}
    pattern = re.compile(rf"(?:^|, ){re.escape(key)}=([-0-9.e+]+)")
    for line in open(train_log, encoding="utf-8", errors="replace"):
        m = _EPOCH.search(line)
        if m:
            for split, part in (("train", m.group(2)), ("valid", m.group(3))):
                v = pattern.search(part)
                out[split].append(float(v.group(1)) if v else float("nan"))
    return out


def plot_error_rate(rates: Dict[str, Dict[str, float]], test_sets: List[str], out: Path, metric: str = "WER") -> None:
    """Grouped bars: one group per test set, one bar per system (rates[system][test_set], %)."""
    systems = list(rates)
    fig, ax = plt.subplots(figsize=(max(6, 1.3 * len(test_sets)), 4))
    width = 0.8 / max(len(systems), 1)
    for k, system in enumerate(systems):
        vals = [rates[system].get(s, np.nan) for s in test_sets]
        ax.bar(np.arange(len(test_sets)) + k * width, vals, width, label=system)
    ax.set_xticks(np.arange(len(test_sets)) + 0.4 - width / 2)
    ax.set_xticklabels(test_sets, rotation=25, ha="right")
    ax.set_ylabel(f"{metric} (%)")
    ax.set_title(f"{metric} by system and test set")
    ax.legend(fontsize=8)
    _save(fig, out)


def plot_wer_by_snr(rates: Dict[str, Dict[str, Dict[str, float]]], out: Path) -> None:
    """One panel per test set: WER (%) against SNR, one line per system (rates[set][system][snr])."""
    sets = list(rates)
    fig, axes = plt.subplots(1, len(sets), figsize=(4.5 * len(sets), 3.4), squeeze=False)
    for ax, s in zip(axes[0], sets):
        for system, by_snr in rates[s].items():
            snrs = sorted(by_snr, key=float)
            ax.plot([float(x) for x in snrs], [by_snr[x] for x in snrs], marker="o", label=system)
        _panel(ax, s, "SNR (dB)", "WER (%)", 7)
    _save(fig, out)


def plot_training_curves(logs: Dict[str, Path], out: Path) -> None:
    fig, axes = plt.subplots(1, len(logs), figsize=(4 * len(logs), 3.2), squeeze=False)
    for ax, (name, log) in zip(axes[0], logs.items()):
        curves = epoch_losses(log)
        for split, vals in curves.items():
            ax.plot(range(1, len(vals) + 1), vals, marker="o", label=split)
        _panel(ax, name, "epoch", "loss", 8)
    _save(fig, out)


def plot_alignment(align: np.ndarray, cost: np.ndarray, title: str, out: Path) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(9, 4))
    for ax, mat, name in ((axes[0], cost, "frame cost |x_i - y_j|^2"), (axes[1], align, "soft-DTW alignment E")):
        im = ax.imshow(mat, origin="lower", aspect="auto", interpolation="nearest")
        ax.set_xlabel("perturbed clean frame j")
        ax.set_ylabel("enhanced frame i")
        ax.set_title(name, fontsize=9)
        fig.colorbar(im, ax=ax)
    fig.suptitle(title, fontsize=10)
    _save(fig, out)
