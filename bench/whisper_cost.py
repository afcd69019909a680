"""Cost and fidelity of Whisper base's input window, as teacher and as recogniser (CPU or GPU).

    python bench/whisper_cost.py --wavs egs/mini_noisy/pise1/data/dev/wav.scp [--n 8] [--repeats 3]

Teacher: one SSL-loss step through the frozen encoder (forward, backward to the waveform through
the log-mel), batch of 4 utterances, for the window choices (unpadded, padded to 10 s, to 30 s),
and how far each one's last-layer features are from the 30 s ones (relative squared distance on
the utterance's own frames).  Recogniser: encoder on the whole window plus 15 greedy decoder
steps of PiseWhisperDecoder, per utterance.  Median of --repeats runs; prints a Markdown table.
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from espnet_pise.data.kaldi import load_wav, read_scp  # noqa: E402
from espnet_pise.ssl.whisper_model import encoder_states, load_whisper  # noqa: E402

WINDOWS = (None, 10.0, 30.0)


def relative_distance(feats: torch.Tensor, ref: torch.Tensor, lens) -> float:
    """Mean over utterances of ||feats - ref||^2 / ||ref||^2 on each utterance's own frames."""
    return statistics.mean(float((feats[b, :n] - ref[b, :n]).pow(2).sum() / ref[b, :n].pow(2).sum())
                           for b, n in enumerate(lens.tolist()))


def timed(fn, repeats):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="downloads/whisper_base/whisper_base.pt")
    ap.add_argument("--wavs", type=Path, required=True)
    ap.add_argument("--n", type=int, default=8, help="utterances (first n of the list)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    model = load_whisper(args.model).to(args.device)
    for p in model.parameters():
        p.requires_grad_(False)
    scp = read_scp(args.wavs)
    wavs = [torch.from_numpy(load_wav(args.wavs, u, scp[u], 16000)) for u in sorted(scp)[: args.n]]
    lens = torch.tensor([len(w) for w in wavs])
    batch = torch.nn.utils.rnn.pad_sequence(wavs, batch_first=True).to(args.device)
    with torch.no_grad():
        ref, _ = encoder_states(model.encoder, batch, lens, pad_to_s=30.0)
    from espnet_pise.asr.whisper import PiseWhisperDecoder

    dec = PiseWhisperDecoder(vocab_size=51865, encoder_output_size=512, whisper_model=args.model).to(args.device).eval()
    prompt = torch.tensor([[50258, 50259, 50359, 50363]], device=args.device)
    print(f"Whisper base, {args.device}, {torch.get_num_threads()} threads, {args.n} utterances of "
          f"{lens.float().mean() / 16000:.1f} s on average ({args.wavs}), median of {args.repeats}")
    print("| input window | teacher step, batch 4 (s) | last-layer distance to 30 s | recogniser per utterance (s) |")
    print("|---|---|---|---|")
    for win in WINDOWS:
        def step():
            x = batch[:4].clone().requires_grad_(True)
            states, fl = encoder_states(model.encoder, x, lens[:4], pad_to_s=win)
            states[-1].pow(2).sum().backward()

        with torch.no_grad():
            feats, fl = encoder_states(model.encoder, batch, lens, pad_to_s=win)
        dist = relative_distance(feats[-1], ref[-1], fl)
        t_step = timed(step, args.repeats)
        t_rec = "-"
        if win is not None:
            def recognise():
                with torch.no_grad():
                    for b in range(batch.shape[0]):
                        enc, _ = encoder_states(model.encoder, batch[b : b + 1], lens[b : b + 1], pad_to_s=win, whole_window=True)
                        state = dec.init_state(enc[-1][0])
                        ys = prompt
                        for _ in range(15):
                            logp, _ = dec.batch_score(ys, [state], enc[-1])
                            ys = torch.cat([ys, logp.argmax(-1, keepdim=True)], 1)

            t_rec = f"{timed(recognise, args.repeats) / batch.shape[0]:.2f}"
        print(f"| {'unpadded' if win is None else f'{win:.0f} s'} | {t_step:.2f} | {dist:.3f} | {t_rec} |")


if __name__ == "__main__":
    main()
