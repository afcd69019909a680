import numpy as np
import soundfile as sf

from espnet_pise.ssl import kmeans
from conftest import speechlike


def test_labels_follow_the_ssl_frame_grid(tmp_path):
    lens = [16000, 12345, 8000]
    with open(tmp_path / "wav.scp", "w") as f:
        for k, n in enumerate(lens):
            sf.write(tmp_path / f"u{k}.wav", speechlike(n, seed=k).numpy(), 16000)
            f.write(f"u{k} {tmp_path / f'u{k}.wav'}\n")
    kmeans.main(["--out_dir", str(tmp_path / "km"), "--n_clusters", "5", f"train:{tmp_path / 'wav.scp'}"])
    labels = [line.split() for line in open(tmp_path / "km" / "labels_train")]
    for (uid, *lab), n in zip(labels, lens):
        assert len(lab) == (n - 400) // 320 + 1  # HuBERT CNN frames
        assert set(lab) <= {str(i) for i in range(5)}
    tokens = open(tmp_path / "km" / "token_list").read().split()
    assert tokens == [str(i) for i in range(5)] + ["<unk>"]
    assert np.unique([c for _, *lab in labels for c in lab]).size > 1
