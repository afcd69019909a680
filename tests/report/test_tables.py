"""Report tables: reading score files, SE reference sets, WER by SNR, Markdown layout."""
import json

import pytest

from espnet_pise.report import tables


def _scores(root, system, test_set, per_utt, asr=None):
    d = (asr or root / "asr") / f"decode_{system}" / test_set / "score_wer"
    d.mkdir(parents=True)
    errors, words = sum(e for e, _ in per_utt.values()), sum(n for _, n in per_utt.values())
    d.joinpath("wer.json").write_text(json.dumps({"wer": 100 * errors / words, "cer": 1.0, "wrd": words,
                                                  "sub": errors, "del": 0, "ins": 0, "normalizer": "whisper_en"}))
    d.joinpath("per_utt.json").write_text(json.dumps(per_utt))


def test_asr_scores_missing_files_and_wer_by_snr(tmp_path):
    _scores(tmp_path, "noisy", "test_seen", {"u1": [1, 10], "u2": [4, 10], "u3": [0, 5]})
    missing = []
    scores = tables.read_asr_scores(tmp_path / "asr", ["noisy"], ["test_seen", "test_unseen"], missing)
    assert missing == [str(tmp_path / "asr" / "decode_noisy" / "test_unseen" / "score_wer" / "wer.json")]
    assert scores.wer_cells["noisy"] == {"test_seen": "20.0 (20.0/0.0/0.0)"} and scores.normalizer == "whisper_en"
    (tmp_path / "data" / "test_seen").mkdir(parents=True)
    (tmp_path / "data" / "test_seen" / "utt2category").write_text("u1 rain_5dB\nu2 rain_5dB\nu3 wind_0dB\n")
    by_snr = tables.wer_by_snr(scores, ["noisy"], ["test_seen", "test_unseen"], tmp_path / "data")
    assert by_snr == {"test_seen": {"noisy": {"5": 25.0, "0": 0.0}}}  # pooled errors / words per SNR
    (table,) = tables.snr_tables(by_snr)
    assert table == "### test_seen: WER % by SNR\n\n|system|0 dB|5 dB|\n|---|---|---|\n|noisy|0.0|25.0|\n"


def test_dev_choice_line_names_the_choice_and_refuses_other_files(tmp_path):
    choice = {"dev_set": "dev_obs", "wer_by_noisy_weight": {"1": 30.0, "0": 33.5, "0.4": 29.25}, "noisy_weight": 0.4}
    (line,) = tables.dev_choice_lines("gtcrn_obs_add", choice, tmp_path / "c.json")
    assert line.startswith("- `gtcrn_obs_add`: noisy_weight = 0.4, the lowest WER on `dev_obs`")
    assert "0: 33.5, 0.4: 29.2, 1: 30.0" in line
    with pytest.raises(ValueError, match="c.json.*wer_by_"):
        tables.dev_choice_lines("x", {"dev_set": "dev", "noisy_weight": 0.4}, tmp_path / "c.json")


def test_reference_sets_and_markdown(tmp_path):
    for s in ("test_clean", "test_seen", "test_real"):
        (tmp_path / s).mkdir()
    for s in ("test_clean", "test_seen"):
        (tmp_path / s / "spk1.scp").write_text("u1 a.wav\n")
    assert tables.reference_sets(tmp_path, ["test_clean", "test_seen", "test_real"]) == ["test_seen"]
    text = tables.markdown_table("WER", {"noisy": {"a": "1.0"}}, ["a", "b"])
    assert text == "### WER\n\n|system|a|b|\n|---|---|---|\n|noisy|1.0|-|\n"
    assert tables.interval((-1.6, -5.8, 4.1)) == "-1.6 [-5.8, +4.1]"


def test_robustness_tables_change_on_moved_copies_and_vs_reference(tmp_path):
    n = 60
    base = {f"u{i}": [1, 10] for i in range(n)}
    _scores(tmp_path, "a", "test_seen", base)
    _scores(tmp_path, "a", "test_seen_shift", {u: [3, 10] for u in base})  # +2 errors each: +20 points
    _scores(tmp_path, "ref", "test_seen", base)
    _scores(tmp_path, "ref", "test_seen_shift", {u: [1 + (i % 2), 10] for i, u in enumerate(base)})  # +5 points
    sets = ["test_seen", "test_seen_shift", "test_unseen_speed"]  # test_unseen absent: its copy is no pair
    assert tables.moved_sets(sets) == [("test_seen_shift", "test_seen")]
    missing = []
    scores = tables.read_asr_scores(tmp_path / "asr", ["a", "ref"], ["test_seen", "test_seen_shift"], missing)
    change, vs_ref = tables.robustness_tables(scores, ["a", "ref"], sets, "ref")
    assert "|a|+20.0 [+20.0, +20.0]|" in change and "|ref|+5.0 [" in change
    row = next(line for line in vs_ref.splitlines() if line.startswith("|a|"))
    d, lo, hi = (float(x) for x in row.split("|")[2].replace("[", "").replace("]", "").replace(",", "").split())
    assert d == 15.0 and 10 < lo <= d <= hi < 20 and "|ref|" not in vs_ref
    assert tables.robustness_tables(scores, ["a"], ["test_seen"], "ref") == []


def test_speaker_table_pools_each_voice(tmp_path):
    _scores(tmp_path, "noisy", "test_clean", {"a-1": [1, 10], "a-2": [0, 10], "b-1": [5, 10]})
    scores = tables.read_asr_scores(tmp_path / "asr", ["noisy", "x"], ["test_clean"], [])
    (tmp_path / "data" / "test_clean").mkdir(parents=True)
    assert tables.speaker_table(scores, ["noisy"], "test_clean", tmp_path / "data") == ""  # no utt2spk
    (tmp_path / "data" / "test_clean" / "utt2spk").write_text("a-1 voice_a\na-2 voice_a\nb-1 voice_b\n")
    text = tables.speaker_table(scores, ["noisy", "x"], "test_clean", tmp_path / "data")
    assert "|speaker|words|noisy|\n" in text  # x has no scores on the set: no column
    assert "|voice_a|20|5.0|" in text and "|voice_b|10|50.0|" in text


def test_seed_tables_mean_over_runs_differences_and_moved_copies(tmp_path):
    n = 80
    base = {f"u{i}": [2, 10] for i in range(n)}
    for run, extra in (("asr", 0), ("asr_seed1", 2)):  # run 2's x makes 2 more errors on every 4th utterance
        root = tmp_path / run
        _scores(tmp_path, "noisy", "test_seen", base, asr=root)
        _scores(tmp_path, "noisy", "test_seen_speed", base, asr=root)
        x = {u: [1 + (extra if i % 4 == 0 else 0), 10] for i, u in enumerate(base)}
        _scores(tmp_path, "x", "test_seen", x, asr=root)
        _scores(tmp_path, "x", "test_seen_speed", {u: [e + 1, m] for u, (e, m) in x.items()}, asr=root)
    sets = ["test_seen", "test_seen_speed"]
    scores = {r: tables.read_asr_scores(tmp_path / r, ["noisy", "x", "absent"], sets, []) for r in ("asr", "asr_seed1")}
    runs = tables.training_runs(scores, ["noisy", "x", "absent"], sets)
    assert list(runs["x"]["test_seen"]) == ["asr", "asr_seed1"] and runs["absent"]["test_seen"] == {}
    means, diff, moved = tables.seed_tables(runs, sets, ["noisy"], "noisy")
    assert "|x|12.5 (10.0 / 15.0)|22.5 (20.0 / 25.0)|" in means  # WER 10 % and 15 %
    assert "|noisy|20.0 (same in every run)|" in means and "|absent|-|-|" in means
    row = next(line for line in diff.splitlines() if line.startswith("|x|"))
    d, lo, hi = (float(v) for v in row.split("|")[2].replace("[", "").replace("]", "").replace(",", "").split())
    assert d == -7.5 and lo < -9 and hi > -6  # the mean of -10 and -5, the interval spans both runs
    assert "|x|+10.0 [+10.0, +10.0]|" in moved  # one more error per utterance on the copy, in every run
