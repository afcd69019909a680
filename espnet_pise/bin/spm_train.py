"""Train a sentencepiece model on Kaldi ``text`` files (the transcripts after the utterance id).

    python -m espnet_pise.bin.spm_train --text data/train/text --out_prefix data/token/bpe --vocab_size 300
"""
import argparse
import tempfile
from pathlib import Path

import sentencepiece as spm


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--text", type=Path, nargs="+", required=True)
    ap.add_argument("--out_prefix", type=Path, required=True)
    ap.add_argument("--vocab_size", type=int, default=300)
    ap.add_argument("--model_type", default="unigram", choices=["unigram", "bpe", "char", "word"])
    args = ap.parse_args(argv)
    args.out_prefix.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as tmp:
        for path in args.text:
            for lineno, line in enumerate(open(path, encoding="utf-8"), 1):
                words = line.split()[1:]
                if not words:
                    raise ValueError(f"{path}:{lineno}: empty transcript")
                tmp.write(" ".join(words) + "\n")
    spm.SentencePieceTrainer.train(
        input=tmp.name, model_prefix=str(args.out_prefix), vocab_size=args.vocab_size, model_type=args.model_type,
        character_coverage=1.0, input_sentence_size=100_000_000, unk_id=0, bos_id=-1, eos_id=-1, minloglevel=2)
    Path(tmp.name).unlink()


if __name__ == "__main__":
    main()
