"""Build the embedded noisy-speech corpus (``egs/mini_noisy``) offline, in Kaldi/ESPnet layout.

    python -m espnet_pise.data.corpus --data_dir data --audio_dir corpus --size tiny --nj 2 \
        [--voices default|hard|all|NAME,NAME...] [--n_train N] [--n_dev N] [--n_test N]

Sets: ``train``, ``dev``, ``test_clean``, ``test_seen`` (seen noise types and voices, unseen
sentences), ``test_unseen`` (unseen noise types AND unseen voices), and position-invariance copies
``test_{seen,unseen}_shift`` (0.1-1.0 s leading offset, filled by the noise) and
``test_{seen,unseen}_speed`` (speed 0.9 / 1.1), which keep the base set's utterance ids, voices,
sentences, noise types and SNRs.  Sentences are never shared between any two sets.

Voices (``--voices``): the ``default`` set holds the voices Whisper base transcribes well when clean
(dev WER per voice: ``espnet_pise.bin.voice_wer``, table in the recipe README's "Voices"), ``hard``
the others, ``all`` both; each is split into seen / unseen voices by donor
(``voices.split_voices``).  ``--n_train`` / ``--n_dev`` / ``--n_test`` override the size preset's
utterance counts (``--n_test``: each test set and its copies).

Deterministic for a ``--seed``: the plan is a pure function of its options and every
utterance draws from its own seeded generator.  Resumable: each utterance's files are written
under temporary names and renamed, then its ``.json`` record last; a rerun skips recorded
utterances and rebuilds the Kaldi lists from the records.
"""
import argparse
import dataclasses
import json
import multiprocessing
import sys
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np
import soundfile as sf
from tqdm import tqdm

from espnet_pise.data import mixing, noise, text, voices
from espnet_pise.data.validate import check_dir

FS = 16000
TRAIN_SNRS = (20, 10, 5)
TEST_SNRS = (20, 10, 5, 0)
SPEEDS = (0.9, 1.1)
# per-utterance variation of the synthetic voices (sox tempo factor, pitch in cents).  No pitch
# change: on dev, sox's pitch shift of up to +-150 cents raised Whisper base's clean WER of four voices
# from 8.3 % (tempo variation only) to 12.1 % (both; pooled over their 20 dev sentences each); tempo
# alone costs nothing (8.3 %, as with no
# variation); recipe README, "Voices"
TEMPO_RANGE = (0.9, 1.15)
PITCH_RANGE = (0.0, 0.0)
# utterances per set; babble: sentences per bank part spoken for the babble noise; test_reserve:
# sentences set aside per test set (>= test), so that the test size does not move the other pools.
# default: what the default run (Whisper teacher and recogniser) reads: a stage-5 fine-tuning sees
# about 500 training utterances; large: the same dev and test sets with the 5.1 h of training speech
# that a HuBERT teacher or an ESPnet back end trained from scratch needs
SIZES = {
    "tiny": dict(train=32, dev=8, test=8, babble=12),
    "small": dict(train=800, dev=100, test=100, babble=40),
    "default": dict(train=2000, dev=300, test=100, babble=80, test_reserve=1000),
    "large": dict(train=6700, dev=300, test=100, babble=80, test_reserve=1000),
}
NOISY_TESTS = ("test_seen", "test_unseen")


@dataclasses.dataclass
class Utt:
    set: str
    uid: str
    voice: str
    text: str
    tempo: float
    pitch: float
    lead_s: float  # silence before/after the synthesized speech
    trail_s: float
    noise: Optional[str] = None  # noise type; None = clean only
    noise_part: str = "train"
    snr: Optional[float] = None
    seed: int = 0
    shift_s: float = 0.0
    speed: float = 1.0
    reverb: bool = False
    source: Optional[str] = None  # a recorded clean file (real corpora) instead of a synthetic voice

    @property
    def category(self) -> str:
        if self.noise is None:
            return "clean"
        cat = f"{self.noise}_{self.snr:g}dB"
        if self.shift_s:
            cat += f"_shift{self.shift_s:.3f}s"
        if self.speed != 1.0:
            cat += f"_speed{self.speed:g}"
        return cat


def set_sizes(size: str, n_train: Optional[int] = None, n_dev: Optional[int] = None,
              n_test: Optional[int] = None) -> Dict[str, int]:
    """Utterances per set of a size preset, with the counts given overriding the preset's."""
    if size not in SIZES:
        raise ValueError(f"unknown corpus size {size!r} ({', '.join(SIZES)})")
    n = dict(SIZES[size])
    for key, value in (("train", n_train), ("dev", n_dev), ("test", n_test)):
        if value is not None:
            if value < 1:
                raise ValueError(f"{key} utterances: {value}, must be at least 1")
            n[key] = int(value)
    n["test_reserve"] = max(n.get("test_reserve", n["test"]), n["test"])
    return n


def sentence_pools(size: str, seed: int, n: Optional[Dict[str, int]] = None) -> Dict[str, List[str]]:
    """The disjoint sentence pools of every set (``dev``, ``babble_train``, ``babble_test``,
    ``test_seen``, ``test_unseen``, ``train``), cut in that order from one seeded permutation.
    ``n``: the set sizes (default: the preset's).  The dev pool comes first so that neither the
    test sizes nor the training size move the dev sentences; each test set draws from a reserve of
    ``test_reserve`` sentences so that test sizes up to it do not move the training sentences."""
    n = n or set_sizes(size)
    rng = np.random.default_rng(seed)
    sentences = text.load_sentences()
    order = rng.permutation(len(sentences))
    reserve = n["test_reserve"]
    need = n["train"] + n["dev"] + 2 * reserve + 2 * n["babble"]
    if need > len(sentences):
        raise ValueError(f"{n['train']} train + {n['dev']} dev + 2 x {reserve} test + 2 x {n['babble']} babble "
                         f"sentences needed, {text.SENTENCES} has {len(sentences)}")
    pools, start = {}, 0
    for name, count in [("dev", n["dev"]), ("babble_train", n["babble"]), ("babble_test", n["babble"]),
                        ("test_seen", reserve), ("test_unseen", reserve), ("train", n["train"])]:
        used = n["test"] if name.startswith("test") else count
        pools[name] = [sentences[i] for i in order[start:start + used]]
        start += count
    return pools


def plan(size: str, seed: int, reverb: bool = False, voice_set: str = "default", n_train: Optional[int] = None,
         n_dev: Optional[int] = None, n_test: Optional[int] = None) -> Dict[str, List[Utt]]:
    """All sets' utterances, without touching the disk.  ``voice_set``: a set of
    ``voices.VOICE_SETS`` or comma-separated voice names; ``n_*``: utterances of train, dev and
    each test set, overriding the size preset's."""
    pools = sentence_pools(size, seed, set_sizes(size, n_train, n_dev, n_test))
    seen_voices, unseen_voices = voices.split_voices(voices.select(voice_set))

    def make(set_name, voice_list, noise_types, part, snrs, set_seed):
        r = np.random.default_rng([seed, set_seed])
        utts = []
        for i, sentence in enumerate(pools[set_name]):
            v = voice_list[i % len(voice_list)] if i < len(voice_list) else voice_list[r.integers(len(voice_list))]
            utts.append(Utt(
                set=set_name, uid=f"{v.name}-{set_name}-{i:05d}", voice=v.name, text=sentence,
                tempo=float(r.uniform(*TEMPO_RANGE)), pitch=float(r.uniform(*PITCH_RANGE)),
                lead_s=float(r.uniform(0.1, 0.3)), trail_s=float(r.uniform(0.1, 0.3)),
                noise=None if noise_types is None else str(noise_types[i % len(noise_types)]),
                noise_part=part, snr=None if snrs is None else float(snrs[r.integers(len(snrs))]),
                seed=int(r.integers(2 ** 31)), reverb=reverb and noise_types is not None))
        return utts

    sets = {
        "train": make("train", seen_voices, noise.SEEN_TYPES, "train", TRAIN_SNRS, 1),
        "dev": make("dev", seen_voices, noise.SEEN_TYPES, "train", TRAIN_SNRS, 2),
        "test_seen": make("test_seen", seen_voices, noise.SEEN_TYPES, "test", TEST_SNRS, 3),
        "test_unseen": make("test_unseen", unseen_voices, noise.UNSEEN_TYPES, "test", TEST_SNRS, 4),
    }
    sets["test_clean"] = [dataclasses.replace(u, set="test_clean", noise=None, snr=None, reverb=False)
                          for u in sets["test_seen"]]
    sets.update(position_copies(sets, seed))
    babble = {part: [Utt(set=f"babble_{part}", uid=f"babble_{part}-{i:05d}", voice=seen_voices[i % len(seen_voices)].name,
                         text=s, tempo=1.0, pitch=0.0, lead_s=0.0, trail_s=0.0)
                     for i, s in enumerate(pools[f"babble_{part}"])] for part in ("train", "test")}
    return {"babble": babble, **sets}


def position_copies(sets: Dict[str, List[Utt]], seed: int) -> Dict[str, List[Utt]]:
    """``<set>_shift`` (0.1-1.0 s leading offset) and ``<set>_speed`` (0.9 / 1.1) copies of the noisy
    test sets, keeping utterance ids, sentences, noise types and SNRs."""
    out = {}
    for k, base in enumerate(b for b in NOISY_TESTS if b in sets):
        r = np.random.default_rng([seed, 10 + k])
        out[f"{base}_shift"] = [dataclasses.replace(u, set=f"{base}_shift", shift_s=round(float(r.uniform(0.1, 1.0)), 3))
                                for u in sets[base]]
        out[f"{base}_speed"] = [dataclasses.replace(u, set=f"{base}_speed", speed=SPEEDS[i % 2])
                                for i, u in enumerate(sets[base])]
    return out


def synth_clean(utt: Utt, path: Path) -> np.ndarray:
    """The utterance's dry speech: its recorded ``source`` file, or synthesized once into ``path``
    (shared by the set and its copies)."""
    if utt.source is not None:
        try:
            x, fs = sf.read(utt.source, dtype="float64")
        except Exception as e:
            raise RuntimeError(f"{utt.source}: cannot read the clean speech of {utt.uid} ({e})") from e
        if x.ndim != 1:
            raise ValueError(f"{utt.source}: {x.shape[1]} channels, expected mono")
        return mixing.resample(x, fs, FS)
    if not path.is_file():
        tmp = path.with_suffix(".tmp.wav")
        voices.synthesize(voices.VOICES[utt.voice], utt.text, tmp, utt.tempo, utt.pitch, FS)
        tmp.rename(path)
    x, fs = sf.read(str(path), dtype="float64")
    if fs != FS:
        raise ValueError(f"{path}: sample rate {fs}, expected {FS}")
    return x


class Builder:
    def __init__(self, audio_dir: Path, bank: Dict[str, Dict[str, Path]]):
        self.audio_dir = audio_dir
        self.bank = bank
        self._bank_audio: Dict[str, np.ndarray] = {}

    def bank_audio(self, noise_type: str, part: str) -> np.ndarray:
        key = f"{noise_type}_{part}"
        if key not in self._bank_audio:
            self._bank_audio[key], _ = sf.read(str(self.bank[noise_type][part]), dtype="float64")
        return self._bank_audio[key]

    def record_path(self, utt: Utt) -> Path:
        return self.audio_dir / utt.set / f"{utt.uid}.json"

    def __call__(self, utt: Utt) -> dict:
        record = self.record_path(utt)
        if record.is_file():
            return json.loads(record.read_text())
        out = self.audio_dir / utt.set
        out.mkdir(parents=True, exist_ok=True)
        dry_dir = self.audio_dir / "dry"
        dry_dir.mkdir(parents=True, exist_ok=True)
        speech = synth_clean(utt, dry_dir / f"{utt.uid}.wav")
        rng = np.random.default_rng(utt.seed)
        if utt.speed != 1.0:
            speech = mixing.speed_perturb(speech, utt.speed)
        lead = int((utt.lead_s + utt.shift_s) * FS)
        clean = mixing.pad(speech, lead, int(utt.trail_s * FS))
        if utt.noise is None:
            files = {"clean": clean}
        else:
            bank = self.bank_audio(utt.noise, utt.noise_part)
            start = int(rng.integers(len(bank)))
            reverberant = clean
            if utt.reverb:
                reverberant, _ = mixing.reverberate(clean, rng, FS)
            noisy, speech_scaled, noise_scaled = mixing.mix_at_snr(
                reverberant, mixing.loop_segment(bank, start, len(clean)), utt.snr, FS)
            gain = np.abs(speech_scaled).max() / max(np.abs(reverberant).max(), 1e-12)
            files = {"noisy": noisy, "clean": clean * gain, "noise": noise_scaled}
        paths = {}
        for kind, x in files.items():
            path = out / f"{utt.uid}_{kind}.wav"
            tmp = path.with_suffix(".tmp.wav")
            sf.write(str(tmp), x, FS, subtype="PCM_16")
            tmp.rename(path)
            paths[kind] = str(path.resolve())
        if utt.noise is None:  # a clean set: its "noisy" input is the clean file
            paths["noisy"] = paths["clean"]
        rec = {"uid": utt.uid, "spk": utt.voice, "text": utt.text, "category": utt.category,
               "dur": round(len(clean) / FS, 3), **paths}
        tmp = record.with_suffix(".tmp")
        tmp.write_text(json.dumps(rec))
        tmp.rename(record)
        return rec


_BUILDER: Optional[Builder] = None


def _init(builder: Builder):
    global _BUILDER
    _BUILDER = builder


def _run(utt: Utt) -> dict:
    return _BUILDER(utt)


def run_jobs(fn, jobs, nj: int, desc: str, builder: Optional["Builder"] = None) -> list:
    """``fn`` over ``jobs`` in order, in ``nj`` forked workers, with a progress bar."""
    _init(builder)
    if nj <= 1:
        return [fn(j) for j in tqdm(jobs, desc=desc, file=sys.stderr)]
    with multiprocessing.get_context("fork").Pool(nj, initializer=_init, initargs=(builder,)) as pool:
        return list(tqdm(pool.imap(fn, jobs, chunksize=4), total=len(jobs), desc=desc, file=sys.stderr))


def _synth_babble(args):
    utt, path = args
    return synth_clean(utt, path)


def write_lists(data_dir: Path, records: List[dict]) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    records = sorted(records, key=lambda r: r["uid"])
    lists = {"wav.scp": "noisy", "spk1.scp": "clean", "noise1.scp": "noise", "text": "text",
             "text_spk1": "text", "utt2spk": "spk", "utt2dur": "dur", "utt2category": "category"}
    for name, key in lists.items():
        if key in ("noise", "clean") and key not in records[0]:  # real recordings have no references
            continue
        with open(data_dir / name, "w", encoding="utf-8") as f:
            f.writelines(f"{r['uid']} {r[key]}\n" for r in records)
    spk2utt = defaultdict(list)
    for r in records:
        spk2utt[r["spk"]].append(r["uid"])
    with open(data_dir / "spk2utt", "w") as f:
        f.writelines(f"{spk} {' '.join(uids)}\n" for spk, uids in sorted(spk2utt.items()))


def build(data_dir: Path, audio_dir: Path, size: str = "tiny", seed: int = 0, nj: int = 1,
          reverb: bool = False, sets: Optional[List[str]] = None, voice_set: str = "default",
          n_train: Optional[int] = None, n_dev: Optional[int] = None,
          n_test: Optional[int] = None) -> Dict[str, List[dict]]:
    chosen = voices.select(voice_set)
    voices.check_programs(chosen)
    config = {"size": size, "seed": seed, "reverb": reverb, "voices": voice_set,
              **{k: v for k, v in set_sizes(size, n_train, n_dev, n_test).items() if k in ("train", "dev", "test")}}
    audio_dir.mkdir(parents=True, exist_ok=True)
    stamp = audio_dir / "corpus.json"
    if stamp.is_file() and json.loads(stamp.read_text()) != config:
        raise ValueError(f"{stamp}: built with {stamp.read_text().strip()}, asked for {json.dumps(config)}; "
                         f"remove {audio_dir} or use another --audio_dir")
    stamp.write_text(json.dumps(config))
    corpus = plan(size, seed, reverb, voice_set, n_train, n_dev, n_test)

    babble_jobs = [(u, audio_dir / "dry" / f"{u.uid}.wav") for part in ("train", "test") for u in corpus["babble"][part]]
    (audio_dir / "dry").mkdir(exist_ok=True)
    speech = run_jobs(_synth_babble, babble_jobs, nj, "babble speech")
    babble = {"train": speech[: len(corpus["babble"]["train"])], "test": speech[len(corpus["babble"]["train"]):]}
    bank = noise.build_bank(audio_dir / "noise", babble, seed, FS)

    return build_sets(data_dir, audio_dir, {k: v for k, v in corpus.items() if k != "babble" and (not sets or k in sets)},
                      bank, nj)


def build_sets(data_dir: Path, audio_dir: Path, sets: Dict[str, List[Utt]], bank: Dict[str, Dict[str, Path]],
               nj: int = 1) -> Dict[str, List[dict]]:
    """Mix every set's utterances (resumable), write and validate its Kaldi lists."""
    # base sets first: their dry speech is synthesized before the copies read it
    ordered = sorted(sets, key=lambda s: (s.endswith(("_shift", "_speed")) or s == "test_clean", s))
    records: Dict[str, List[dict]] = {}
    for name in ordered:
        records[name] = run_jobs(_run, sets[name], nj, name, Builder(audio_dir, bank))
        write_lists(data_dir / name, records[name])
        problems = check_dir(data_dir / name, FS)
        if problems:
            raise RuntimeError(f"{data_dir / name}: invalid after building:\n" + "\n".join(problems[:20]))
        hours = sum(r["dur"] for r in records[name]) / 3600
        print(f"{data_dir / name}: {len(records[name])} utterances, {hours:.2f} h", file=sys.stderr)
    return records


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data_dir", type=Path, default=Path("data"))
    ap.add_argument("--audio_dir", type=Path, default=Path("corpus"))
    ap.add_argument("--size", choices=sorted(SIZES), default="default")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--nj", type=int, default=1)
    ap.add_argument("--reverb", choices=("true", "false"), default="false")
    ap.add_argument("--sets", nargs="*", default=None, help="build only these sets (default: all)")
    ap.add_argument("--voices", default="default",
                    help=f"voice set ({', '.join(voices.VOICE_SETS)}) or comma-separated voice names "
                         "(split into seen / unseen by voices.UNSEEN_DONORS)")
    ap.add_argument("--n_train", type=int, default=None, help="training utterances (default: the --size preset's)")
    ap.add_argument("--n_dev", type=int, default=None, help="dev utterances (default: the preset's)")
    ap.add_argument("--n_test", type=int, default=None,
                    help="utterances of each test set (test_seen, test_unseen and their copies; default: the preset's)")
    args = ap.parse_args(argv)
    build(args.data_dir, args.audio_dir, args.size, args.seed, args.nj, args.reverb == "true", args.sets,
          args.voices, args.n_train, args.n_dev, args.n_test)


if __name__ == "__main__":
    main()
