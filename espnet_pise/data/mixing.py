"""Pure DSP helpers for building noisy speech: levels, SNR mixing, coloured noise, speed, reverb.

All signals are 1-D float64 numpy arrays at one sample rate.
"""
from typing import Tuple

import numpy as np
from scipy.signal import fftconvolve, resample_poly


def active_level(x: np.ndarray, fs: int = 16000, frame_s: float = 0.02, floor_db: float = -40.0) -> float:
    """Mean power over active frames: frames within ``floor_db`` of the loudest frame.

    Mixing at the active-speech level (not whole-file power) keeps an SNR meaning the same for
    utterances with long pauses or added leading silence.
    """
    n = max(1, int(frame_s * fs))
    frames = x[: len(x) // n * n].reshape(-1, n) if len(x) >= n else x.reshape(1, -1)
    power = (frames ** 2).mean(axis=1)
    if power.max() <= 0:
        raise ValueError("signal is all zeros: no active level")
    active = power[power >= power.max() * 10 ** (floor_db / 10)]
    return float(active.mean())


def mix_at_snr(speech: np.ndarray, noise: np.ndarray, snr_db: float, fs: int = 16000,
               peak: float = 0.9) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(noisy, speech, scaled noise) with active-speech-level SNR ``snr_db``; noisy = speech + noise.

    All three are scaled by one factor when the mixture would exceed ``peak`` (no clipping).
    """
    if len(noise) != len(speech):
        raise ValueError(f"speech has {len(speech)} samples, noise {len(noise)}")
    noise_power = float((noise ** 2).mean())
    if noise_power <= 0:
        raise ValueError("noise is all zeros")
    gain = np.sqrt(active_level(speech, fs) / (noise_power * 10 ** (snr_db / 10)))
    noise = noise * gain
    noisy = speech + noise
    scale = min(1.0, peak / max(np.abs(noisy).max(), 1e-9))
    return noisy * scale, speech * scale, noise * scale


def coloured_noise(n: int, exponent: float, rng: np.random.Generator) -> np.ndarray:
    """Unit-power noise with power spectrum ~ 1/f**exponent (0 white, 1 pink, 2 brown)."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(len(spec), dtype=np.float64)
    f[0] = f[1] if len(f) > 1 else 1.0
    x = np.fft.irfft(spec / f ** (exponent / 2), n)
    return x / np.sqrt((x ** 2).mean())


def shaped_noise(n: int, reference: np.ndarray, rng: np.random.Generator, n_fft: int = 512) -> np.ndarray:
    """Unit-power noise with the long-term average spectrum of ``reference`` (speech-shaped noise)."""
    frames = reference[: len(reference) // n_fft * n_fft].reshape(-1, n_fft) * np.hanning(n_fft)
    ltas = np.sqrt((np.abs(np.fft.rfft(frames, axis=1)) ** 2).mean(axis=0))
    spec = np.fft.rfft(rng.standard_normal(n))
    envelope = np.interp(np.linspace(0, 1, len(spec)), np.linspace(0, 1, len(ltas)), ltas)
    x = np.fft.irfft(spec * envelope, n)
    return x / np.sqrt((x ** 2).mean())


def speed_perturb(x: np.ndarray, factor: float) -> np.ndarray:
    """Kaldi/sox-style speed change (tempo and pitch together): factor 1.1 is 10 % faster/shorter."""
    ratio = round(factor * 100)
    g = np.gcd(ratio, 100)
    return resample_poly(x, 100 // g, ratio // g)


def loop_segment(bank: np.ndarray, start: int, n: int) -> np.ndarray:
    """``n`` samples of ``bank`` from ``start``, wrapping around (noise loops)."""
    idx = (start + np.arange(n)) % len(bank)
    return bank[idx]


def reverberate(x: np.ndarray, rng: np.random.Generator, fs: int = 16000,
                rt60_range=(0.2, 0.7)) -> Tuple[np.ndarray, float]:
    """Reverberant copy of ``x`` in a random shoebox room (pyroomacoustics), aligned to the direct
    path so that the dry signal stays a sample-aligned reference.  Returns (signal, rt60)."""
    import pyroomacoustics as pra

    dims = rng.uniform([3.0, 3.0, 2.4], [9.0, 7.0, 3.5])
    rt60 = float(rng.uniform(*rt60_range))
    absorption, max_order = pra.inverse_sabine(rt60, dims)
    room = pra.ShoeBox(dims, fs=fs, materials=pra.Material(absorption), max_order=min(max_order, 30))
    room.add_source(rng.uniform(0.5, dims - 0.5))
    room.add_microphone(rng.uniform(0.5, dims - 0.5))
    room.compute_rir()
    rir = np.asarray(room.rir[0][0])
    delay = int(np.argmax(np.abs(rir)))
    y = fftconvolve(x, rir)[delay: delay + len(x)]
    return y * (np.abs(x).max() / max(np.abs(y).max(), 1e-9)), rt60


def pad(x: np.ndarray, lead: int, trail: int = 0) -> np.ndarray:
    return np.concatenate([np.zeros(lead), x, np.zeros(trail)])


def to_mono(x: np.ndarray) -> np.ndarray:
    return x.mean(axis=1) if x.ndim == 2 else x


def resample(x: np.ndarray, fs_in: int, fs_out: int) -> np.ndarray:
    if fs_in == fs_out:
        return x
    g = np.gcd(fs_in, fs_out)
    return resample_poly(x, fs_out // g, fs_in // g)


