"""The Whisper recogniser through ESPnet: tokenizer, ESPnet's own asr_inference, decode_sets, errors."""
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

import torch

from conftest import flite_clip, speechlike
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


SENTENCES = {
    "a_short": "hello there",
    "b_fox": "the quick brown fox jumps over the lazy dog",
    "c_long": "and the earth was without form and void and darkness was upon the face of the deep",
    "d_mid": "in the beginning god created the heaven and the earth",
}


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    d = tmp_path_factory.mktemp("clips")
    lines = [f"{uid} {flite_clip(text, d / f'{uid}.wav')}\n" for uid, text in SENTENCES.items()]
    (d / "wav.scp").write_text("".join(lines))
    return d / "wav.scp"


@pytest.fixture(scope="module")
def s2t(whisper_exp):
    from espnet_pise import register

    register()
    from espnet2.bin.asr_inference import Speech2Text

    return Speech2Text(asr_train_config=str(whisper_exp / "config.yaml"), device="cpu", beam_size=1, ctc_weight=0.0,
                       lm_weight=0.0, penalty=0.0, maxlenratio=0.3, minlenratio=0.0, nbest=1)


def test_batched_greedy_equals_beam_search_and_single_utterances(s2t, clips):
    """search: greedy gives ESPnet's beam-1 transcripts, and the same in batches of any size
    (utterances of different lengths; one leaves the batch at its end-of-text before the others)."""
    from espnet_pise.bin.decode_sets import greedy_hyps, one_by_one_hyps

    beam = one_by_one_hyps(s2t, clips, 16000)
    single = greedy_hyps(s2t, clips, 16000, 1, {})
    assert single == beam
    for batch_size in (3, 4):
        assert greedy_hyps(s2t, clips, 16000, batch_size, {}) == single
    assert "The quick brown fox jumps over the lazy dog." in beam[1]


def test_bf16_encoder_with_float32_decoder_is_independent_of_the_batch(s2t, clips, monkeypatch):
    """compute_dtype bfloat16 + decoder_compute_dtype float32: every utterance is encoded alone, so
    the transcripts of batches of any size are those of batch 1 (a bf16 decoder does not promise that)."""
    from espnet_pise.asr import whisper as w
    from espnet_pise.bin.decode_sets import greedy_hyps

    seen = []
    orig = w.greedy_batch

    def spy(decoder, enc, *a, **k):
        seen.append((enc.dtype, torch.is_autocast_enabled("cpu")))
        return orig(decoder, enc, *a, **k)
    monkeypatch.setattr(w, "greedy_batch", spy)
    greedy_hyps(s2t, clips, 16000, 4, {"compute_dtype": "bfloat16"})  # decoder_compute_dtype: compute_dtype's
    assert seen and all(autocast for _, autocast in seen)
    seen.clear()
    conf = {"compute_dtype": "bfloat16", "decoder_compute_dtype": "float32"}
    single = greedy_hyps(s2t, clips, 16000, 1, conf)
    assert seen and all(dtype == torch.float32 and not autocast for dtype, autocast in seen)
    for batch_size in (3, 4):
        assert greedy_hyps(s2t, clips, 16000, batch_size, conf) == single
    assert "quick brown fox" in single[1]
    # keys/values projected per utterance in bf16 (the recipe's decoding): still independent of the batch
    conf = {**conf, "cross_kv_compute_dtype": "bfloat16"}
    single = greedy_hyps(s2t, clips, 16000, 1, conf)
    for batch_size in (3, 4):
        assert greedy_hyps(s2t, clips, 16000, batch_size, conf) == single
    assert "quick brown fox" in single[1]


def test_cross_kv_per_utterance(whisper_ckpt):
    """Keys/values projected per utterance: float32 ones give the decoder's own transcripts; bf16
    ones are finite, within 2 % of float32, and independent of the batch."""
    from espnet_pise.asr import whisper as w
    from espnet_pise.ssl.whisper_model import encoder_states, load_whisper

    model = load_whisper(whisper_ckpt)
    wavs = [speechlike(16000, 21), speechlike(12000, 22), speechlike(16000, 23)]
    with torch.no_grad():
        enc = torch.stack([encoder_states(model.encoder, x[None], torch.tensor([len(x)]), pad_to_s=4, whole_window=True)[0][-1][0]
                           for x in wavs])
        ref = [(blk.cross_attn.key(enc), blk.cross_attn.value(enc)) for blk in model.decoder.blocks]
    f32, b16 = w.cross_kv(model.decoder, enc), w.cross_kv(model.decoder, enc, torch.bfloat16)
    assert len(f32) == len(b16) == len(model.decoder.blocks)
    for (k, v), (k32, v32), (k16, v16) in zip(ref, f32, b16):
        assert k32.shape == k.shape == k16.shape and k16.dtype == torch.float32
        torch.testing.assert_close(k32, k, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(v32, v, rtol=1e-5, atol=1e-5)
        for got, want in ((k16, k), (v16, v)):
            assert torch.isfinite(got).all() and not torch.equal(got, want)
            assert (got - want).norm() / want.norm() < 0.02
    alone = w.cross_kv(model.decoder, enc[1:2], torch.bfloat16)
    assert all(torch.equal(k[1:2], ka) and torch.equal(v[1:2], va) for (k, v), (ka, va) in zip(b16, alone))
    prompt, uids = [50258, 50259, 50359, 50363], ["u0", "u1", "u2"]
    plain = w.decode_with_fallback(model.decoder, enc, uids, prompt, 20)
    assert [r["tokens"] for r in w.decode_with_fallback(model.decoder, enc, uids, prompt, 20, cross_kv_dtype=torch.float32)] \
        == [r["tokens"] for r in plain]
    with pytest.raises(ValueError, match="compute_dtype must be float32 or bfloat16"):
        w.cross_kv(model.decoder, enc, torch.float16)


GUARD = dict(temperatures=[0.0, 0.2, 0.4, 0.6, 0.8, 1.0], compression_ratio_threshold=2.4, logprob_threshold=-1.0,
             no_speech_threshold=0.6, suppress_blank=True, suppress_tokens="-1")


def test_guard_transcripts_are_openai_whisper_transcribe(s2t, clips, whisper_ckpt):
    """With transcribe's fallback options on clean speech, search: greedy gives whisper.transcribe's text."""
    import whisper

    from espnet_pise.bin.decode_sets import greedy_hyps
    from espnet_pise.ssl.whisper_model import load_whisper

    model = load_whisper(whisper_ckpt)
    s2t.maxlenratio = -224  # transcribe's sample_len: n_text_ctx // 2 tokens
    try:
        hyps = greedy_hyps(s2t, clips, 16000, 4, dict(GUARD))
    finally:
        s2t.maxlenratio = 0.3
    for line, (uid, path) in zip(hyps, [ln.split() for ln in clips.read_text().splitlines()]):
        # transcribe pads the log-mel of the audio with zeros (not the log-mel of silence): given the
        # audio zero-padded to the 30 s window, it sees the input that Whisper's decode and search: greedy see
        audio = whisper.pad_or_trim(torch.from_numpy(sf.read(path, dtype="float32")[0]))
        ref = whisper.transcribe(model, audio, language="en", without_timestamps=True, fp16=False,
                                 condition_on_previous_text=False, **{k: v for k, v in GUARD.items() if k != "temperatures"},
                                 temperature=tuple(GUARD["temperatures"]))["text"].strip()
        got_uid, got = line.split(maxsplit=1)
        assert got_uid == uid and got.strip() == ref and ref


def _count_greedy_batches(w, monkeypatch):
    """(temperature, batch size) of every greedy_batch call goes to the returned list."""
    calls = []
    orig = w.greedy_batch

    def spy(decoder, e, *a, **k):
        calls.append((a[3], e.shape[0]))
        return orig(decoder, e, *a, **k)

    monkeypatch.setattr(w, "greedy_batch", spy)
    return calls, orig


def test_fallback_decodes_again_only_what_it_rejects(whisper_ckpt, monkeypatch):
    """Only rejected utterances are decoded at the next temperature; sampled draws are seeded per
    utterance, so an utterance's transcript does not depend on its batch mates."""
    from espnet_pise.asr import whisper as w
    from espnet_pise.ssl.whisper_model import encoder_states, load_whisper

    model = load_whisper(whisper_ckpt)
    wavs = [speechlike(16000, 11), speechlike(12000, 12), speechlike(16000, 13)]
    with torch.no_grad():
        enc = torch.stack([encoder_states(model.encoder, x[None], torch.tensor([len(x)]), pad_to_s=4, whole_window=True)[0][-1][0]
                           for x in wavs])
    calls, orig = _count_greedy_batches(w, monkeypatch)
    prompt, uids = [50258, 50259, 50359, 50363], ["u0", "u1", "u2"]
    plain = w.decode_with_fallback(model.decoder, enc, uids, prompt, 20)
    assert calls == [(0.0, 3)] and all(r["temperature"] == 0.0 for r in plain)
    # a threshold that rejects exactly the least likely transcript: only that one is decoded again
    worst = min(range(3), key=lambda i: plain[i]["avg_logprob"])
    limit = sorted(r["avg_logprob"] for r in plain)[1]
    calls.clear()
    res = w.decode_with_fallback(model.decoder, enc, uids, prompt, 20, temperatures=[0.0, 0.5, 1.0], logprob_threshold=limit)
    assert calls[0] == (0.0, 3) and calls[1] == (0.5, 1)
    assert [r["tokens"] for i, r in enumerate(res) if i != worst] == [r["tokens"] for i, r in enumerate(plain) if i != worst]
    # forced fallback for everyone (threshold 0): batch of 3 and each alone give the same sampled tokens
    forced = w.decode_with_fallback(model.decoder, enc, uids, prompt, 20, temperatures=[0.0, 0.7], logprob_threshold=0.0)
    alone = [w.decode_with_fallback(model.decoder, enc[i : i + 1], uids[i : i + 1], prompt, 20, temperatures=[0.0, 0.7],
                                    logprob_threshold=0.0)[0] for i in range(3)]
    assert [r["tokens"] for r in forced] == [r["tokens"] for r in alone]
    assert all(r["temperature"] == 0.7 for r in forced)


def test_retries_of_different_batches_are_decoded_together(whisper_ckpt, monkeypatch):
    """FallbackDecoding, batch size 2: the two utterances rejected in two different batches are
    decoded again in one batch, with the results each gets alone."""
    from espnet_pise.asr import whisper as w
    from espnet_pise.ssl.whisper_model import encoder_states, load_whisper

    model = load_whisper(whisper_ckpt)
    wavs = [speechlike(16000, s) for s in (31, 32, 33, 34)]
    with torch.no_grad():
        enc = torch.stack([encoder_states(model.encoder, x[None], torch.tensor([len(x)]), pad_to_s=4, whole_window=True)[0][-1][0]
                           for x in wavs])
    prompt, uids = [50258, 50259, 50359, 50363], ["u0", "u1", "u2", "u3"]
    plain = w.decode_with_fallback(model.decoder, enc, uids, prompt, 20)
    by_logprob = sorted(range(4), key=lambda i: plain[i]["avg_logprob"])
    assert len({r["avg_logprob"] for r in plain}) == 4  # four distinct log-probabilities to order by
    low, high = by_logprob[:2], by_logprob[2:]
    order = [low[0], high[0], low[1], high[1]]  # each batch of 2 holds one utterance to reject
    # a threshold halfway between the second and third lowest (a float32 batch of 4 rounds a
    # log-probability differently in its last bits from the same utterance alone)
    threshold = (plain[by_logprob[1]]["avg_logprob"] + plain[by_logprob[2]]["avg_logprob"]) / 2
    options = dict(temperatures=[0.0, 0.6], logprob_threshold=threshold)
    calls, orig = _count_greedy_batches(w, monkeypatch)
    fallback = w.FallbackDecoding(model.decoder, prompt, batch_size=2, **options)
    for i in order:
        fallback.add(uids[i], enc[i], 20)
    results = fallback.finish()
    assert calls == [(0.0, 2), (0.0, 2), (0.6, 2)]
    assert {u for u, r in results.items() if r["temperature"] == 0.6} == {uids[i] for i in low}
    monkeypatch.setattr(w, "greedy_batch", orig)
    for i in range(4):
        alone = w.decode_with_fallback(model.decoder, enc[i : i + 1], uids[i : i + 1], prompt, 20, **options)[0]
        assert results[uids[i]]["tokens"] == alone["tokens"] and results[uids[i]]["temperature"] == alone["temperature"]
    with pytest.raises(ValueError, match="u0 was added twice"):
        fallback.add("u0", enc[0], 20)


def test_greedy_options_are_checked(tmp_path):
    from espnet_pise.bin.decode_sets import main

    conf = tmp_path / "decode.yaml"
    scp = tmp_path / "wav.scp"
    scp.write_text("u1 /nonexistent.wav\n")
    for text, message in (("search: beam\ntemperatures: [0.0]\n", "apply to search: greedy only"),
                          ("search: greedy\nbatch_size: 0\n", "batch_size must be >= 1"),
                          ("search: greedy\ncompute_dtype: float16\n", "compute_dtype must be float32 or bfloat16"),
                          ("search: greedy\ndecoder_compute_dtype: half\n", "decoder_compute_dtype must be float32 or bfloat16"),
                          ("search: greedy\ncross_kv_compute_dtype: float16\n",
                           "cross_kv_compute_dtype must be float32 or bfloat16")):
        conf.write_text(text)
        with pytest.raises(SystemExit, match=message):
            main(["--config", str(conf), "--asr_train_config", "c.yaml", f"x={scp}:{tmp_path / 'out'}"])
