"""Sentences and transcripts of the embedded corpus.

The sentence source is the King James Version of the Bible (1611, public domain; Debian package
``bible-kjv``).  Verses are cut at sentence and clause punctuation, normalised to upper-case words
and apostrophes (the form ESPnet's LibriSpeech recipes use), and clauses containing rare words
(mostly proper names, which synthesizers spell out unpredictably) are dropped.  The result ships as
``resources/kjv_sentences.txt.gz`` so the corpus never depends on the Debian version; regenerate it
with ``python -m espnet_pise.data.text --from-bible OUT.gz``.
"""
import argparse
import collections
import gzip
import re
import shutil
import subprocess
from pathlib import Path
from typing import Iterable, List

SENTENCES = Path(__file__).parent / "resources" / "kjv_sentences.txt.gz"

_CLAUSE_END = re.compile(r"[.;:?!]")
_NOT_WORD = re.compile(r"[^A-Z' ]+")


def normalize(text: str) -> str:
    """Upper-case words separated by single spaces; only letters and inner apostrophes survive.

    >>> normalize("And God said, Let there be light-giving ones' day!")
    "AND GOD SAID LET THERE BE LIGHT GIVING ONES DAY"
    """
    text = _NOT_WORD.sub(" ", text.upper().replace("-", " "))
    words = [w.strip("'") for w in text.split()]
    return " ".join(w for w in words if w)


def clauses(verses: Iterable[str], min_words: int = 5, max_words: int = 14) -> List[str]:
    out = []
    for verse in verses:
        for piece in _CLAUSE_END.split(verse):
            words = normalize(piece).split()
            if min_words <= len(words) <= max_words:
                out.append(" ".join(words))
    return out


def select_sentences(candidates: List[str], min_word_count: int = 8) -> List[str]:
    """Unique sentences whose words all occur at least ``min_word_count`` times in the source."""
    counts = collections.Counter(w for s in candidates for w in s.split())
    seen, out = set(), []
    for s in candidates:
        if s not in seen and all(counts[w] >= min_word_count for w in s.split()):
            seen.add(s)
            out.append(s)
    return out


def load_sentences(path: Path = SENTENCES) -> List[str]:
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: sentence list missing (regenerate: python -m espnet_pise.data.text --from-bible {path})")
    with gzip.open(path, "rt", encoding="utf-8") as f:
        sentences = [line.strip() for line in f if line.strip()]
    if not sentences:
        raise ValueError(f"{path}: no sentences")
    return sentences


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--from-bible", type=Path, required=True, help="output .txt.gz, built from `bible` (Debian bible-kjv)")
    args = ap.parse_args(argv)
    if shutil.which("bible") is None:
        raise SystemExit("the `bible` program is missing: apt-get install bible-kjv")
    dump = subprocess.run(["bible", "-f", "Gen1:1-Rev22:21"], check=True, capture_output=True, text=True).stdout
    verses = [line.partition(" ")[2] for line in dump.splitlines() if line.strip()]
    sentences = select_sentences(clauses(verses))
    with gzip.open(args.from_bible, "wt", encoding="utf-8") as f:
        f.write("\n".join(sentences) + "\n")
    vocab = {w for s in sentences for w in s.split()}
    print(f"{args.from_bible}: {len(sentences)} sentences, {len(vocab)} words")


if __name__ == "__main__":
    main()
