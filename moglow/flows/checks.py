"""Reusable correctness checks that every bijection in the project must pass.

Used by the test-suite for MoGlow's parts, McMoGlow's matrix coupling and the baselines'
bijections alike. All checks run in float64 at random (not identity) parameters.

Example::

    >>> from moglow.flows.linear import LULinear
    >>> bijection = check_bijection(lambda: LULinear(4).double(), torch.randn(3, 4, dtype=torch.float64))
    >>> type(bijection).__name__                  # passed every check (a failure raises AssertionError)
    'LULinear'
"""
from __future__ import annotations

import io
from collections.abc import Callable

import torch
from torch import Tensor

from moglow.flows.base import Bijection


@torch.no_grad()
def perturb_parameters(module: torch.nn.Module, scale: float = 0.1, seed: int = 0) -> None:
    """Add N(0, scale²) noise to every floating-point parameter, so that zero-initialised
    output layers and identity initialisations do not hide bugs."""
    g = torch.Generator().manual_seed(seed)
    for p in module.parameters():
        if p.dtype.is_floating_point:
            p.add_(torch.randn(p.shape, generator=g, dtype=p.dtype) * scale)


def _log_abs_det_per_example(fn: Callable[[Tensor], Tensor], x: Tensor) -> tuple[Tensor, Tensor]:
    """log|det J| of each example's own block of the Jacobian of ``fn`` at ``x`` (batch on
    axis 0; everything else, time included, is one example), and the largest entry of any
    block that couples different examples (which must be 0)."""
    b = x.shape[0]
    jac = torch.autograd.functional.jacobian(lambda v: fn(v).reshape(b, -1), x)
    jac = jac.reshape(b, -1, b, x[0].numel())
    blocks = torch.stack([jac[i, :, i, :] for i in range(b)])
    cross = jac.clone()
    for i in range(b):
        cross[i, :, i, :] = 0
    return torch.linalg.slogdet(blocks)[1], cross.abs().max()


def check_bijection(
    make: Callable[[], Bijection],
    x: Tensor,
    cond: Tensor | None = None,
    *,
    atol: float = 1e-8,
    perturb: float = 0.1,
    check_params: bool = True,
) -> Bijection:
    """Assert the contract of :class:`Bijection` for the module built by ``make``.

    Args:
        make: builds a fresh float64 bijection (called twice: once to test, once to load
            the saved state into).
        x: float64 input, batch on axis 0 (``(B, D)``, ``(B, T, D)`` or ``(B, C, H, W)``).
        cond: optional condition, batch on axis 0.
        atol: tolerance of every comparison.
        perturb: std of the noise added to every parameter before checking.
        check_params: require every parameter to receive a non-zero gradient.

    Checks: inverse(forward(x)) == x (and ``decode_stateful`` gives the inverse's x); forward and
    inverse log-dets sum to 0; the log-det
    equals log|det| of the autograd Jacobian (per example, summed over time for sequences)
    and examples do not mix; every parameter gets a gradient; a save/load round trip gives
    the same output and log-det. Returns the checked module.
    """
    assert x.dtype == torch.float64, "run bijection checks in float64"
    bij = make()
    # First call may run data-dependent initialisation (ActNorm); do it before perturbing.
    bij.forward(x, cond)
    perturb_parameters(bij, perturb)

    z, logdet = bij.forward(x, cond)
    assert z.shape == x.shape, f"forward changed the shape {tuple(x.shape)} -> {tuple(z.shape)}"
    assert torch.isfinite(z).all() and torch.isfinite(logdet).all(), "non-finite output"
    x_back, logdet_inv = bij.inverse(z, cond)
    err = (x_back - x).abs().max().item()
    assert err < atol * max(1.0, x.abs().max().item()), f"inverse(forward(x)) != x (max error {err:.3g})"
    ld_err = (logdet + logdet_inv).abs().max().item()
    assert ld_err < atol * max(1.0, logdet.abs().max().item()), f"forward + inverse log-det != 0 ({ld_err:.3g})"
    x_decoded, _ = bij.decode_stateful(z, cond, None)
    assert torch.equal(x_decoded, bij.inverse_stateful(z, cond, None)[0]), "decode_stateful != inverse_stateful"

    example_logdet = logdet.reshape(x.shape[0], -1).sum(1)
    jac_logdet, cross = _log_abs_det_per_example(lambda v: bij.forward(v, cond)[0], x)
    jerr = (jac_logdet - example_logdet).abs().max().item()
    assert jerr < max(atol, 1e-7) * max(1.0, jac_logdet.abs().max().item()), (
        f"log-det differs from the autograd Jacobian: {example_logdet.tolist()} vs {jac_logdet.tolist()}")
    assert cross.item() < 1e-10, f"examples in a batch influence each other (|dz_i/dx_j| up to {cross.item():.3g})"

    if check_params:
        bij.zero_grad()
        z, logdet = bij.forward(x, cond)
        (0.5 * z.pow(2).sum() - logdet.sum()).backward()
        missing = [n for n, p in bij.named_parameters()
                   if p.requires_grad and (p.grad is None or p.grad.abs().max() == 0)]
        assert not missing, f"parameters without gradient: {missing}"

    buf = io.BytesIO()
    torch.save(bij.state_dict(), buf)
    buf.seek(0)
    fresh = make()
    fresh.load_state_dict(torch.load(buf, weights_only=True))
    z2, logdet2 = fresh.forward(x, cond)
    assert torch.allclose(z2, z, atol=atol) and torch.allclose(logdet2, logdet, atol=atol), (
        "save/load changed the output (is some state, e.g. ActNorm's initialised flag, not a buffer?)")
    return bij
