"""Export any loadable SSL checkpoint to espnet_pise's self-describing format.

    python -m espnet_pise.ssl.export exp/ssl/hubert/valid.loss.best.pth exp/ssl/upstream.pt

The output (``{"config": torchaudio wav2vec2_model kwargs, "state_dict": ...}``) loads with
``espnet_pise.ssl.upstream.load_checkpoint`` without the training directory's config.yaml, so
losses and the ASR frontend can name one file.
"""
import argparse
from pathlib import Path

import torch

from espnet_pise.ssl.upstream import load_checkpoint


def export(src: str, dst: Path) -> dict:
    model = load_checkpoint(src)
    config = model.wav2vec2_config
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_suffix(".tmp")
    torch.save({"config": config, "state_dict": model.state_dict()}, tmp)
    tmp.rename(dst)
    return config


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("src")
    ap.add_argument("dst", type=Path)
    args = ap.parse_args(argv)
    config = export(args.src, args.dst)
    print(f"{args.dst}: {config['encoder_num_layers']} layers, dim {config['encoder_embed_dim']}")


if __name__ == "__main__":
    main()
