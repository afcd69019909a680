"""Write an ESPnet ASR experiment directory for a pretrained Whisper (zero-shot: no training).

    python -m espnet_pise.bin.whisper_asr_config --whisper_model downloads/whisper_base/whisper_base.pt \\
        --out_dir exp/asr_whisper [--pad_to_s 30]

Writes ``OUT_DIR/config.yaml`` (what ``espnet2.bin.asr_train`` would write: every ASR option,
with encoder/decoder ``pise_whisper``, Whisper's token list, ``token_type whisper_multilingual``)
and ``OUT_DIR/tokens.txt``.  ``espnet_pise.bin.asr_inference --asr_train_config OUT_DIR/config.yaml``
(no ``--asr_model_file``: the weights come from the checkpoint the config names) then decodes
with it, and an ``enh_s2t`` config can use the same encoder/decoder settings for joint training.
"""
import argparse
from pathlib import Path


from espnet_pise import register
from espnet_pise.bin.atomic import write_config


def asr_args(whisper_model: str, token_list: str, pad_to_s: str, extra=()):
    """ESPnet ASRTask arguments of the Whisper recogniser."""
    from espnet2.tasks.asr import ASRTask

    return ASRTask.get_parser().parse_args([
        "--token_list", token_list, "--token_type", "whisper_multilingual", "--bpemodel", "whisper_multilingual",
        "--input_size", "1", "--normalize", "none", "--specaug", "none",
        "--encoder", "pise_whisper", "--encoder_conf", f"whisper_model={whisper_model}",
        "--encoder_conf", f"pad_to_s={pad_to_s}",
        "--decoder", "pise_whisper", "--decoder_conf", f"whisper_model={whisper_model}",
        "--model_conf", "ctc_weight=0.0", "--model_conf", "sym_sos=<|startoftranscript|>",
        "--model_conf", "sym_eos=<|endoftext|>", "--model_conf", "report_cer=false",
        "--model_conf", "report_wer=false", "--model_conf", "extract_feats_in_collect_stats=false",
        "--output_dir", "unused", *extra,
    ])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--whisper_model", required=True, help="openai-whisper checkpoint (get_whisper)")
    ap.add_argument("--out_dir", type=Path, required=True)
    ap.add_argument("--pad_to_s", default="30", help="seconds of the zero-padded input window, or none")
    args = ap.parse_args(argv)
    register()
    from espnet2.tasks.asr import ASRTask

    from espnet_pise.asr.whisper_tokenizer import token_list

    if not Path(args.whisper_model).is_file():
        raise SystemExit(f"{args.whisper_model}: no such Whisper checkpoint (run python -m espnet_pise.bin.get_whisper)")
    args.out_dir.mkdir(parents=True, exist_ok=True)
    tokens = args.out_dir / "tokens.txt"
    tokens.write_text("".join(t + "\n" for t in token_list()), encoding="utf-8")
    config = asr_args(str(Path(args.whisper_model).resolve()), str(tokens), args.pad_to_s)
    ASRTask.build_model(config)  # fails here, not at decoding time, on a bad checkpoint; makes token_list a list
    config.token_list = str(tokens)  # keep the config small: ESPnet reads a path as well
    write_config(config, args.out_dir)


if __name__ == "__main__":
    main()
