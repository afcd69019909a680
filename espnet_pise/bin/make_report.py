"""Write the recipe's RESULTS.md (ESPnet style) and its PNG plots from what the stages produced.

    python -m espnet_pise.bin.make_report --asr_exp exp/asr_ssl --systems noisy enh_ssl_mse ... \\
        --se_exps noisy:exp/noisy_input enh_ssl_mse:exp/enh_ssl_mse ... --test_sets test_seen ... \\
        --out RESULTS.md --plot_dir exp/plots

Tables: WER (with substitution/deletion/insertion rates), differences to the baselines, the WER
change on the ``_shift`` / ``_speed`` copies of a test set, WER by SNR, PESQ-WB, STOI, SI-SDR; rows =
systems, columns = test sets (SNRs); the settings chosen on dev (``--dev_choices``); with
``--run_asr_exps``, the same over several runs of the recipe (training seeds).  A missing result is an error (the report must cover every system and set),
unless --allow_missing.  The tables are built by ``espnet_pise.report``.
"""
import argparse
from pathlib import Path

from espnet_pise.report.results import write_results


def get_parser() -> argparse.ArgumentParser:
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
    ap.add_argument("--robustness_reference", help="the system whose WER change on the _shift / _speed copies "
                    "every other system's change is compared with (default: the last of --baselines)")
    ap.add_argument("--dev_choices", nargs="*", default=[],
                    help="SYSTEM:JSON: a setting the recipe chose on dev (dev_choice.json), listed in the report")
    ap.add_argument("--run_asr_exps", nargs="*", type=Path, default=[],
                    help="the back-end directories of other runs of the recipe (--tag, e.g. --train_seed 1 --tag _seed1): "
                    "their decodings of the same systems are added as runs (mean WER over runs, intervals over runs "
                    "and utterances)")
    return ap


def main(argv=None):
    args = get_parser().parse_args(argv)
    write_results(
        args.asr_exp, args.systems, args.test_sets, args.out, dict(s.split(":", 1) for s in args.se_exps),
        data_dir=args.data_dir, plot_dir=args.plot_dir, ssl_model=args.ssl_model, analysis=args.analysis,
        alignment_system=args.alignment_system, title=args.title, allow_missing=args.allow_missing,
        baselines=args.baselines,
        robustness_reference=args.robustness_reference or (args.baselines[-1] if args.baselines else None),
        dev_choices=dict(s.split(":", 1) for s in args.dev_choices),
        run_asr_exps=args.run_asr_exps,
    )
    print(f"{args.out}: {len(args.systems)} systems x {len(args.test_sets)} test sets")


if __name__ == "__main__":
    main()
