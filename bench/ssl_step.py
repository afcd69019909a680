"""One SSL fine-tuning update through the frozen Whisper teacher: today's setting and the cheaper ones.

    python bench/ssl_step.py --data egs/mini_noisy/pise1/data/dev [--front_ends demucs gtcrn] \\
        [--losses ssl_mse ssl_mse_pad ssl_sdtw] [--seconds 16] [--repeats 3] [--threads 2]

For each front end and loss, the stage-5 config ``egs/mini_noisy/pise1/conf/tuning/
train_enh_{FRONT_END}_{LOSS}_whisper.yaml`` is built as ESPnet builds it (``EnhancementTask``; its
``ssl_source`` pointed at ``--model``; GTCRN's pretrained weights from ``--gtcrn``, skipped with a
message where the file is missing) and one update is timed: SE forward, the Whisper teacher on the
enhanced and on the moved clean speech, backward, Adam step (the config's learning rate), on one
batch of about ``--seconds`` of dev utterances (the configs' ``batch_bins``: 256000 samples).
Teacher settings (``arch_conf``), each in this run:

* ``today``: the config's own (``pad_to_s: 10``, float32);
* ``fit M``: a window fitted to each utterance, its length + M s rounded up to 1 s (``fit_margin_s``);
* ``bf16``: the blocks under bf16 autocast (``compute_dtype: bfloat16``), alone and with ``fit M``.

Figures: seconds of training audio per second (wall clock, median of ``--repeats`` after one
warm-up), CPU seconds per update (process time), the speed-up over ``today``; and fidelity:
``dist30``, the teacher's feature distance (the config's layer; relative squared distance on each
utterance's own frames, as ``bench/whisper_cost.py``) to the float32 30 s window on the batch's
clean utterances (``today``'s own figure is the reference level), the loss's relative difference
to ``today`` and the cosine of the enhancer gradient to ``today``'s (same batch, same random
moves of the clean reference).
"""
import argparse
import datetime
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from _data import Printout, git_revision, load_set, machine  # noqa: E402
from whisper_cost import relative_distance  # noqa: E402

CONF = ROOT / "egs/mini_noisy/pise1/conf/tuning"


def settings(margins):
    out = [("today", {})]
    for m in margins:
        out.append((f"fit {m:g}", {"pad_to_s": None, "fit_margin_s": m, "fit_step_s": 1.0}))
    out.append(("bf16", {"compute_dtype": "bfloat16"}))
    for m in margins:
        out.append((f"fit {m:g} + bf16", {"pad_to_s": None, "fit_margin_s": m, "fit_step_s": 1.0, "compute_dtype": "bfloat16"}))
    return out


def build(config: Path, model: str, arch_update: dict, gtcrn: Path, work: Path):
    """The ESPnet enhancement model of a stage-5 config, teacher options updated, and its optimiser."""
    from espnet2.tasks.enh import EnhancementTask

    conf = yaml.safe_load(open(config))
    for c in conf["criterions"]:
        c["conf"]["ssl_source"] = f"whisper:{model}"
        arch = {**c["conf"].get("arch_conf", {}), **arch_update}
        c["conf"]["arch_conf"] = {k: v for k, v in arch.items() if v is not None}
    if conf.get("separator") == "gtcrn":
        conf.setdefault("separator_conf", {})["init_checkpoint"] = str(gtcrn)
    path = work / f"{config.stem}.yaml"
    path.write_text(yaml.safe_dump(conf))
    args = EnhancementTask.get_parser().parse_args(["--config", str(path), "--output_dir", str(work / "out")])
    torch.manual_seed(0)
    enh = EnhancementTask.build_model(args)
    opt = torch.optim.Adam(enh.parameters(), **conf.get("optim_conf", {}))
    return enh, opt


def batch_of(utts, seconds: float):
    """The first utterances (of the spread list) totalling about ``seconds``, padded: (B, L), (B,)."""
    chosen, total = [], 0.0
    for u in utts:
        if u.clean is None:
            continue
        chosen.append(u)
        total += len(u.noisy) / 16000
        if total >= seconds:
            break
    if not chosen:
        raise SystemExit("no utterance with a clean reference (spk1.scp)")
    lens = torch.tensor([len(u.noisy) for u in chosen])
    pad = torch.nn.utils.rnn.pad_sequence
    noisy = pad([torch.from_numpy(u.noisy) for u in chosen], batch_first=True)
    clean = pad([torch.from_numpy(u.clean) for u in chosen], batch_first=True)
    return noisy, clean, lens


def update(enh, opt, noisy, clean, lens):
    """One training update; returns the loss and the enhancer gradient (flat)."""
    torch.manual_seed(1)  # the same random moves of the clean reference in every setting
    enh.train()
    opt.zero_grad()
    loss, _, _ = enh(noisy, lens, speech_ref1=clean)
    loss.backward()
    grad = torch.cat([p.grad.flatten() for p in enh.parameters() if p.grad is not None]).clone()
    opt.step()
    return float(loss), grad


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(ROOT / "downloads/whisper_base/whisper_base.pt"))
    ap.add_argument("--gtcrn", type=Path, default=ROOT / "downloads/se_models/gtcrn.pt")
    ap.add_argument("--data", type=Path, help="a recipe data directory (wav.scp, spk1.scp); default: synthesize")
    ap.add_argument("--n", type=int, default=24, help="utterances to draw the batch from (spread over the list)")
    ap.add_argument("--seconds", type=float, default=16.0, help="audio per update (the configs' batch_bins: 16 s)")
    ap.add_argument("--front_ends", nargs="+", default=["demucs", "gtcrn"])
    ap.add_argument("--losses", nargs="+", default=["ssl_mse", "ssl_mse_pad", "ssl_sdtw"])
    ap.add_argument("--fit_margins", type=float, nargs="+", default=[1.0, 2.0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2, help="torch threads (stage 5 trains with the machine's 2)")
    ap.add_argument("--out", type=Path, help="default bench/results/ssl_step_DATE.txt")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    say = Printout()

    from espnet_pise import register
    from espnet_pise.ssl.teacher import SSLTeacher

    register()
    work = Path(tempfile.mkdtemp(prefix="ssl_step_"))
    utts = load_set(args.data, args.n, work / "data")
    noisy, clean, lens = batch_of(utts, args.seconds)
    audio = float(lens.sum()) / 16000
    say(f"# bench/ssl_step.py, {datetime.datetime.now():%Y-%m-%d %H:%M}, commit {git_revision()}")
    say(f"# {machine()}")
    say(f"# one update on {len(lens)} utterances, {audio:.1f} s of audio (longest {int(lens.max()) / 16000:.2f} s), "
        f"from {args.data or 'flite + pink noise'}; median of {args.repeats}")
    say("| front end | loss | teacher | audio s / s | s / update | CPU s / update | speed-up | dist30 | loss rel. diff | grad cosine |")
    say("|---|---|---|---|---|---|---|---|---|---|")
    ref_feats = {}
    for fe in args.front_ends:
        for loss in args.losses:
            config = CONF / f"train_enh_{fe}_{loss}_whisper.yaml"
            if not config.is_file():
                say(f"# {config}: missing, skipped")
                continue
            if fe == "gtcrn" and not args.gtcrn.is_file():
                say(f"# {fe} {loss}: {args.gtcrn} missing (python -m espnet_pise.bin.get_se_models), skipped")
                continue
            base = None
            for name, arch in settings(args.fit_margins):
                enh, opt = build(config, args.model, arch, args.gtcrn, work)
                crit = enh.loss_wrappers[0].criterion
                layer = crit.teacher.selector.layers
                if tuple(layer) not in ref_feats:
                    ref_teacher = SSLTeacher(f"whisper:{args.model}", layer=layer, arch_conf={"pad_to_s": 30.0})
                    with torch.no_grad():
                        ref_feats[tuple(layer)] = ref_teacher(clean, lens)
                with torch.no_grad():
                    feats, flens = crit.teacher(clean, lens)
                dist = relative_distance(feats, ref_feats[tuple(layer)][0], flens)
                state = {k: v.clone() for k, v in enh.state_dict().items()}
                value, grad = update(enh, opt, noisy, clean, lens)  # warm-up; also the fidelity figures
                walls, cpus = [], []
                for _ in range(args.repeats):
                    enh.load_state_dict(state)
                    t, c = time.perf_counter(), time.process_time()
                    update(enh, opt, noisy, clean, lens)
                    walls.append(time.perf_counter() - t)
                    cpus.append(time.process_time() - c)
                wall, cpu = statistics.median(walls), statistics.median(cpus)
                if base is None:
                    base = (wall, value, grad)
                rel = abs(value - base[1]) / abs(base[1])
                cos = float(torch.nn.functional.cosine_similarity(grad, base[2], dim=0))
                finite = "" if torch.isfinite(torch.tensor(value)) and torch.isfinite(grad).all() else " (NOT FINITE)"
                say(f"| {fe} | {loss} | {name} | {audio / wall:.2f} | {wall:.2f} | {cpu:.2f} | {base[0] / wall:.2f} | "
                    f"{dist:.4f} | {rel:.4f}{finite} | {cos:.4f} |")
                del enh, opt
    say.save(args.out, "ssl_step")


if __name__ == "__main__":
    main()
