"""CTC best-path decoding of espnet_pise.bin.decode_sets (search: ctc_greedy)."""
from types import SimpleNamespace

import pytest
import torch

from espnet_pise.bin.decode_sets import ctc_greedy, main

BLANK, SOS_EOS = 0, 9
TOKENS = ["<blank>", "<unk>", "▁A", "B", "▁C", "D", "E", "F", "G", "<sos/eos>"]


class _FakeCTC:
    def __init__(self, frame_ids):
        self.frame_ids = torch.tensor([frame_ids])

    def argmax(self, enc):
        assert enc.dim() == 3 and enc.shape[0] == 1, enc.shape  # (1, T, D), as ESPnet's CTC gets it
        return self.frame_ids


def _s2t(frame_ids, wrap):
    """A stand-in for Speech2Text: encode() returns what ESPnet's models return."""
    asr = SimpleNamespace(ctc=_FakeCTC(frame_ids), blank_id=BLANK, sos=SOS_EOS, eos=SOS_EOS)
    seen = {}

    def encode(speech, speech_lengths):
        seen["shape"], seen["lengths"] = tuple(speech.shape), speech_lengths.tolist()
        enc = torch.zeros(1, len(frame_ids), 4)
        return wrap(enc), torch.tensor([len(frame_ids)])

    model = SimpleNamespace(encode=encode)
    if wrap is _per_speaker:
        model.s2t_model = asr  # enh_s2t: the ASR model is inside
    else:
        model.ctc, model.blank_id, model.sos, model.eos = asr.ctc, BLANK, SOS_EOS, SOS_EOS
    s2t = SimpleNamespace(
        asr_model=model, dtype="float32", device="cpu",
        converter=SimpleNamespace(ids2tokens=lambda ids: [TOKENS[i] for i in ids]),
        tokenizer=SimpleNamespace(tokens2text=lambda toks: "".join(toks).replace("▁", " ").strip()),
    )
    return s2t, seen


def _plain(enc):
    return enc


def _with_interctc(enc):
    return (enc, [])


def _per_speaker(enc):
    return (enc,)


@pytest.mark.parametrize("wrap", [_plain, _with_interctc, _per_speaker])
def test_best_path_merges_repeats_and_drops_blank_and_eos(wrap):
    # frames: A A blank A B B blank C eos -> A, A (a blank separates repeats), B, C
    s2t, seen = _s2t([2, 2, 0, 2, 3, 3, 0, 4, SOS_EOS], wrap)
    assert ctc_greedy(s2t, torch.zeros(1600)) == "A AB C"
    assert seen == {"shape": (1, 1600), "lengths": [1600]}


def test_all_blank_gives_empty_text():
    s2t, _ = _s2t([0, 0, 0], _plain)
    assert ctc_greedy(s2t, torch.zeros(800)) == ""


def test_unknown_search_is_refused(tmp_path):
    conf = tmp_path / "decode.yaml"
    conf.write_text("search: prefix_magic\n")
    scp = tmp_path / "wav.scp"
    scp.write_text("u1 /nonexistent.wav\n")
    with pytest.raises(SystemExit, match="search must be"):
        main(["--config", str(conf), "--asr_train_config", "c.yaml", "--asr_model_file", "m.pth",
              f"x={scp}:{tmp_path / 'out'}"])


def test_joint_model_front_end_enhances_in_float32_under_bf16():
    """search: greedy with compute_dtype bfloat16: a joint model's SE front end (complex masks: GTCRN has
    no bf16 path) runs with autocast off; the recogniser around it keeps bf16."""
    from espnet_pise.bin.decode_sets import _front_end_in_float32

    class Enh(torch.nn.Module):
        def forward_enhance(self, speech, lengths):
            assert not torch.is_autocast_enabled("cpu")
            spec = torch.stft(speech, 64, 16, window=torch.hann_window(64), return_complex=True)
            return spec * torch.complex(torch.ones(()), torch.zeros(()))  # fails on bf16

    enh = Enh()
    with torch.autocast("cpu", dtype=torch.bfloat16), _front_end_in_float32(enh, "cpu"):
        assert enh.forward_enhance(torch.randn(1, 800), None).dtype == torch.complex64
        assert torch.is_autocast_enabled("cpu")
    assert "forward_enhance" not in vars(enh)  # the class's method again
    with _front_end_in_float32(None, "cpu"):  # an ASR model has no front end
        pass
