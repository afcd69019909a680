"""Joint enh_s2t training of the pretrained NSNet2 front end with the frozen Whisper base recogniser
(Whisper's token cross-entropy plus ssl_mse through a tiny teacher) for two updates, then
enh_inference --enh_s2t_task true, all through the espnet_pise entry modules."""
import subprocess
import sys

import soundfile as sf
import torch
import yaml

from conftest import TINY_SSL, enh_s2t_data_args, se_model, write_enh_data
from espnet_pise.enh.pretrained import load_converted


def _run(args, cwd):
    res = subprocess.run([sys.executable, "-m", *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-4000:]


def test_nsnet2_with_whisper_trains_and_enhances(tmp_path, whisper_ckpt):
    from espnet_pise.asr.whisper_tokenizer import token_list

    nsnet2 = se_model("nsnet2")
    data = write_enh_data(tmp_path / "data")
    uids = [r.split()[0] for r in (data / "wav.scp").read_text().split("\n") if r.strip()]
    texts = ["Hello there.", "A cat.", "Good morning.", "Yes."]
    (data / "text_spk1").write_text("".join(f"{u} {t}\n" for u, t in zip(uids, texts)))
    (data / "text_spk1_shape").write_text("".join(f"{u} {len(t)}\n" for u, t in zip(uids, texts)))
    (tmp_path / "tokens.txt").write_text("".join(t + "\n" for t in token_list()), encoding="utf-8")
    whisper = dict(whisper_model=whisper_ckpt, freeze=True)
    conf = dict(
        enh_encoder="same", enh_decoder="same", enh_separator="nsnet2",
        enh_separator_conf=dict(init_checkpoint=str(nsnet2)),
        enh_criterions=[dict(name="ssl_mse", conf=TINY_SSL, wrapper="fixed_order", wrapper_conf=dict(weight=1.0))],
        input_size=1, frontend=None, normalize=None, specaug=None,
        asr_encoder="pise_whisper", asr_encoder_conf=dict(whisper, pad_to_s=1.0),
        asr_decoder="pise_whisper", asr_decoder_conf=whisper,
        asr_model_conf=dict(ctc_weight=0.0, lsm_weight=0.0, length_normalized_loss=False, report_cer=False,
                            report_wer=False, sym_sos="<|startoftranscript|>", sym_eos="<|endoftext|>",
                            extract_feats_in_collect_stats=False),
        model_conf=dict(calc_enh_loss=True, bypass_enh_prob=0.0), subtask_series=["enh", "asr"],
        optim="adam", optim_conf=dict(lr=1e-3), max_epoch=1, batch_type="unsorted", batch_size=2,
        num_workers=0, use_tensorboard=False, seed=0,
    )
    (tmp_path / "conf.yaml").write_text(yaml.safe_dump(conf))
    data_args = enh_s2t_data_args(data)
    _run(["espnet_pise.bin.enh_s2t_train", "--config", "conf.yaml", "--ngpu", 0, "--token_type", "whisper_multilingual",
          "--bpemodel", "whisper_multilingual", "--token_list", "tokens.txt", "--use_preprocessor", "true",
          "--text_name", "text_spk1", "--output_dir", "exp", *data_args], tmp_path)
    stats = torch.load(tmp_path / "exp" / "checkpoint.pth", map_location="cpu", weights_only=False)["reporter"]["stats"]
    train = stats[1]["train"]
    assert all(torch.isfinite(torch.tensor(float(train[k]))) for k in ("loss", "loss_enh", "loss_att")), train
    # the two updates moved NSNet2's weights; Whisper's are not in the optimiser (frozen)
    trained = torch.load(tmp_path / "exp" / "1epoch.pth", map_location="cpu")
    _, init = load_converted(nsnet2, "nsnet2")
    moved = {k: (trained[f"enh_model.separator.model.{k}"] - v).abs().max().item() for k, v in init.items()}
    assert all(d > 0 for d in moved.values()), moved

    _run(["espnet_pise.bin.enh_inference", "--enh_s2t_task", "true", "--ngpu", 0, "--batch_size", 1, "--fs", 16000,
          "--data_path_and_name_and_type", f"{data}/wav.scp,speech_mix,sound", "--train_config", "exp/config.yaml",
          "--model_file", "exp/1epoch.pth", "--output_dir", "enh"], tmp_path)
    rows = [r.split(maxsplit=1) for r in (tmp_path / "enh" / "spk1.scp").read_text().split("\n") if r.strip()]
    assert [u for u, _ in rows] == uids
    for uid, path in rows:
        wav, fs = sf.read(path)
        assert fs == 16000 and len(wav) == sf.info(f"{data}/wav/{uid}_noisy.wav").frames
    # the recipe's decoding of a joint model: batched greedy under bf16 (the SE front end stays float32)
    (tmp_path / "decode.yaml").write_text("search: greedy\nbatch_size: 4\ncompute_dtype: bfloat16\nbeam_size: 1\n"
                                          "ctc_weight: 0.0\nlm_weight: 0.0\nmaxlenratio: 0.3\n")
    _run(["espnet_pise.bin.decode_sets", "--config", "decode.yaml", "--asr_train_config", "exp/config.yaml",
          "--asr_model_file", "exp/1epoch.pth", "--enh_s2t_task", "true", f"t={data}/wav.scp:dec"], tmp_path)
    hyps = [r.split(maxsplit=1)[0] for r in (tmp_path / "dec" / "1best_recog" / "text").read_text().splitlines()]
    assert hyps == uids
