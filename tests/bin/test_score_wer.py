"""score_wer: several REF:HYP:OUT_DIR jobs in one process give what one call per job gives."""
import json

import pytest

from espnet_pise.bin import score_wer


def _texts(tmp_path):
    ref = tmp_path / "ref"
    ref.write_text("u1 THE LORD IS MY SHEPHERD\nu2 I SHALL NOT WANT\n")
    hyps = []
    for k, lines in enumerate(["u1 The Lord is my shepherd.\nu2 I shall not want.\n",
                               "u1 the lord is a shepherd\nu2 i shall want more\n"]):
        hyps.append(tmp_path / f"hyp{k}")
        hyps[-1].write_text(lines)
    return ref, hyps


def test_jobs_equal_single_calls(tmp_path):
    ref, hyps = _texts(tmp_path)
    for k, hyp in enumerate(hyps):
        score_wer.main(["--ref", str(ref), "--hyp", str(hyp), "--out_dir", str(tmp_path / f"one{k}"),
                        "--normalizer", "whisper_en"])
    score_wer.main(["--normalizer", "whisper_en"] + [f"{ref}:{hyp}:{tmp_path / f'many{k}'}" for k, hyp in enumerate(hyps)])
    for k in range(2):
        for f in ("wer.json", "per_utt.json", "result.txt"):
            assert (tmp_path / f"one{k}" / f).read_text() == (tmp_path / f"many{k}" / f).read_text()
    assert json.loads((tmp_path / "many0" / "wer.json").read_text())["wer"] == 0.0
    # hyp1: "a" for "my", "want more" for "not want": 3 word errors in 9 words
    assert json.loads((tmp_path / "many1" / "wer.json").read_text())["wer"] == pytest.approx(100 * 3 / 9)


def test_bad_jobs_are_refused(tmp_path):
    ref, hyps = _texts(tmp_path)
    with pytest.raises(SystemExit):
        score_wer.main([f"{ref}:{hyps[0]}"])  # no OUT_DIR
    with pytest.raises(SystemExit):
        score_wer.main(["--ref", str(ref), "--hyp", str(hyps[0])])  # no --out_dir
    with pytest.raises(SystemExit):
        score_wer.main([])
    bad = tmp_path / "hyp_bad"
    bad.write_text("u1 the lord\nu9 nobody\n")
    with pytest.raises(ValueError, match="hyp_bad"):
        score_wer.main([f"{ref}:{bad}:{tmp_path / 'out'}"])
