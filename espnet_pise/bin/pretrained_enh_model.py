"""Write an ESPnet enhancement experiment directory for a pretrained front end (no training).

    python -m espnet_pise.bin.pretrained_enh_model --separator gtcrn \\
        --separator_conf init_checkpoint=downloads/se_models/gtcrn.pt --out_dir exp/enh_gtcrn

Writes ``OUT_DIR/config.yaml`` (what ``espnet2.bin.enh_train`` would write: every option of the
enh task, encoder/decoder ``same``, the separator and its settings) and ``OUT_DIR/valid.loss.best.pth``
(the ESPnet model's weights), so that the pretrained model is decoded, scored and fine-tuned
(``--init_param OUT_DIR/valid.loss.best.pth``) exactly as a model trained by ``enh_train``.
"""
import argparse
from pathlib import Path

import torch

from espnet_pise import register
from espnet_pise.bin.atomic import write_config


def enh_args(separator: str, separator_conf, extra=()):
    """ESPnet EnhancementTask arguments of a waveform-in, waveform-out separator."""
    from espnet2.tasks.enh import EnhancementTask

    conf = [a for kv in separator_conf for a in ("--separator_conf", kv)]
    args = EnhancementTask.get_parser().parse_args([
        "--encoder", "same", "--decoder", "same", "--separator", separator, *conf, "--output_dir", "unused", *extra,
    ])
    # the criterion of a plain enh_train config (its parser takes a list only from a config file)
    args.criterions = [{"name": "si_snr", "conf": {}, "wrapper": "fixed_order", "wrapper_conf": {"weight": 1.0}}]
    return args


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--separator", required=True, help="a registered separator, e.g. gtcrn, nsnet2, demucs")
    ap.add_argument("--separator_conf", action="append", default=[], metavar="KEY=VALUE",
                    help="a separator setting (repeatable), e.g. init_checkpoint=downloads/se_models/gtcrn.pt")
    ap.add_argument("--out_dir", type=Path, required=True)
    args = ap.parse_args(argv)
    register()
    from espnet2.tasks.enh import EnhancementTask

    conf = []
    for kv in args.separator_conf:
        key, sep, value = kv.partition("=")
        if not sep:
            raise SystemExit(f"--separator_conf {kv!r}: expected KEY=VALUE")
        if key.endswith("checkpoint") and value not in ("", "none", "null"):
            if not Path(value).is_file():
                raise SystemExit(f"{value}: no such checkpoint (--separator_conf {key}); for gtcrn / nsnet2 run "
                                 "python -m espnet_pise.bin.get_se_models")
            value = str(Path(value).resolve())  # the config is read from other directories
        conf.append(f"{key}={value}")
    config = enh_args(args.separator, conf)
    model = EnhancementTask.build_model(config)  # a bad checkpoint fails here, naming its file
    args.out_dir.mkdir(parents=True, exist_ok=True)
    tmp = args.out_dir / "valid.loss.best.pth.tmp"
    torch.save(model.state_dict(), tmp)
    tmp.rename(args.out_dir / "valid.loss.best.pth")
    write_config(config, args.out_dir)


if __name__ == "__main__":
    main()
