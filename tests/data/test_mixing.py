import numpy as np
import pytest

from espnet_pise.data import mixing


def test_mix_at_snr_hits_active_level_snr_and_sums():
    rng = np.random.default_rng(0)
    speech = np.concatenate([np.zeros(8000), rng.standard_normal(16000) * 0.1, np.zeros(8000)])
    noise = rng.standard_normal(len(speech))
    for snr in (20, 5, 0):
        noisy, s, n = mixing.mix_at_snr(speech, noise, snr)
        measured = 10 * np.log10(mixing.active_level(s) / np.mean(n ** 2))
        assert measured == pytest.approx(snr, abs=1e-6)
        assert np.allclose(noisy, s + n)
        assert np.abs(noisy).max() <= 0.9 + 1e-9


def test_active_level_ignores_silence():
    x = np.random.default_rng(1).standard_normal(16000)
    padded = np.concatenate([np.zeros(32000), x])
    assert mixing.active_level(padded) == pytest.approx(mixing.active_level(x), rel=0.05)


def test_mix_errors():
    with pytest.raises(ValueError, match="samples"):
        mixing.mix_at_snr(np.ones(10), np.ones(11), 5)
    with pytest.raises(ValueError, match="zeros"):
        mixing.mix_at_snr(np.ones(10), np.zeros(10), 5)


@pytest.mark.parametrize("exponent", [0.0, 1.0, 2.0])
def test_coloured_noise_slope(exponent):
    x = mixing.coloured_noise(2 ** 16, exponent, np.random.default_rng(0))
    spec = np.abs(np.fft.rfft(x)) ** 2
    f = np.arange(len(spec))
    band = (f > 100) & (f < 10000)
    slope = np.polyfit(np.log(f[band]), np.log(spec[band]), 1)[0]
    assert slope == pytest.approx(-exponent, abs=0.15)


@pytest.mark.parametrize("factor", [0.9, 1.1])
def test_speed_perturb_changes_length(factor):
    x = np.random.default_rng(0).standard_normal(16000)
    assert len(mixing.speed_perturb(x, factor)) == pytest.approx(16000 / factor, abs=2)


def test_loop_segment_wraps():
    bank = np.arange(10.0)
    assert list(mixing.loop_segment(bank, 8, 4)) == [8, 9, 0, 1]


def test_reverberate_keeps_length_and_alignment():
    x = np.zeros(8000)
    x[1000] = 1.0
    y, rt60 = mixing.reverberate(x, np.random.default_rng(0))
    assert len(y) == len(x) and 0.2 <= rt60 <= 0.7
    assert int(np.argmax(np.abs(y))) == 1000  # direct path aligned with the dry signal
