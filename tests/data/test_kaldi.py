"""Kaldi lists: reading, and whether an output written per utterance is done for its input list."""
import pytest

from espnet_pise.data.kaldi import is_done_for, list_ids, read_scp


def test_read_scp_names_the_line_without_a_value(tmp_path):
    f = tmp_path / "wav.scp"
    f.write_text("u1 /a.wav\nu2\n")
    with pytest.raises(ValueError, match=r"wav.scp:2: expected 'uttid value'"):
        read_scp(f)


def test_list_ids_accepts_empty_hypotheses(tmp_path):
    f = tmp_path / "text"
    f.write_text("u1 hello world\nu2\n\nu3 x\n")
    assert list_ids(f) == ["u1", "u2", "u3"]


def test_done_only_for_the_same_utterances_in_order(tmp_path, capsys):
    inp, out = tmp_path / "wav.scp", tmp_path / "spk1.scp"
    inp.write_text("u1 /a.wav\nu2 /b.wav\n")
    assert not is_done_for(out, inp)  # not written yet
    out.write_text("u1 /e/a.wav\nu2 /e/b.wav\n")
    assert is_done_for(out, inp)
    inp.write_text("u1 /a.wav\nu2 /b.wav\nu3 /c.wav\n")  # the set rebuilt larger
    assert not is_done_for(out, inp)
    assert "lists other utterances" in capsys.readouterr().err
    inp.write_text("u2 /b.wav\nu1 /a.wav\n")
    assert not is_done_for(out, inp)
