"""espnet_pise.bin.voice_wer: clean Whisper WER per voice on dev sentences (really decodes)."""
import json

import pytest

from espnet_pise.bin import voice_wer
from espnet_pise.data import corpus, voices


def test_dev_utterances_are_dev_sentences_with_the_asked_variation():
    pools = corpus.sentence_pools("default", 0)
    assert corpus.PITCH_RANGE == (0.0, 0.0)  # the corpus's variation is tempo only (chosen on dev)
    assert [u[1] for u in voice_wer.dev_utterances(3, "corpus", None)] == pools["dev"][:3]
    varied = voice_wer.dev_utterances(3, "corpus", None, pitch_range=(-150, 150))  # the variation before 2026-12-04
    assert [u[2] for u in varied] == [u[2] for u in voice_wer.dev_utterances(3, "corpus", None)]
    assert all(corpus.TEMPO_RANGE[0] <= t <= corpus.TEMPO_RANGE[1] and 0 < abs(p) <= 150 for _, _, t, p in varied)
    assert [(t, p) for _, _, t, p in voice_wer.dev_utterances(3, "none", None)] == [(1.0, 0.0)] * 3
    assert [(t, p) for _, _, t, p in voice_wer.dev_utterances(2, "corpus", 0.85)] == [(0.85, 0.0)] * 2
    # the halves of the variation: the same draws as "corpus", the other half off
    assert [(t, 0.0) for _, _, t, _ in varied] == [(t, p) for _, _, t, p in voice_wer.dev_utterances(3, "tempo", None, pitch_range=(-150, 150))]
    assert [(1.0, p) for _, _, _, p in varied] == [(t, p) for _, _, t, p in voice_wer.dev_utterances(3, "pitch", None, pitch_range=(-150, 150))]
    tests = set(pools["test_seen"]) | set(pools["test_unseen"])
    assert tests.isdisjoint(u[1] for u in voice_wer.dev_utterances(300, "none", None))
    with pytest.raises(ValueError, match="dev pool has 300"):
        voice_wer.dev_utterances(301, "none", None)


def test_two_utterances_are_decoded_and_scored(tmp_path, whisper_ckpt):
    voices.check_programs([voices.VOICES["festival_slt"]])
    out = tmp_path / "vw"
    voice_wer.main(["--whisper", whisper_ckpt, "--out_dir", str(out), "--voices", "festival_slt",
                    "--n_sentences", "2", "--variation", "none"])
    res = json.loads((out / "voice_wer.json").read_text())["festival_slt@none"]
    refs = dict(line.split(" ", 1) for line in (out / "festival_slt@none" / "text").read_text().splitlines())
    hyps = dict(line.split(" ", 1) for line in (out / "festival_slt@none" / "hyp").read_text().splitlines())
    assert res["snt"] == 2 and set(hyps) == set(refs)
    assert res["wrd"] == sum(len(r.split()) for r in refs.values())
    # clean festival slt: Whisper base reads it (dev WER well under 50 %), and the hypotheses are English text
    assert res["wer"] < 50 and all(h.strip() for h in hyps.values())
    assert "festival_slt@none" in (out / "voice_wer.md").read_text()
    # a rerun reuses the transcripts and gives the same score
    hyp_mtime = (out / "festival_slt@none" / "hyp").stat().st_mtime_ns
    voice_wer.main(["--whisper", whisper_ckpt, "--out_dir", str(out), "--voices", "festival_slt",
                    "--n_sentences", "2", "--variation", "none"])
    assert (out / "festival_slt@none" / "hyp").stat().st_mtime_ns == hyp_mtime
    assert json.loads((out / "voice_wer.json").read_text())["festival_slt@none"]["wer"] == res["wer"]


def test_unknown_voice_is_an_error(tmp_path, whisper_ckpt):
    with pytest.raises(SystemExit, match="no_such_voice"):
        voice_wer.main(["--whisper", whisper_ckpt, "--out_dir", str(tmp_path), "--voices", "no_such_voice"])
