"""compare_wer: a table of scored decodings from different experiment directories."""
import pytest

from espnet_pise.bin import compare_wer, score_wer


def _scored(tmp_path, name, hyps):
    tmp_path = tmp_path / name
    tmp_path.mkdir()
    ref = tmp_path / "text"
    ref.write_text("".join(f"u{i} THE LORD IS MY SHEPHERD I SHALL NOT WANT\n" for i in range(len(hyps))))
    hyp = tmp_path / f"{name}.txt"
    hyp.write_text("".join(f"u{i} {h}\n" for i, h in enumerate(hyps)))
    out = tmp_path / "score_wer"
    score_wer.main(["--ref", str(ref), "--hyp", str(hyp), "--out_dir", str(out), "--normalizer", "none"])
    return f"{name}={out}"


def test_table_of_rates_and_differences(tmp_path, capsys):
    n = 40
    base = _scored(tmp_path, "base", ["THE LORD IS MY SHEPHERD I SHALL NOT WANT"] * n)
    worse = _scored(tmp_path, "worse", ["THE LORD IS MY SHEPHERD I SHALL NOT WANT AMEN"] * n)  # one insertion each
    compare_wer.main([base, worse, "--out", str(tmp_path / "t.md")])
    out = capsys.readouterr().out
    assert out == (tmp_path / "t.md").read_text()
    row = next(line for line in out.splitlines() if line.startswith("| worse"))
    assert row.startswith("| worse | 11.1 | 0.0 | 0.0 | 11.1 | +11.1 [+11.1, +11.1] |")
    assert f"{n} utterances, {9 * n} reference words" in out


def test_bad_arguments_are_named(tmp_path):
    with pytest.raises(SystemExit, match="expected NAME=SCORE_DIR"):
        compare_wer.main(["nodir"])
    with pytest.raises(SystemExit, match=r"wer.json: missing"):
        compare_wer.main([f"a={tmp_path}"])
    a = _scored(tmp_path, "a", ["THE LORD"] * 3)
    b = _scored(tmp_path, "b", ["THE LORD"] * 2)
    with pytest.raises(SystemExit, match="scored on different utterances"):
        compare_wer.main([a, b])


def test_a_system_with_several_runs_is_their_mean(tmp_path, capsys):
    n = 40
    want = "THE LORD IS MY SHEPHERD I SHALL NOT WANT"
    base = _scored(tmp_path, "base", [want + " AMEN AMEN"] * n)  # two insertions each: 22.2 %
    run0 = _scored(tmp_path, "run0", [want] * n).split("=")[1]
    run1 = _scored(tmp_path, "run1", [want + " AMEN"] * n).split("=")[1]  # 11.1 %
    compare_wer.main([base, f"x={run0},{run1}"])
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("| x"))
    assert row.startswith("| x | 5.6 (0.0 / 11.1) | 0.0 | 0.0 | 5.6 | -16.7 [-22.2, -11.1] |")
