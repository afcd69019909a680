"""Is the SSL model worth its name?  Two measurements on a local SSL checkpoint.

    python -m espnet_pise.ssl.analysis --ssl_model exp/ssl/upstream.pt --train data/train --dev data/dev \\
        --test data/test_seen --out exp/ssl/analysis.json

1. CTC probe: a linear layer from frozen features (every layer, learned softmax weights) to
   characters, trained with CTC under a fixed budget on training speech; greedy character error
   rate on dev.  The same probe and budget on a RANDOMLY initialised model of the same architecture
   is the reference: content the SSL model learned shows as a lower CER.
2. The paper's premise: how much the features of the same clean utterance change when only its
   absolute position changes (zero-padding of k whole frames in front, features realigned by k
   frames), compared with the change caused by the test set's noise at the same positions.
   Relative change ||F(a) - F(b)||^2 / ||F(b)||^2 per layer, averaged over utterances.
"""
import argparse
import copy
import json
import sys
from pathlib import Path
from typing import Dict, List

import numpy as np
import torch
import torchaudio
from tqdm import tqdm

from espnet_pise.checkpoint import load_checkpoint_file
from espnet_pise.data.kaldi import load_wav, read_scp
from espnet_pise.ssl.upstream import TorchaudioUpstream, build_upstream

CHARS = ["<b>", " ", "'"] + [chr(c) for c in range(ord("A"), ord("Z") + 1)]


def random_like(source: str, trained, seed: int = 0):
    """The same architecture with random weights: torchaudio's own initialisation for exported
    wav2vec2/HuBERT checkpoints; for other upstreams (Whisper) every layer's ``reset_parameters``
    (Whisper's sinusoidal positional embedding is not learned, so it stays)."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        if source.startswith("whisper:"):
            model = copy.deepcopy(trained)
            for m in model.modules():
                if hasattr(m, "reset_parameters"):
                    m.reset_parameters()
            return model.eval()
        config = load_checkpoint_file(Path(source), "SSL checkpoint")["config"]
        return TorchaudioUpstream(torchaudio.models.wav2vec2_model(**config)).eval()


@torch.no_grad()
def layer_features(upstream, wav: torch.Tensor) -> torch.Tensor:
    states, _ = upstream(wav[None], torch.tensor([len(wav)]))
    return torch.stack([s[0] for s in states])  # (layers, T, D)


def ctc_probe(upstream, train: List[tuple], dev: List[tuple], steps: int, seed: int = 0) -> float:
    """Dev CER (%) of a linear CTC probe on frozen features (learned layer weights).

    train, dev: (waveform (T,), transcript) pairs."""
    feats = {split: [(layer_features(upstream, wav), t) for wav, t in tqdm(items, desc=f"features {split}", file=sys.stderr)]
             for split, items in (("train", train), ("dev", dev))}
    n_layers, _, dim = feats["train"][0][0].shape
    torch.manual_seed(seed)
    layer_logits = torch.zeros(n_layers, requires_grad=True)
    probe = torch.nn.Linear(dim, len(CHARS))
    opt = torch.optim.Adam([layer_logits, *probe.parameters()], lr=2e-3)
    ctc = torch.nn.CTCLoss(zero_infinity=True)
    index = {c: i for i, c in enumerate(CHARS)}

    def logits(f):
        x = (torch.softmax(layer_logits, 0)[:, None, None] * f).sum(0)
        x = torch.nn.functional.layer_norm(x, x.shape[-1:])
        return probe(x).log_softmax(-1)

    rng = np.random.default_rng(seed)
    for _ in tqdm(range(steps), desc="probe", file=sys.stderr):
        batch = [feats["train"][i] for i in rng.choice(len(feats["train"]), size=8)]
        loss = 0.0
        for f, text in batch:
            target = torch.tensor([index[c] for c in text if c in index])
            lp = logits(f)
            loss = loss + ctc(lp, target, torch.tensor([lp.shape[0]]), torch.tensor([len(target)]))
        opt.zero_grad()
        (loss / len(batch)).backward()
        opt.step()
    errors = chars = 0
    import jiwer

    with torch.no_grad():
        for f, text in feats["dev"]:
            best = logits(f).argmax(-1).tolist()
            hyp = "".join(CHARS[k] for j, k in enumerate(best) if k != 0 and (j == 0 or k != best[j - 1]))
            errors += jiwer.cer(text, hyp or " ") * len(text)
            chars += len(text)
    return 100.0 * errors / chars


@torch.no_grad()
def position_vs_noise(upstream, pairs: List[tuple], shifts=(1, 5, 25)) -> Dict[str, List[float]]:
    """Mean relative feature change per layer: zero-padding by k frames (realigned) vs noise.

    pairs: (clean waveform (T,), noisy waveform (T,))."""
    hop = 320
    out: Dict[str, List[np.ndarray]] = {f"pad{k}": [] for k in shifts}
    out["noise"] = []
    for clean, noisy in tqdm(pairs, desc="position vs noise", file=sys.stderr):
        ref = layer_features(upstream, clean)
        T = ref.shape[1]
        norm = (ref ** 2).sum((1, 2)).clamp(min=1e-9)
        for k in shifts:
            padded = layer_features(upstream, torch.cat([torch.zeros(k * hop), clean]))[:, k: k + T]
            t = min(T, padded.shape[1])
            out[f"pad{k}"].append((((padded[:, :t] - ref[:, :t]) ** 2).sum((1, 2)) / norm).numpy())
        f_noisy = layer_features(upstream, noisy)
        t = min(T, f_noisy.shape[1])
        out["noise"].append((((f_noisy[:, :t] - ref[:, :t]) ** 2).sum((1, 2)) / norm).numpy())
    return {k: [round(float(x), 4) for x in np.mean(v, axis=0)] for k, v in out.items()}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ssl_model", required=True, help="an ssl_source (checkpoint path, whisper:PATH)")
    ap.add_argument("--arch_conf", type=json.loads, default=None, help="JSON options of the source (e.g. Whisper's window)")
    ap.add_argument("--train", type=Path, required=True, help="data dir: spk1.scp + text")
    ap.add_argument("--dev", type=Path, required=True)
    ap.add_argument("--test", type=Path, required=True, help="noisy data dir for the position-vs-noise figures")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--n_train", type=int, default=300)
    ap.add_argument("--n_dev", type=int, default=100)
    ap.add_argument("--n_test", type=int, default=50)
    ap.add_argument("--steps", type=int, default=3000, help="probe updates (batch 8); 300 left both models under-fit")
    args = ap.parse_args(argv)

    def wav(scp: Path, entries: Dict[str, str], uid: str) -> torch.Tensor:
        return torch.from_numpy(load_wav(scp, uid, entries[uid], 16000))

    def items(d: Path, n: int):
        wavs, texts = read_scp(d / "spk1.scp"), read_scp(d / "text")
        return [(wav(d / "spk1.scp", wavs, u), texts[u]) for u in sorted(wavs)[:n]]

    train, dev = items(args.train, args.n_train), items(args.dev, args.n_dev)
    trained = build_upstream(args.ssl_model, args.arch_conf).eval()
    random = random_like(args.ssl_model, trained)
    result = {"probe_dev_cer": {"pretrained": ctc_probe(trained, train, dev, args.steps),
                                "random_init": ctc_probe(random, train, dev, args.steps)},
              "probe": {"train_utts": len(train), "dev_utts": len(dev), "steps": args.steps, "batch": 8}}
    clean, noisy = read_scp(args.test / "spk1.scp"), read_scp(args.test / "wav.scp")
    pairs = [(wav(args.test / "spk1.scp", clean, u), wav(args.test / "wav.scp", noisy, u)) for u in sorted(clean)[: args.n_test]]
    result["relative_feature_change"] = {"pretrained": position_vs_noise(trained, pairs),
                                         "random_init": position_vs_noise(random, pairs)}
    result["relative_feature_change"]["note"] = ("per layer (0 = CNN projection + positional embedding for Whisper): mean ||F(a)-F(clean)||^2/||F(clean)||^2; "
                                                  f"padK = clean with K frames of leading zeros, realigned; noise = {args.test.name}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
