"""Write the recipe's RESULTS.md (ESPnet style) and its PNG plots from what the stages produced.

    python -m espnet_pise.bin.make_report --asr_exp exp/asr_ssl --systems noisy enh_ssl_mse ... \\
        --se_exps noisy:exp/noisy_input enh_ssl_mse:exp/enh_ssl_mse ... --test_sets test_seen ... \\
        --out RESULTS.md --plot_dir exp/plots

Tables: WER (with substitution/deletion/insertion rates), PESQ-WB, STOI, SI-SDR; rows = systems,
columns = test sets.  A missing result is an error (the report must cover every system and set),
unless --allow_missing.
"""
import argparse
import datetime
import json
import platform
import re
import subprocess
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np

from espnet_pise.report import plots
from espnet_pise.report.bootstrap import wer_difference


def _git_revision(path: Path) -> str:
    f = path / "git_revision"
    return f.read_text().strip() if f.is_file() else "unknown"


def _table(title: str, rows: Dict[str, Dict[str, str]], test_sets: List[str]) -> str:
    lines = [f"### {title}", "", "|system|" + "|".join(test_sets) + "|", "|---|" + "---|" * len(test_sets)]
    for system, vals in rows.items():
        lines.append(f"|{system}|" + "|".join(vals.get(s, "-") for s in test_sets) + "|")
    return "\n".join(lines) + "\n"


def alignment_plot(se_exp: Path, ssl_model: str, test_set: str, out: Path, gamma: float = 0.1) -> str:
    """Soft-DTW alignment between the SSL features of one enhanced test utterance and its clean
    reference sped up by 1.1 (what the ssl_sdtw loss compares)."""
    import soundfile as sf
    import torch

    from espnet_pise.data.kaldi import read_scp
    from espnet_pise.losses.perturb import speed_perturb
    from espnet_pise.losses.soft_dtw import _pairwise_sq_dist, soft_alignment
    from espnet_pise.ssl.teacher import SSLTeacher

    enhanced = read_scp(se_exp / f"enhanced_{test_set}" / "spk1.scp")
    clean = read_scp(Path("data") / test_set / "spk1.scp")
    uid = sorted(enhanced)[0]
    est = torch.tensor(sf.read(enhanced[uid], dtype="float32")[0])[None]
    ref = torch.tensor(sf.read(clean[uid], dtype="float32")[0])[None]
    ref, ref_len = speed_perturb(ref, torch.tensor([ref.shape[1]]), [1.1])
    teacher = SSLTeacher(ssl_model, layer=-1)
    with torch.no_grad():
        fx, _ = teacher(est, torch.tensor([est.shape[1]]))
        fy, _ = teacher(ref, ref_len)
    align = soft_alignment(fx, fy, gamma)[0].numpy()
    cost = _pairwise_sq_dist(fx.double(), fy.double())[0].numpy()
    plots.plot_alignment(align, cost, f"{uid}: {se_exp.name} output vs clean x1.1 (gamma {gamma})", out)
    return uid


_SNR = re.compile(r"_(-?\d+)dB")


def snr_of(data_dir: Path, test_set: str) -> Dict[str, str]:
    """{utt: SNR in dB} from utt2category (``<noise>_<snr>dB``); empty where the set has none."""
    f = data_dir / test_set / "utt2category"
    out = {}
    if f.is_file():
        for line in f.read_text().splitlines():
            uid, _, cat = line.partition(" ")
            m = _SNR.search(cat)
            if m:
                out[uid] = m.group(1)
    return out


def _interval(d: Tuple[float, float, float]) -> str:
    return f"{d[0]:+.1f} [{d[1]:+.1f}, {d[2]:+.1f}]"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--asr_exp", type=Path, required=True)
    ap.add_argument("--systems", nargs="+", required=True)
    ap.add_argument("--data_dir", type=Path, default=Path("data"), help="holds <test set>/spk1.scp where a set has references")
    ap.add_argument("--se_exps", nargs="+", default=[], help="SYSTEM:EXP_DIR (dirs holding scoring_<set>/)")
    ap.add_argument("--test_sets", nargs="+", required=True)
    ap.add_argument("--out", type=Path, default=Path("RESULTS.md"))
    ap.add_argument("--plot_dir", type=Path, default=Path("exp/plots"))
    ap.add_argument("--ssl_model", default="exp/ssl/upstream.pt", help="the teacher (an ssl_source)")
    ap.add_argument("--analysis", type=Path, default=Path("exp/ssl/analysis.json"), help="stage 2's teacher analysis")
    ap.add_argument("--alignment_system", default="enh_ssl_sdtw")
    ap.add_argument("--title", default="mini_noisy pise1")
    ap.add_argument("--allow_missing", action="store_true")
    ap.add_argument("--baselines", nargs="*", default=["noisy", "enh_ssl_mse"],
                    help="systems every other system's WER is compared with (paired bootstrap 95 %% interval)")
    args = ap.parse_args(argv)
    se_exps = dict(s.split(":", 1) for s in args.se_exps)
    missing = []

    wer_vals: Dict[str, Dict[str, float]] = {}
    cer_vals: Dict[str, Dict[str, float]] = {}
    wer_rows: Dict[str, Dict[str, str]] = {}
    per_utt: Dict[str, Dict[str, dict]] = {}
    normalizers = "none"
    cer_rows: Dict[str, Dict[str, str]] = {}
    for system in args.systems:
        wer_vals[system], cer_vals[system], wer_rows[system], cer_rows[system] = {}, {}, {}, {}
        per_utt[system] = {}
        for s in args.test_sets:
            f = args.asr_exp / f"decode_{system}" / s / "score_wer" / "wer.json"
            if not f.is_file():
                missing.append(str(f))
                continue
            r = json.loads(f.read_text())
            normalizers = r.get("normalizer", "none")
            w = max(r["wrd"], 1)
            wer_vals[system][s], cer_vals[system][s] = r["wer"], r["cer"]
            wer_rows[system][s] = f"{r['wer']:.1f} ({100 * r['sub'] / w:.1f}/{100 * r['del'] / w:.1f}/{100 * r['ins'] / w:.1f})"
            cer_rows[system][s] = f"{r['cer']:.1f}"
            if (f.parent / "per_utt.json").is_file():
                per_utt[system][s] = json.loads((f.parent / "per_utt.json").read_text())
    # SE metrics need a clean reference: not for test_clean (it is the reference) nor for real
    # recordings (e.g. CHiME-4 *_real), which have no spk1.scp
    noisy_sets = [s for s in args.test_sets if s != "test_clean" and (args.data_dir / s / "spk1.scp").is_file()]
    se_tables = {"pesq_wb": {}, "stoi": {}, "si_sdr": {}}
    for system, exp in se_exps.items():
        for key in se_tables:
            se_tables[key][system] = {}
        for s in noisy_sets:
            f = Path(exp) / f"scoring_{s}" / "metrics.json"
            if not f.is_file():
                missing.append(str(f))
                continue
            m = json.loads(f.read_text())
            se_tables["pesq_wb"][system][s] = f"{m['pesq_wb']:.2f}"
            se_tables["stoi"][system][s] = f"{100 * m['stoi']:.1f}"
            se_tables["si_sdr"][system][s] = f"{m['si_sdr']:.1f}"
    if missing and not args.allow_missing:
        raise SystemExit("results missing (rerun the stage that makes them):\n  " + "\n  ".join(missing))

    # paired bootstrap: each system's WER minus a baseline's, on the same utterances
    diff_tables = []
    for base in [b for b in args.baselines if b in args.systems]:
        rows: Dict[str, Dict[str, str]] = {}
        widths = []
        for system in args.systems:
            if system == base:
                continue
            rows[system] = {}
            for s in args.test_sets:
                if s in per_utt[system] and s in per_utt[base]:
                    d = wer_difference(per_utt[system][s], per_utt[base][s])
                    rows[system][s] = _interval(d)
                    widths.append(d[2] - d[1])
        if widths:
            diff_tables.append(_table(f"WER difference to `{base}` (points; paired bootstrap 95 % interval over "
                                      f"utterances, scipy BCa; median interval width {np.median(widths):.1f} points)",
                                      rows, args.test_sets))
    # WER by SNR (sets whose utt2category names it)
    by_snr: Dict[str, Dict[str, Dict[str, float]]] = {}
    for s in args.test_sets:
        snr = snr_of(args.data_dir, s)
        if not snr:
            continue
        by_snr[s] = {}
        for system in args.systems:
            if s not in per_utt[system]:
                continue
            errs: Dict[str, List[int]] = {}
            for uid, (e, n) in per_utt[system][s].items():
                acc = errs.setdefault(snr.get(uid, "?"), [0, 0])
                acc[0] += e
                acc[1] += n
            by_snr[s][system] = {k: 100.0 * e / max(n, 1) for k, (e, n) in errs.items() if k != "?"}
    args.plot_dir.mkdir(parents=True, exist_ok=True)
    if by_snr:
        plots.plot_wer_by_snr(by_snr, args.plot_dir / "wer_by_snr.png")
    plots.plot_error_rate(wer_vals, args.test_sets, args.plot_dir / "wer.png", "WER")
    plots.plot_error_rate(cer_vals, args.test_sets, args.plot_dir / "cer.png", "CER")
    logs = {system: Path(exp) / "train.log" for system, exp in se_exps.items() if (Path(exp) / "train.log").is_file()}
    if logs:
        plots.plot_training_curves(logs, args.plot_dir / "se_training_curves.png")
    align_note = ""
    teacher_file = Path(args.ssl_model.split(":", 1)[1] if args.ssl_model.startswith("whisper:") else args.ssl_model)
    if args.alignment_system in se_exps and "test_seen" in args.test_sets and teacher_file.is_file():
        uid = alignment_plot(Path(se_exps[args.alignment_system]), args.ssl_model, "test_seen", args.plot_dir / "sdtw_alignment.png")
        align_note = f"- `{args.plot_dir}/sdtw_alignment.png`: soft-DTW alignment, {uid}\n"

    import torch
    import espnet

    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             cwd=Path(__file__).parent, check=True).stdout.strip()
    except Exception:
        rev = "unknown"
    corpus = Path("data/.corpus_size").read_text().strip() if Path("data/.corpus_size").is_file() else "unknown"
    lines = [
        f"<!-- Generated by espnet_pise.bin.make_report (stage 10 of run.sh). -->",
        f"# RESULTS: {args.title}",
        "## Environment",
        f"- date: `{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}`",
        f"- python `{platform.python_version()}`, torch `{torch.__version__}`, espnet `{espnet.__version__}`",
        f"- espnet_pise git revision at report time: `{rev}`",
        f"- machine: `{platform.machine()}`, {len(__import__('os').sched_getaffinity(0))} CPU cores, "
        f"GPU: `{torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'none'}`",
        f"- corpus: `{corpus}`",
        "",
        "## ASR: WER % (substitution/deletion/insertion %) and CER %, no LM",
        "",
        f"Recogniser: `{args.asr_exp}/config.yaml`; references and hypotheses scored after the "
        f"`{normalizers or 'none'}` text normaliser.",
        "",
        _table("WER", wer_rows, args.test_sets),
        _table("CER", cer_rows, args.test_sets),
        *diff_tables,
        "## Speech enhancement (enhanced vs clean reference; `noisy` = unprocessed input)",
        "",
        _table("PESQ (wide band)", se_tables["pesq_wb"], noisy_sets),
        _table("STOI (x100)", se_tables["stoi"], noisy_sets),
        _table("SI-SDR (dB)", se_tables["si_sdr"], noisy_sets),
        "## Systems",
        "",
        "|system|model config|git revision at training|",
        "|---|---|---|",
    ]
    for system in args.systems:
        cfg = Path(se_exps.get(system, "-")) / "config.yaml"
        if cfg.is_file():
            lines.append(f"|{system}|`{cfg}`|`{_git_revision(cfg.parent)}`|")
        else:
            lines.append(f"|{system}|no SE (unprocessed input)|-|")
    analysis = args.analysis
    if analysis.is_file():
        a = json.loads(analysis.read_text())
        cer = a["probe_dev_cer"]
        lines += ["", f"## Teacher (stage 2): `{args.ssl_model}`", "",
                  f"CTC probe (frozen features, linear, {a['probe']['steps']} steps of {a['probe']['batch']} utterances), "
                  f"dev CER: pre-trained **{cer['pretrained']:.1f} %**, random init of the same architecture "
                  f"**{cer['random_init']:.1f} %**.", "",
                  "Relative feature change of a clean utterance, last layer (zero-padding by K frames, realigned; "
                  "vs the test set's noise):", "", "|model|pad 1|pad 5|pad 25|noise|", "|---|---|---|---|---|"]
        for model, r in a["relative_feature_change"].items():
            if isinstance(r, dict):
                lines.append(f"|{model}|" + "|".join(f"{r[k][-1]:.3f}" for k in ("pad1", "pad5", "pad25", "noise")) + "|")
        r = a["relative_feature_change"]["pretrained"]
        lines += ["", "The same per layer of the pre-trained model (0 = input of the first block): where a shift "
                  "changes the features as much as the noise does, a frame-wise loss can be lowered through position.",
                  "", "|layer|pad 1|pad 5|pad 25|noise|", "|---|---|---|---|---|"]
        for layer in range(len(r["noise"])):
            lines.append(f"|{layer}|" + "|".join(f"{r[k][layer]:.3f}" for k in ("pad1", "pad5", "pad25", "noise")) + "|")
    lines += ["", f"ASR back end: `{args.asr_exp}/config.yaml` (`{_git_revision(args.asr_exp)}`)", "",
              "## Plots", "", f"- `{args.plot_dir}/wer.png`, `{args.plot_dir}/cer.png`: WER and CER by system and test set",
              f"- `{args.plot_dir}/wer_by_snr.png`: WER by SNR, system and test set",
              f"- `{args.plot_dir}/se_training_curves.png`: SE training/validation loss per epoch", align_note]
    args.out.write_text("\n".join(lines) + "\n")
    print(f"{args.out}: {len(args.systems)} systems x {len(args.test_sets)} test sets")


if __name__ == "__main__":
    main()
