"""The CTranslate2 reader and the Whisper conversion, on a model written by CTranslate2's own
converter (from a tiny random transformers Whisper) and checked against CTranslate2's runtime and
the transformers model."""
import numpy as np
import pytest
import torch

from espnet_pise.ssl.ctranslate2 import CT2FormatError, read_ct2
from espnet_pise.ssl.whisper_model import whisper_from_ct2

ctranslate2 = pytest.importorskip("ctranslate2")
transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def tiny_ct2(tmp_path_factory):
    root = tmp_path_factory.mktemp("ct2")
    from ctranslate2.converters import TransformersConverter

    torch.manual_seed(0)
    cfg = transformers.WhisperConfig(
        vocab_size=51865, num_mel_bins=80, encoder_layers=2, decoder_layers=2, encoder_attention_heads=2,
        decoder_attention_heads=2, d_model=64, encoder_ffn_dim=256, decoder_ffn_dim=256,
        max_source_positions=1500, max_target_positions=448)
    transformers.WhisperForConditionalGeneration(cfg).eval().save_pretrained(root / "hf")
    TransformersConverter(str(root / "hf"), load_as_float16=False).convert(str(root / "ct2"), quantization="float16")
    return root


def _whisper(ct2_dir):
    from whisper.model import ModelDimensions, Whisper

    dims, sd = whisper_from_ct2(read_ct2(ct2_dir / "ct2" / "model.bin"))
    model = Whisper(ModelDimensions(**dims))
    assert not [k for k in model.load_state_dict(sd, strict=False).unexpected_keys]
    return model.eval(), dims


def test_reader_sees_what_ctranslate2_wrote(tiny_ct2):
    m = read_ct2(tiny_ct2 / "ct2" / "model.bin")
    assert m.spec == "WhisperSpec" and m.binary_version == 6
    # CTranslate2 stores identical tensors once (the tied output projection, equal LayerNorms)
    assert m.aliases["decoder/projection/weight"] == "decoder/embeddings/weight"
    assert all(np.shares_memory(m.variables[a], m.variables[t]) for a, t in m.aliases.items())
    assert m.variables["encoder/conv1/weight"].shape == (64, 80, 3)
    assert m.variables["encoder/conv1/weight"].dtype == np.float16
    assert int(m.variables["encoder/num_heads"]) == 2


def test_converted_encoder_matches_ctranslate2_runtime(tiny_ct2):
    model, dims = _whisper(tiny_ct2)
    assert dims["n_audio_layer"] == 2 and dims["n_audio_head"] == 2 and dims["n_text_state"] == 64
    ref = ctranslate2.models.Whisper(str(tiny_ct2 / "ct2"), device="cpu", compute_type="float32")
    mel = torch.randn(1, 80, 3000, generator=torch.Generator().manual_seed(1))
    expected = np.array(ref.encode(ctranslate2.StorageView.from_array(mel.numpy()), to_cpu=True))
    with torch.no_grad():
        got = model.encoder(mel).numpy()
    assert np.abs(got - expected).max() < 1e-5 * np.abs(expected).max()


def test_converted_decoder_matches_transformers(tiny_ct2):
    model, _ = _whisper(tiny_ct2)
    hf = transformers.WhisperForConditionalGeneration.from_pretrained(tiny_ct2 / "hf").eval()
    with torch.no_grad():
        for p in hf.parameters():  # the CTranslate2 file holds float16 weights
            p.copy_(p.half().float())
        mel = torch.randn(1, 80, 3000, generator=torch.Generator().manual_seed(2))
        tokens = torch.tensor([[50258, 50259, 50359, 50363, 440, 2068]])
        expected = hf(input_features=mel, decoder_input_ids=tokens).logits
        got = model.decoder(tokens, model.encoder(mel))
    assert (got - expected).abs().max() < 1e-5 * expected.abs().max()


def test_truncated_or_padded_files_are_refused(tiny_ct2, tmp_path):
    data = (tiny_ct2 / "ct2" / "model.bin").read_bytes()
    cut = tmp_path / "cut.bin"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(CT2FormatError, match=r"cut.bin: truncated CTranslate2 model \(file ends inside the data of"):
        read_ct2(cut)
    extra = tmp_path / "extra.bin"
    extra.write_bytes(data + b"\0" * 7)
    with pytest.raises(CT2FormatError, match="extra.bin: 7 unexpected bytes after the last record"):
        read_ct2(extra)
    other = tmp_path / "other.bin"
    other.write_bytes(b"PK\3\4" + data[4:])
    with pytest.raises(CT2FormatError, match="other.bin: not a CTranslate2 model.bin this reader knows"):
        read_ct2(other)
    with pytest.raises(FileNotFoundError, match="missing.bin: no such CTranslate2 model file"):
        read_ct2(tmp_path / "missing.bin")
