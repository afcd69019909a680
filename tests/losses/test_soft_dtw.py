"""soft_dtw against a brute-force reference, finite differences, and numerical limits."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from espnet_pise.losses.soft_dtw import band_limits, soft_dtw

soft_dtw_module = sys.modules["espnet_pise.losses.soft_dtw"]  # the package re-exports the function


def brute_soft_dtw(x, y, gamma, allowed=None):
    """Textbook O(NM) recursion in float64 on one pair; allowed: (N, M) bool band or None."""
    n, m = len(x), len(y)
    cost = ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)
    r = np.full((n + 1, m + 1), np.inf)
    r[0, 0] = 0.0
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            if allowed is not None and not allowed[i - 1, j - 1]:
                continue
            prev = np.array([r[i - 1, j], r[i, j - 1], r[i - 1, j - 1]])
            if gamma == 0:
                r[i, j] = cost[i - 1, j - 1] + prev.min()
            else:
                lo = prev.min()
                r[i, j] = cost[i - 1, j - 1] + lo - gamma * np.log(np.exp(-(prev - lo) / gamma).sum())
    return r[n, m]


def sakoe_chiba(n, m, w):
    """Band from its definition: |j - i (m-1)/(n-1)| <= w (tests pick shapes where it is connected)."""
    i, j = np.meshgrid(np.arange(n), np.arange(m), indexing="ij")
    return np.abs(j - i * (m - 1) / (n - 1)) <= w + 1e-9


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("bandwidth", [None, 2, 4])
def test_matches_brute_force(seed, bandwidth):
    rng = np.random.default_rng(seed)
    B, N, M, D = 3, int(rng.integers(5, 12)), int(rng.integers(5, 12)), int(rng.integers(1, 5))
    x, y = rng.normal(size=(B, N, D)), rng.normal(size=(B, M, D))
    xl = rng.integers(max(2, N // 2), N + 1, size=B)
    yl = rng.integers(max(2, M // 2), M + 1, size=B)
    xl[0], yl[0] = N, M
    gamma = float(rng.choice([0.01, 0.1, 1.0]))
    got = soft_dtw(torch.tensor(x), torch.tensor(y), torch.tensor(xl), torch.tensor(yl), gamma=gamma, bandwidth=bandwidth)
    for b in range(B):
        n, m = xl[b], yl[b]
        allowed = None
        if bandwidth is not None:
            allowed = sakoe_chiba(n, m, bandwidth)
            lo, hi = band_limits(xl[b : b + 1], yl[b : b + 1], n, bandwidth)
            if not all(lo[0, i + 1] <= hi[0, i] + 1 for i in range(n - 1)):
                continue  # the band needed widening: covered by test_band_is_widened_only_when_needed
            assert np.array_equal(allowed, (np.arange(m)[None] >= lo[0][:, None]) & (np.arange(m)[None] <= hi[0][:, None]))
        want = brute_soft_dtw(x[b, :n], y[b, :m], gamma, allowed)
        assert abs(got[b].item() - want) <= 1e-6 * max(1.0, abs(want)), (b, got[b].item(), want)


@pytest.mark.parametrize("m_size", [70, 160])
def test_dense_kernel_across_strips_matches_brute_force(m_size):
    """The dense CPU forward sweeps strips of STRIP rows by anti-diagonals: lengths that end inside
    a strip, N < M and N > M, and several strips per utterance must give the textbook value."""
    from espnet_pise.losses import _sdtw_cpu

    rng = np.random.default_rng(m_size)
    B, N, D = 2, 2 * _sdtw_cpu.STRIP + 22, 3
    x, y = rng.normal(size=(B, N, D)), rng.normal(size=(B, m_size, D))
    xl, yl = np.array([N, N - 40]), np.array([m_size, m_size - 9])
    for gamma in (0.1, 1.0):
        got = soft_dtw(torch.tensor(x), torch.tensor(y), torch.tensor(xl), torch.tensor(yl), gamma=gamma)
        for b in range(B):
            want = brute_soft_dtw(x[b, : xl[b]], y[b, : yl[b]], gamma)
            assert abs(got[b].item() - want) <= 1e-9 * abs(want), (gamma, b, got[b].item(), want)


def test_float32_agrees_with_float64():
    """float32 runs its own SIMD polynomial (fewer terms): values and gradients match float64."""
    torch.manual_seed(1)
    x64, y64 = 0.3 * torch.randn(3, 150, 16, dtype=torch.float64), 0.3 * torch.randn(3, 170, 16, dtype=torch.float64)
    lens = torch.tensor([150, 120, 77]), torch.tensor([170, 170, 90])
    grads = []
    for dt in (torch.float64, torch.float32):
        x, y = x64.to(dt).detach().requires_grad_(), y64.to(dt).detach().requires_grad_()
        v = soft_dtw(x, y, *lens, gamma=0.1)
        v.sum().backward()
        grads.append((v.detach().double(), x.grad.double(), y.grad.double()))
    (v64, gx64, gy64), (v32, gx32, gy32) = grads
    assert torch.allclose(v32, v64, rtol=1e-5)
    assert torch.allclose(gx32, gx64, rtol=1e-3, atol=1e-4 * gx64.abs().max().item())
    assert torch.allclose(gy32, gy64, rtol=1e-3, atol=1e-4 * gy64.abs().max().item())


def test_band_is_widened_only_when_needed():
    # m >> n: a radius-1 band around the diagonal leaves gaps; rows are extended to connect
    lo, hi = band_limits(np.array([4]), np.array([20]), 4, 1)
    assert lo[0, 0] == 0 and hi[0, -1] == 19
    assert all(lo[0, i + 1] <= hi[0, i] + 1 for i in range(3))
    x, y = torch.randn(1, 4, 3, dtype=torch.float64), torch.randn(1, 20, 3, dtype=torch.float64)
    assert torch.isfinite(soft_dtw(x, y, bandwidth=1)).all()
    # n == m: the band is exactly the definition, radius 0 is the diagonal path
    lo, hi = band_limits(np.array([6]), np.array([6]), 6, 0)
    assert (lo[0] == np.arange(6)).all() and (hi[0] == np.arange(6)).all()
    x = torch.randn(1, 6, 2, dtype=torch.float64)
    y = torch.randn(1, 6, 2, dtype=torch.float64)
    assert soft_dtw(x, y, bandwidth=0).item() == pytest.approx(((x - y) ** 2).sum().item())


def test_padding_is_ignored():
    x, y = torch.randn(2, 9, 4, dtype=torch.float64), torch.randn(2, 7, 4, dtype=torch.float64)
    xl, yl = torch.tensor([9, 5]), torch.tensor([7, 4])
    a = soft_dtw(x, y, xl, yl)
    x2, y2 = x.clone(), y.clone()
    x2[1, 5:] = 1e3
    y2[1, 4:] = -1e3
    assert torch.allclose(a, soft_dtw(x2, y2, xl, yl))
    single = soft_dtw(x[1:, :5], y[1:, :4])
    assert a[1].item() == pytest.approx(single.item(), abs=1e-10)


@pytest.mark.parametrize("bandwidth", [None, 1])
@pytest.mark.parametrize("normalize", [False, True])
@pytest.mark.parametrize("grad_path", ["dense", "sparse"])
def test_gradcheck(bandwidth, normalize, grad_path, monkeypatch):
    # the CPU gradient loops over the non-zero alignment cells below a density threshold and uses
    # two matrix products above it: pin the threshold so that each path meets finite differences
    monkeypatch.setattr(soft_dtw_module, "SPARSE_GRAD_DENSITY", 0.0 if grad_path == "dense" else 2.0)
    torch.manual_seed(0)
    x = torch.randn(3, 6, 3, dtype=torch.float64, requires_grad=True)
    y = torch.randn(3, 8, 3, dtype=torch.float64, requires_grad=True)
    xl, yl = torch.tensor([6, 4, 5]), torch.tensor([8, 8, 3])
    fn = lambda a, b: soft_dtw(a, b, xl, yl, gamma=0.5, bandwidth=bandwidth, normalize=normalize)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (x, y), eps=1e-6, atol=1e-5)


def test_gradient_zero_beyond_lengths():
    x = torch.randn(2, 6, 3, requires_grad=True)
    y = torch.randn(2, 5, 3, requires_grad=True)
    soft_dtw(x, y, torch.tensor([6, 3]), torch.tensor([5, 2])).sum().backward()
    assert (x.grad[1, 3:] == 0).all() and (y.grad[1, 2:] == 0).all()
    assert (x.grad[1, :3] != 0).any()


def test_normalized_divergence():
    torch.manual_seed(1)
    x = torch.randn(2, 10, 4, dtype=torch.float64)
    y = torch.randn(2, 12, 4, dtype=torch.float64)
    assert torch.allclose(soft_dtw(x, x.clone(), normalize=True), torch.zeros(2, dtype=torch.float64), atol=1e-9)
    assert (soft_dtw(x, y, normalize=True) > 0).all()
    # a time-stretched copy is much closer than an unrelated sequence
    stretched = x.repeat_interleave(2, dim=1)
    assert (soft_dtw(x, stretched, normalize=True) < 0.1 * soft_dtw(x, y[:, :10], normalize=True)).all()


def test_small_gamma_approaches_hard_dtw():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(1, 8, 2)), rng.normal(size=(1, 11, 2))
    hard = brute_soft_dtw(x[0], y[0], 0.0)
    errs = [abs(soft_dtw(torch.tensor(x), torch.tensor(y), gamma=g).item() - hard) for g in (1.0, 0.1, 0.01, 0.001)]
    assert errs[0] > errs[1] >= errs[2] >= errs[3] and errs[-1] < 1e-6


@pytest.mark.parametrize("gamma", [1.0, 0.01, 0.001])
def test_finite_for_long_inputs_and_small_gamma(gamma):
    torch.manual_seed(0)
    x = (3 * torch.randn(1, 2000, 8)).requires_grad_()
    y = (3 * torch.randn(1, 1900, 8)).requires_grad_()
    v = soft_dtw(x, y, gamma=gamma, normalize=True)
    v.sum().backward()
    assert torch.isfinite(v).all() and torch.isfinite(x.grad).all() and torch.isfinite(y.grad).all()


def test_second_backward_recomputes_table():
    x = torch.randn(2, 5, 3, dtype=torch.float64, requires_grad=True)
    y = torch.randn(2, 4, 3, dtype=torch.float64)
    v = soft_dtw(x, y).sum()
    (g1,) = torch.autograd.grad(v, x, retain_graph=True)
    (g2,) = torch.autograd.grad(v, x)
    assert torch.equal(g1, g2)


def test_bad_input_is_rejected():
    x, y = torch.randn(2, 5, 3), torch.randn(2, 4, 3)
    with pytest.raises(ValueError, match="gamma"):
        soft_dtw(x, y, gamma=0.0)
    with pytest.raises(ValueError, match="x_lens"):
        soft_dtw(x, y, x_lens=torch.tensor([6, 2]))
    with pytest.raises(ValueError, match="feature sizes"):
        soft_dtw(x, torch.randn(2, 4, 2))
    with pytest.raises(ValueError, match="bandwidth"):
        soft_dtw(x, y, bandwidth=-1)


def test_cuda_kernels_match_cpu_in_triton_interpreter():
    """The Triton (CUDA) kernels, run on CPU tensors by Triton's interpreter, match the CPU path."""
    script = textwrap.dedent(
        """
        import numpy as np, torch
        import triton.runtime.interpreter as ti
        _orig = ti._patch_lang_tensor
        def _patched(tensor):  # numpy >= 2.4 refuses int() of 1-element arrays in the interpreter
            _orig(tensor)
            tensor.__index__ = lambda self: int(np.asarray(self.handle.data).reshape(-1)[0])
        ti._patch_lang_tensor = _patched
        from espnet_pise.losses import _sdtw_cuda
        from espnet_pise.losses.soft_dtw import band_limits, soft_dtw
        _sdtw_cuda.BLOCK = 4  # diagonals longer than a block: exercises the chunk loop
        torch.manual_seed(0)
        x = torch.randn(3, 7, 4, dtype=torch.float64); y = torch.randn(3, 9, 4, dtype=torch.float64)
        nl, ml = np.array([7, 5, 3]), np.array([9, 4, 8])
        for band in (None, 1):
            lo, hi = band_limits(nl, ml, 7, band)
            out, table = _sdtw_cuda.forward(x, y, nl, ml, lo, hi, 0.3)
            xr = x.clone().requires_grad_()
            want = soft_dtw(xr, y, torch.tensor(nl), torch.tensor(ml), gamma=0.3, bandwidth=band)
            want.sum().backward()
            align = _sdtw_cuda.backward(table, x, y, nl, ml, lo, hi, 0.3)
            gx = 2.0 * (x * align.sum(2, keepdim=True) - torch.bmm(align, y))
            assert torch.allclose(out, want.detach(), atol=1e-9), (out, want)
            assert torch.allclose(gx, xr.grad, atol=1e-9)
        print("OK")
        """
    )
    env = {**os.environ, "TRITON_INTERPRET": "1"}
    res = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0 and "OK" in res.stdout, res.stderr[-3000:]


def test_empty_and_non_finite_sequences_are_refused():
    x, y = torch.randn(2, 5, 3), torch.randn(2, 4, 3)
    with pytest.raises(ValueError, match=r"soft_dtw needs at least one frame per sequence; got x \(2, 0, 3\)"):
        soft_dtw(torch.randn(2, 0, 3), y)
    y[1, 2, 0] = float("nan")
    with pytest.raises(ValueError, match=r"soft_dtw: y has NaN/Inf values in batch items \[1\]"):
        soft_dtw(x, y)
