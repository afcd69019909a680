"""The report's soft-DTW alignment figure: what the ``ssl_sdtw`` loss compares, on one test utterance."""
from pathlib import Path

from espnet_pise.report import plots


def alignment_plot(se_exp: Path, ssl_model: str, test_set: str, out: Path, gamma: float = 0.1) -> str:
    """Soft-DTW alignment between the SSL features of one enhanced test utterance and its clean
    reference sped up by 1.1 (what the ssl_sdtw loss compares); returns the utterance id."""
    import soundfile as sf
    import torch

    from espnet_pise.data.kaldi import read_scp
    from espnet_pise.losses.frame_cost import pairwise_sq_dist
    from espnet_pise.losses.perturb import speed_perturb
    from espnet_pise.losses.soft_dtw import soft_alignment
    from espnet_pise.ssl.teacher import SSLTeacher

    enhanced = read_scp(se_exp / f"enhanced_{test_set}" / "spk1.scp")
    clean = read_scp(Path("data") / test_set / "spk1.scp")
    uid = sorted(enhanced)[0]
    est = torch.tensor(sf.read(enhanced[uid], dtype="float32")[0])[None]
    ref = torch.tensor(sf.read(clean[uid], dtype="float32")[0])[None]
    ref, ref_len = speed_perturb(ref, torch.tensor([ref.shape[1]]), [1.1])
    teacher = SSLTeacher(ssl_model, layer=-1)
    with torch.no_grad():
        fx, _ = teacher(est, torch.tensor([est.shape[1]]))
        fy, _ = teacher(ref, ref_len)
    align = soft_alignment(fx, fy, gamma)[0].numpy()
    cost = pairwise_sq_dist(fx.double(), fy.double())[0].numpy()
    plots.plot_alignment(align, cost, f"{uid}: {se_exp.name} output vs clean x1.1 (gamma {gamma})", out)
    return uid
