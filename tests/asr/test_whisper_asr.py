"""The Whisper recogniser through ESPnet: tokenizer, ESPnet's own asr_inference, decode_sets, errors."""
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from conftest import flite_clip
from espnet_pise.asr.whisper_tokenizer import WhisperTokenIDConverter, WhisperTokenizer, token_list


def test_tokenizer_round_trip_and_prompt():
    tok, conv = WhisperTokenizer("whisper_multilingual"), WhisperTokenIDConverter("whisper_multilingual")
    text = "In the beginning God created the heaven, and the earth: naïve 42."
    tokens = tok.text2tokens(text)
    assert tok.tokens2text(tokens) == text and all(" " not in t and "\n" not in t for t in tokens)
    ids = conv.tokens2ids(tokens)
    assert ids[:3] == [50259, 50359, 50363]  # <|en|><|transcribe|><|notimestamps|> after <sos>
    assert conv.ids2tokens([50258] + ids + [50257]) == tokens  # special tokens dropped
    vocab = token_list()
    assert len(vocab) == 51865 == conv.get_num_vocabulary_size() and len(set(vocab)) == len(vocab)
    assert vocab[50257] == "<|endoftext|>" and vocab[50258] == "<|startoftranscript|>"


@pytest.fixture(scope="module")
def whisper_exp(tmp_path_factory, whisper_ckpt):
    exp = tmp_path_factory.mktemp("asr") / "asr_whisper"
    subprocess.run([sys.executable, "-m", "espnet_pise.bin.whisper_asr_config", "--whisper_model", whisper_ckpt,
                    "--out_dir", str(exp), "--pad_to_s", "30"], check=True, capture_output=True)
    return exp


def _run(args, cwd):
    res = subprocess.run([sys.executable, "-m", *args], cwd=cwd, capture_output=True, text=True, timeout=600)
    return res


def test_espnet_asr_inference_decodes_with_whisper(whisper_exp, whisper_ckpt, tmp_path):
    clip = flite_clip("the quick brown fox jumps over the lazy dog", tmp_path / "fox.wav")
    (tmp_path / "wav.scp").write_text(f"fox {clip}\n")
    res = _run(["espnet_pise.bin.asr_inference", "--asr_train_config", str(whisper_exp / "config.yaml"),
                "--data_path_and_name_and_type", f"{tmp_path / 'wav.scp'},speech,sound", "--key_file",
                str(tmp_path / "wav.scp"), "--output_dir", str(tmp_path / "out"), "--beam_size", "1",
                "--ctc_weight", "0.0", "--maxlenratio", "0.3", "--ngpu", "0"], tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    uid, text = (tmp_path / "out" / "1best_recog" / "text").read_text().split(maxsplit=1)
    # with Whisper's 30 s window, ESPnet's beam search (beam 1) gives openai-whisper's own greedy transcript
    import torch
    import whisper

    from espnet_pise.ssl.whisper_model import load_whisper

    audio = torch.from_numpy(sf.read(clip, dtype="float32")[0])
    mel = whisper.log_mel_spectrogram(whisper.pad_or_trim(audio))
    options = whisper.DecodingOptions(language="en", without_timestamps=True, fp16=False)
    ref = whisper.decode(load_whisper(whisper_ckpt), mel, options).text
    assert uid == "fox" and text.strip() == ref == "The quick brown fox jumps over the lazy dog."


def test_audio_longer_than_the_window_is_refused(whisper_exp, tmp_path):
    long = tmp_path / "long.wav"
    sf.write(long, np.zeros(31 * 16000, dtype="float32"), 16000)
    (tmp_path / "wav.scp").write_text(f"long_utt {long}\n")
    conf = tmp_path / "decode.yaml"
    conf.write_text("beam_size: 1\nctc_weight: 0.0\nmaxlenratio: 0.3\n")
    res = _run(["espnet_pise.bin.decode_sets", "--config", str(conf), "--asr_train_config",
                str(whisper_exp / "config.yaml"), f"t={tmp_path / 'wav.scp'}:{tmp_path / 'out'}"], tmp_path)
    assert res.returncode != 0
    assert "wav.scp: long_utt: utterance 0 of the batch has 496000 samples (31.0 s): longer than Whisper's 30 s window" in res.stderr
    assert not (tmp_path / "out" / "1best_recog" / "text").exists()


def test_missing_checkpoint_is_named(tmp_path):
    res = _run(["espnet_pise.bin.whisper_asr_config", "--whisper_model", str(tmp_path / "nope.pt"),
                "--out_dir", str(tmp_path / "x")], tmp_path)
    assert res.returncode != 0 and "nope.pt: no such Whisper checkpoint" in res.stderr
