"""Unmodified ESPnet entry modules, run the way ESPnet's TEMPLATE scripts run them
(``${python} -m espnet2.bin.<step> ...`` with ``python=espnet-pise-python`` as the README says),
see our components: collect stats, aggregate, train (demucs + ssl_sdtw), enhance, score; joint
enh_s2t training with asr_inference / enh_inference --enh_s2t_task true; a spawned worker; and
2-process DDP through ESPnet's own trainer (gloo, CPU) equals single-process training."""
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf
import torch
import yaml

from conftest import TINY_ARCH, enh_s2t_data_args, write_enh_data

# what a user passes as --python: the console script next to the venv's interpreter
PYTHON = shutil.which("espnet-pise-python", path=str(Path(sys.executable).parent))

DEMUCS = dict(encoder="same", decoder="same", separator="demucs",
              separator_conf=dict(hidden=8, depth=3, kernel_size=8, stride=4, resample=2, causal=True))


def _config(tmp_path, **extra):
    conf = dict(
        DEMUCS,
        criterions=[dict(name="ssl_sdtw", conf=dict(ssl_source="torchaudio:custom", arch_conf=TINY_ARCH, gamma=0.1,
                                                    bandwidth=30, **extra.pop("loss_conf", {})),
                         wrapper="fixed_order", wrapper_conf=dict(weight=1.0))],
        optim="adam", optim_conf=dict(lr=1e-3), max_epoch=1, batch_type="unsorted", batch_size=2,
        num_workers=0, use_tensorboard=False, seed=0,
    )
    conf.update(extra)
    path = tmp_path / "conf.yaml"
    path.write_text(yaml.safe_dump(conf))
    return path


def _espnet(step, *args, cwd, env=None, python=None):
    """``${python} -m espnet2.bin.<step> ARGS``, ${python} split into words as the shell does."""
    cmd = [*(python or PYTHON).split(), "-m", f"espnet2.bin.{step}", *map(str, args)]
    res = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600, env=env)
    assert res.returncode == 0, f"{' '.join(cmd)}\n{res.stderr[-4000:]}"
    return res


def _data_args(data, shape_dir=None):
    out = []
    for split in ("train", "valid"):
        out += [f"--{split}_data_path_and_name_and_type", f"{data}/wav.scp,speech_mix,sound",
                f"--{split}_data_path_and_name_and_type", f"{data}/spk1.scp,speech_ref1,sound",
                f"--{split}_shape_file", f"{shape_dir}/{split}/speech_mix_shape" if shape_dir else f"{data}/speech_mix_shape"]
    return out


def _plain_env():
    env = dict(os.environ)
    env.pop("ESPNET_PISE_REGISTER", None)
    return env


@pytest.mark.skipif(PYTHON is None, reason="espnet-pise-python not installed (pip install -e .)")
def test_plain_interpreter_is_untouched_and_wrapper_registers(tmp_path):
    probe = "from espnet2.tasks import enh; print('ssl_sdtw' in enh.criterion_choices.classes)"
    plain = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=_plain_env())
    wrapped = subprocess.run([PYTHON, "-c", probe], capture_output=True, text=True, env=_plain_env())
    off = subprocess.run([PYTHON, "-c", probe], capture_output=True, text=True,
                         env=dict(_plain_env(), ESPNET_PISE_REGISTER="0"))
    # (ESPnet itself prints a flash_attn notice to stdout on import: compare the last line)
    last = [r.stdout.splitlines()[-1] if r.stdout else r.stderr[-2000:] for r in (plain, wrapped, off)]
    assert last == ["False", "True", "False"], last
    # a step that never imports a task (tokenize_text in a pipe) gets nothing from us on stdout
    echo = subprocess.run([PYTHON, "-c", "import sys; sys.stdout.write(sys.stdin.read())"], input="a b\n",
                          capture_output=True, text=True, env=_plain_env())
    assert echo.stdout == "a b\n"


SPAWN_PROBE = """
import multiprocessing


def probe(queue):
    from espnet2.tasks import enh
    queue.put("ssl_sdtw" in enh.criterion_choices.classes)


if __name__ == "__main__":
    ctx = multiprocessing.get_context("spawn")  # how ESPnet's trainer starts its GPU workers
    queue = ctx.Queue()
    worker = ctx.Process(target=probe, args=(queue,))
    worker.start()
    print("worker sees ssl_sdtw:", queue.get(timeout=300))
    worker.join()
"""


@pytest.mark.skipif(PYTHON is None, reason="espnet-pise-python not installed (pip install -e .)")
def test_spawned_workers_and_other_trainers_see_our_components(tmp_path):
    script = tmp_path / "probe.py"
    script.write_text(SPAWN_PROBE)
    res = subprocess.run([PYTHON, str(script)], capture_output=True, text=True, timeout=600, env=_plain_env())
    assert "worker sees ssl_sdtw: True" in res.stdout, res.stderr[-3000:]
    # enh_s2t keeps deep copies of the enh tables for its command line; asr has the frontend
    crit = [dict(name="ssl_sdtw", conf=dict(ssl_source="torchaudio:custom", arch_conf=TINY_ARCH),
                 wrapper="fixed_order", wrapper_conf={})]
    configs = {
        "enh_s2t_train": dict(enh_separator="demucs", enh_encoder="same", enh_decoder="same", enh_criterions=crit,
                              frontend="pise_ssl", frontend_conf=dict(ssl_source="torchaudio:custom", arch_conf=TINY_ARCH)),
        "asr_train": dict(frontend="pise_ssl", frontend_conf=dict(ssl_source="torchaudio:custom", arch_conf=TINY_ARCH)),
    }
    for step, conf in configs.items():
        path = tmp_path / f"{step}.yaml"
        path.write_text(yaml.safe_dump(conf))
        out = _espnet(step, "--config", path, "--print_config", cwd=tmp_path, env=_plain_env()).stdout
        # (ESPnet prints its flash_attn notice to stdout before the config)
        printed = yaml.safe_load("\n".join(r for r in out.splitlines() if not r.startswith("Failed to import")))
        assert printed["frontend"] == "pise_ssl"
        if step == "enh_s2t_train":
            assert printed["enh_separator"] == "demucs" and printed["enh_criterions"][0]["name"] == "ssl_sdtw"


@pytest.mark.skipif(PYTHON is None, reason="espnet-pise-python not installed (pip install -e .)")
def test_template_steps_with_unmodified_espnet_modules(tmp_path):
    data = write_enh_data(tmp_path / "data")
    conf = _config(tmp_path)
    # stage 5 of enh.sh: collect stats (one job), then aggregate
    logdir = tmp_path / "stats" / "logdir" / "stats.1"
    _espnet("enh_train", "--collect_stats", "true", "--config", conf, "--ngpu", 0, "--output_dir", logdir,
            *_data_args(data), cwd=tmp_path, env=_plain_env())
    _espnet("aggregate_stats_dirs", "--input_dir", logdir, "--output_dir", tmp_path / "stats", cwd=tmp_path,
            env=_plain_env())
    shapes = (tmp_path / "stats" / "train" / "speech_mix_shape").read_text().split("\n")
    assert len([r for r in shapes if r.strip()]) == 4
    # stage 6: training on the collected shapes
    exp = tmp_path / "exp"
    _espnet("enh_train", "--config", conf, "--ngpu", 0, "--output_dir", exp, *_data_args(data, tmp_path / "stats"),
            cwd=tmp_path, env=_plain_env())
    stats = torch.load(exp / "checkpoint.pth", map_location="cpu", weights_only=False)["reporter"]["stats"]
    assert torch.isfinite(torch.tensor(float(stats[1]["train"]["ssl_sdtw"])))
    # stage 7: inference rebuilds the model from config.yaml (our names) in a new process
    out = tmp_path / "enhanced"
    _espnet("enh_inference", "--ngpu", 0, "--batch_size", 1, "--fs", 16000,
            "--data_path_and_name_and_type", f"{data}/wav.scp,speech_mix,sound",
            "--train_config", exp / "config.yaml", "--model_file", exp / "1epoch.pth", "--output_dir", out,
            cwd=tmp_path, env=_plain_env())
    rows = [r.split(maxsplit=1) for r in (out / "spk1.scp").read_text().split("\n") if r.strip()]
    assert len(rows) == 4 and all(sf.info(p).samplerate == 16000 for _, p in rows)
    # stage 8: scoring
    _espnet("enh_scoring", "--ref_scp", data / "spk1.scp", "--inf_scp", out / "spk1.scp",
            "--output_dir", tmp_path / "scoring", "--ref_channel", 0, "--key_file", data / "spk1.scp",
            cwd=tmp_path, env=_plain_env())
    sdr = [r.split() for r in (tmp_path / "scoring" / "SI_SNR_spk1").read_text().split("\n") if r.strip()]
    assert len(sdr) == 4 and all(torch.isfinite(torch.tensor(float(v))) for _, v in sdr)


@pytest.mark.skipif(PYTHON is None, reason="espnet-pise-python not installed (pip install -e .)")
def test_ddp_two_gloo_workers_match_single_process(tmp_path):
    """ESPnet runs DDP on CPU only with an external launcher (its --multiprocessing_distributed needs
    ngpu > 1, distributed_utils.resolve_distributed_mode): torch.distributed.run starts the two
    workers with the *plain* interpreter (sys.executable), so they see our components only through
    the inherited opt-in.  One batch of 4 equal-length utterances, 2 per worker, fixed speed factor:
    the weights after one step must equal single-process training on the whole batch."""
    data = write_enh_data(tmp_path / "data", min_len=8000, max_len=8001)
    # plain SGD: the weight change is lr x gradient (Adam's first step is lr x sign(gradient))
    conf = _config(tmp_path, batch_size=4, optim="sgd", optim_conf=dict(lr=1.0), loss_conf=dict(speed_factors=[1.1]))
    single, ddp = tmp_path / "single", tmp_path / "ddp"
    _espnet("enh_train", "--config", conf, "--ngpu", 0, "--output_dir", single, *_data_args(data),
            cwd=tmp_path, env=_plain_env())
    with socket.socket() as sock:  # torchrun's --master_port 0 reaches the workers as port 0 (they hang)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    launcher = f"{PYTHON} -m torch.distributed.run --nnodes 1 --nproc_per_node 2 --master_addr 127.0.0.1 --master_port {port}"
    cmd = [*launcher.split(), "-m", "espnet2.bin.enh_train", "--config", str(conf), "--ngpu", "0",
           "--dist_backend", "gloo", "--output_dir", str(ddp), *_data_args(data)]
    res = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=600, env=_plain_env())
    assert res.returncode == 0, res.stderr[-4000:]
    # ESPnet ran in distributed mode (WORLD_SIZE=2 from the launcher; gloo waits for both workers)
    assert yaml.safe_load((ddp / "config.yaml").read_text())["distributed"] is True
    a = torch.load(single / "1epoch.pth", map_location="cpu")
    b = torch.load(ddp / "1epoch.pth", map_location="cpu")
    assert a.keys() == b.keys() and not any("teacher" in k or "hubert" in k for k in a)
    for k in a:
        # float32 sums in another order, times lr = 1 (measured: at most 1.3e-5, grad norm 2.29)
        torch.testing.assert_close(b[k], a[k], rtol=1e-4, atol=5e-5, msg=lambda m, k=k: f"{k}: {m}")
    sa, sb = (torch.load(d / "checkpoint.pth", map_location="cpu", weights_only=False)["reporter"]["stats"][1]["train"]
              for d in (single, ddp))
    assert float(sa["grad_norm"]) > 0
    for key in ("ssl_sdtw", "grad_norm"):
        assert abs(float(sa[key]) - float(sb[key])) <= 1e-5 * abs(float(sa[key])), (key, sa[key], sb[key])


@pytest.mark.skipif(PYTHON is None, reason="espnet-pise-python not installed (pip install -e .)")
def test_enh_s2t_train_and_both_inferences(tmp_path):
    """enh_asr.sh's steps: joint SE + ASR training (demucs, ssl_sdtw, pise_ssl frontend), then
    asr_inference and enh_inference with --enh_s2t_task true, all unmodified espnet2.bin modules."""
    data = write_enh_data(tmp_path / "data")
    uids = [r.split()[0] for r in (data / "wav.scp").read_text().split("\n") if r.strip()]
    texts = ["ab ba", "abc", "ca b", "bb a"]
    (data / "text_spk1").write_text("".join(f"{u} {t}\n" for u, t in zip(uids, texts)))
    (data / "text_spk1_shape").write_text("".join(f"{u} {len(t)}\n" for u, t in zip(uids, texts)))
    (tmp_path / "tokens.txt").write_text("\n".join(["<blank>", "<unk>", "<space>", "a", "b", "c", "<sos/eos>"]) + "\n")
    ssl = dict(ssl_source="torchaudio:custom", arch_conf=TINY_ARCH)
    conf = dict(
        enh_encoder="same", enh_decoder="same", enh_separator="demucs", enh_separator_conf=DEMUCS["separator_conf"],
        enh_criterions=[dict(name="ssl_sdtw", conf=dict(ssl, bandwidth=30), wrapper="fixed_order",
                             wrapper_conf=dict(weight=1.0))],
        frontend="pise_ssl", frontend_conf=ssl,
        asr_encoder="transformer",
        asr_encoder_conf=dict(output_size=16, attention_heads=2, linear_units=16, num_blocks=1, input_layer="linear"),
        asr_decoder="transformer", asr_decoder_conf=dict(attention_heads=2, linear_units=16, num_blocks=1),
        asr_model_conf=dict(ctc_weight=0.3, extract_feats_in_collect_stats=False),
        optim="adam", optim_conf=dict(lr=1e-3), max_epoch=1, batch_type="unsorted", batch_size=2,
        num_workers=0, use_tensorboard=False, seed=0,
    )
    (tmp_path / "conf.yaml").write_text(yaml.safe_dump(conf))
    data_args = enh_s2t_data_args(data)
    _espnet("enh_s2t_train", "--config", "conf.yaml", "--ngpu", 0, "--token_type", "char", "--token_list", "tokens.txt",
            "--use_preprocessor", "true", "--text_name", "text_spk1", "--output_dir", "exp", *data_args,
            cwd=tmp_path, env=_plain_env())
    stats = torch.load(tmp_path / "exp" / "checkpoint.pth", map_location="cpu", weights_only=False)["reporter"]["stats"]
    assert torch.isfinite(torch.tensor(float(stats[1]["train"]["loss"])))
    _espnet("asr_inference", "--enh_s2t_task", "true", "--ngpu", 0, "--batch_size", 1, "--beam_size", 2,
            "--data_path_and_name_and_type", f"{data}/wav.scp,speech,sound", "--asr_train_config", "exp/config.yaml",
            "--asr_model_file", "exp/1epoch.pth", "--output_dir", "dec", cwd=tmp_path, env=_plain_env())
    hyps = [r.split()[0] for r in (tmp_path / "dec" / "1best_recog" / "text_spk1").read_text().split("\n") if r.strip()]
    assert hyps == uids
    _espnet("enh_inference", "--enh_s2t_task", "true", "--ngpu", 0, "--batch_size", 1, "--fs", 16000,
            "--data_path_and_name_and_type", f"{data}/wav.scp,speech_mix,sound", "--train_config", "exp/config.yaml",
            "--model_file", "exp/1epoch.pth", "--output_dir", "enh", cwd=tmp_path, env=_plain_env())
    rows = [r.split(maxsplit=1) for r in (tmp_path / "enh" / "spk1.scp").read_text().split("\n") if r.strip()]
    assert [u for u, _ in rows] == uids and all(sf.info(p).samplerate == 16000 for _, p in rows)
