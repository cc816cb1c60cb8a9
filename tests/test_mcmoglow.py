"""McMoGlow's matrix-affine coupling: bijection contract, exact reduction to MoGlow's
affine coupling, conditioning bound, and the model switch ``coupling: matrix``."""
from __future__ import annotations

import pytest
import torch

from mcmoglow import (MatrixAffineTransform, condition_numbers, mixing_condition_bound, model_condition_stats,
                      num_offdiag)
from mcmoglow.triangle import FoldedTriangle
from moglow.flows.checks import check_bijection, perturb_parameters
from moglow.flows.coupling import Coupling
from moglow.flows.transforms import AffineTransform, get_transform
from moglow.model import MoGlow
from moglow.model_config import ModelConfig

F64 = torch.float64


def _with_zero_offdiag(params: torch.Tensor, d: int) -> torch.Tensor:
    p = params.clone()
    p[..., 2 * d:] = 0
    return p


# ---- registry and layout ---------------------------------------------------------------------
def test_registry_and_parameter_counts():
    t = get_transform("matrix", variant="lower", scale="exp")
    assert isinstance(t, MatrixAffineTransform) and t.variant == "lower" and t.diagonal.scale == "exp"
    ldu, lower = MatrixAffineTransform("ldu"), MatrixAffineTransform("lower")
    # pose dim 63 -> 32 transformed features: 1056 (ldu) and 560 (lower) vs affine 64
    assert ldu.num_params(32) == 32 * 32 + 32 == 1056 and lower.num_params(32) == 64 + num_offdiag(32) == 560
    for t in (ldu, lower):
        for d in (1, 2, 3, 7, 32):
            assert t.dim_from_params(t.num_params(d)) == d
    with pytest.raises(ValueError, match="not a parameter count"):
        ldu.dim_from_params(31)
    with pytest.raises(ValueError, match="variant"):
        MatrixAffineTransform("upper")
    with pytest.raises(ValueError, match="expected 30 params"):
        ldu(torch.zeros(2, 5), torch.zeros(2, 20))


@pytest.mark.parametrize("d", [2, 3, 4, 7, 8, 32])
def test_folded_triangle_layout_is_a_strictly_lower_matrix(d):
    tri = FoldedTriangle(d)
    m = num_offdiag(d)
    x = torch.randn(2, m, dtype=F64)
    r = tri.rect(x)
    dense = tri.dense(r)
    assert torch.equal(dense.triu(), torch.zeros_like(dense))
    # every packed entry lands on its own strictly-lower position
    assert torch.equal(dense[:, tri.rows, tri.cols], x)
    pos = set(zip(tri.rows.tolist(), tri.cols.tolist()))
    assert pos == {(i, j) for i in range(d) for j in range(i)}
    v = torch.randn(2, d, dtype=F64)
    assert torch.allclose(tri.matvec(r, v), (dense @ v.unsqueeze(-1)).squeeze(-1), atol=1e-12)
    assert torch.allclose(tri.row_l1(r), dense.abs().sum(-1), atol=1e-12)


@pytest.mark.parametrize("D", [2, 3])
def test_smallest_couplings(D):
    """d = 1 (no off-diagonals) and d = 2 (one entry per triangle)."""
    x, cond = torch.randn(3, 4, D, dtype=F64), torch.randn(3, 4, 2, dtype=F64)

    def make():
        torch.manual_seed(10)
        return Coupling(D, 2, net="mlp", hidden=8, num_layers=1, transform="matrix").double()

    check_bijection(make, x, cond, perturb=0.3)


# ---- exact reduction to MoGlow's coupling --------------------------------------------------------
@pytest.mark.parametrize("variant", ["ldu", "lower"])
@pytest.mark.parametrize("scale", ["sigmoid", "exp"])
def test_zero_offdiagonals_equal_affine_transform(variant, scale):
    g = torch.Generator().manual_seed(1)
    d = 6
    t, aff = MatrixAffineTransform(variant, scale=scale), AffineTransform(scale=scale)
    x = torch.randn(4, 9, d, generator=g, dtype=F64)
    params = _with_zero_offdiag(2 * torch.randn(4, 9, t.num_params(d), generator=g, dtype=F64), d)
    y, ld = t(x, params)
    y_ref, ld_ref = aff(x, params[..., : 2 * d])
    assert torch.equal(y, y_ref) and torch.equal(ld, ld_ref)
    x_back, ld_inv = t.inverse(y, params)
    x_ref, ld_inv_ref = aff.inverse(y, params[..., : 2 * d])
    assert torch.allclose(x_back, x_ref, atol=1e-12) and torch.equal(ld_inv, ld_inv_ref)


@pytest.mark.parametrize("net", ["lstm", "mlp"])
def test_coupling_with_zero_offdiagonal_outputs_equals_affine_coupling(net):
    """Same network weights, the off-diagonal rows of the output layer forced to zero:
    McMoGlow's coupling must give MoGlow's output and log-det (also away from init)."""
    torch.manual_seed(0)
    D, C = 7, 5
    d = D - D // 2
    aff = Coupling(D, C, net=net, hidden=16, num_layers=2, transform="affine").double()
    perturb_parameters(aff, 0.3)  # non-zero shift and scale
    mat = Coupling(D, C, net=net, hidden=16, num_layers=2, transform="matrix").double()
    state = aff.state_dict()
    for name in ("net.output_layer.weight", "net.output_layer.bias"):
        padded = torch.zeros_like(mat.state_dict()[name])
        padded[: 2 * d] = state[name]
        state[name] = padded
    mat.load_state_dict(state)
    x, cond = torch.randn(3, 8, D, dtype=F64), torch.randn(3, 8, C, dtype=F64)
    z_a, ld_a = aff(x, cond)
    z_m, ld_m = mat(x, cond)
    assert ld_a.abs().max() > 0.1  # the scale is really active
    assert torch.allclose(z_m, z_a, atol=1e-12) and torch.allclose(ld_m, ld_a, atol=1e-12)
    # and the off-diagonals matter once they are non-zero
    with torch.no_grad():
        mat.net.output_layer.bias[2 * d:] = 0.5
    assert (mat(x, cond)[0] - z_a).abs().max() > 1e-2


# ---- the map itself ------------------------------------------------------------------------------
@pytest.mark.parametrize("variant", ["ldu", "lower"])
def test_forward_is_the_matrix_times_shifted_input(variant):
    g = torch.Generator().manual_seed(2)
    d = 5
    t = MatrixAffineTransform(variant)
    x = torch.randn(6, d, generator=g, dtype=F64)
    params = 3 * torch.randn(6, t.num_params(d), generator=g, dtype=F64)
    a = t.matrix(params, d)
    y, ld = t(x, params)
    assert torch.allclose(y, (a @ (x + params[:, :d]).unsqueeze(-1)).squeeze(-1), atol=1e-12)
    assert torch.allclose(ld, torch.linalg.slogdet(a)[1], atol=1e-12)
    _, _, _, n_lo, n_up = t.factors(params, d)
    assert torch.equal(n_lo.triu(), torch.zeros_like(n_lo)) and n_lo.abs().max() > 0.1
    if variant == "lower":
        assert n_up is None and torch.equal(a.triu(1), torch.zeros_like(a))
    else:
        assert torch.equal(n_up.tril(), torch.zeros_like(n_up)) and n_up.abs().max() > 0.1
    x_back, ld_inv = t.inverse(y, params)
    assert torch.allclose(x_back, x, atol=1e-10) and torch.allclose(ld_inv, -ld, atol=1e-12)


@pytest.mark.parametrize("variant", ["ldu", "lower"])
@pytest.mark.parametrize("d", [1, 2, 5, 32, 33])
def test_sampling_inverse_equals_the_inverse(variant, d):
    """``inverse_sample`` (what the frame decoder runs) is ``inverse``'s x2 in float64 to 1e-12, for
    off-diagonal rows far inside, at and far beyond the clamp (row norms 1e-9 .. 1e3), and for
    an all-zero triangle."""
    g = torch.Generator().manual_seed(3)
    t = MatrixAffineTransform(variant)
    y = torch.randn(8, d, generator=g, dtype=F64)
    params = torch.randn(8, t.num_params(d), generator=g, dtype=F64)
    params[:, 2 * d:] *= torch.logspace(-9, 3, 8, dtype=F64).unsqueeze(-1)  # one scale per row
    params[0, 2 * d:] = 0
    torch.testing.assert_close(t.inverse_sample(y, params), t.inverse(y, params)[0], rtol=0, atol=1e-12)
    x = t.inverse_sample(y, params)
    torch.testing.assert_close(t(x, params)[0], y, rtol=0, atol=1e-9)  # and it inverts the forward


@pytest.mark.parametrize("variant", ["ldu", "lower"])
@pytest.mark.parametrize("net", ["lstm", "mlp"])
def test_coupling_passes_bijection_checks(variant, net):
    torch.manual_seed(3)
    D, C = 7, 3
    x, cond = torch.randn(2, 4, D, dtype=F64), torch.randn(2, 4, C, dtype=F64)

    def make():
        torch.manual_seed(4)
        return Coupling(D, C, net=net, hidden=12, num_layers=2, transform="matrix",
                        transform_options={"variant": variant}).double()

    check_bijection(make, x, cond, perturb=0.3)


def test_recurrent_coupling_frame_by_frame_equals_whole_sequence():
    torch.manual_seed(5)
    c = Coupling(6, 2, net="lstm", hidden=8, num_layers=1, transform="matrix").double()
    perturb_parameters(c, 0.3)
    x, cond = torch.randn(2, 5, 6, dtype=F64), torch.randn(2, 5, 2, dtype=F64)
    z_all, ld_all, _ = c.forward_stateful(x, cond, None)
    state, zs = None, []
    for t in range(5):
        z, _, state = c.forward_stateful(x[:, t: t + 1], cond[:, t: t + 1], state)
        zs.append(z)
    assert torch.allclose(torch.cat(zs, 1), z_all, atol=1e-12)


# ---- conditioning --------------------------------------------------------------------------------
@pytest.mark.parametrize("variant", ["ldu", "lower"])
def test_condition_number_bound_holds_for_huge_outputs(variant):
    g = torch.Generator().manual_seed(6)
    d = 8
    t = MatrixAffineTransform(variant, offdiag_bound=1.0)
    params = 100 * torch.randn(200, t.num_params(d), generator=g, dtype=F64)
    params[:, : 2 * d] = 0  # D = const * I: cond(A) is the off-diagonal factor alone
    _, s, _, n_lo, n_up = t.factors(params, d)
    for n in (n_lo, n_up) if n_up is not None else (n_lo,):
        row = n.abs().sum(-1)
        assert row.max() <= 1.0 + 1e-12 and row.max() > 0.99  # saturated soft clamp, never above rho
    a = t.matrix(params, d)
    cond_inf = torch.linalg.matrix_norm(a, ord=float("inf")) * torch.linalg.matrix_norm(
        torch.linalg.inv(a), ord=float("inf"))
    bound = mixing_condition_bound(d, variant, 1.0)
    assert cond_inf.max() <= bound * (1 + 1e-9)
    c2 = condition_numbers(t, params)
    assert torch.isfinite(c2).all() and c2.max() <= d * bound
    assert c2.max() > 2  # the matrices really mix
    # zero off-diagonals and equal scales: perfectly conditioned
    assert torch.allclose(condition_numbers(t, torch.zeros(3, t.num_params(d))), torch.ones(3, dtype=F64))


def test_bound_formula():
    assert mixing_condition_bound(32, "ldu", 1.0) == 64.0 ** 2
    assert mixing_condition_bound(32, "lower", 1.0) == 64.0
    assert mixing_condition_bound(4, "lower", 0.5) == pytest.approx(1.5 * (1 + 0.5 + 0.25 + 0.125))


# ---- the model switch --------------------------------------------------------------------------
def _batch(B=3, T=6, tau=3, D=7, C=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {"poses": torch.randn(B, tau + T, D, generator=g), "control": torch.randn(B, tau + T, C, generator=g)}


def test_moglow_with_matrix_coupling_starts_as_moglow_and_inverts():
    torch.manual_seed(7)
    kw = dict(num_steps=2, hidden=16, num_layers=1, tau=3)
    moglow = MoGlow(ModelConfig(coupling="affine", **kw), pose_dim=7, control_dim=3).double()
    perturb_parameters(moglow, 0.05)
    mc = MoGlow(ModelConfig(coupling="matrix", **kw), pose_dim=7, control_dim=3).double()
    state = moglow.state_dict()
    d = 7 - 7 // 2
    for name, value in mc.state_dict().items():
        if "output_layer" in name:
            padded = torch.zeros_like(value)
            padded[: 2 * d] = state[name]
            state[name] = padded
    mc.load_state_dict(state)
    batch = {k: v.double() for k, v in _batch().items()}
    assert torch.allclose(mc.log_prob(batch), moglow.log_prob(batch), atol=1e-10)
    assert mc.num_parameters() > moglow.num_parameters()

    perturb_parameters(mc, 0.05, seed=1)
    cond = mc.condition(batch["poses"], batch["control"])
    x = batch["poses"][:, 3:]
    z, _, _ = mc.latents(x, cond)
    x_back, _ = mc.decode(z, cond)
    assert torch.allclose(x_back, x, atol=1e-9)
    stats = model_condition_stats(mc, batch)
    assert set(stats) >= {"cond_max", "cond_median", "cond_diag_max", "offdiag_row_l1_max"}
    assert 1.0 <= stats["cond_median"] <= stats["cond_max"] < float("inf")
    assert model_condition_stats(moglow, batch) == {}


def test_training_keeps_matrices_well_conditioned_and_beats_elementwise_on_correlated_data():
    """A few Adam steps at a high learning rate on strongly correlated data: the loss falls
    below the elementwise coupling's, and cond(A) stays finite and inside the bound."""
    g = torch.Generator().manual_seed(8)
    d = 4
    mix = torch.linalg.qr(torch.randn(d, d, generator=g))[0] * torch.tensor([3.0, 1.0, 0.3, 0.1])
    data = torch.randn(512, d, generator=g) @ mix.T

    def fit(transform: str) -> tuple[float, Coupling]:
        torch.manual_seed(9)
        c = Coupling(2 * d, 0, net="mlp", hidden=16, num_layers=1, transform=transform,
                     transform_options={"scale": "exp"})
        opt = torch.optim.Adam(c.parameters(), lr=3e-2)
        x = torch.cat([torch.zeros(512, d), data], -1)  # x1 uninformative: the matrix must model x2 alone
        for _ in range(150):
            z, ld = c(x)
            loss = (0.5 * z[:, d:].pow(2).sum(-1) - ld).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        return float(loss.detach()), c

    loss_aff, _ = fit("affine")
    loss_mat, c = fit("matrix")
    # Gaussian optimum: -0.41 nats (full covariance) vs 3.36 (diagonal only); measured -0.18 vs 3.38
    assert loss_mat < loss_aff - 2.0, (loss_mat, loss_aff)
    params, _ = c.net(torch.zeros(16, d))
    cond = condition_numbers(c.transform, params)
    assert torch.isfinite(cond).all()
    s = c.transform.factors(params.double(), d)[1]
    assert (cond <= d * (s.amax(-1) / s.amin(-1)) * mixing_condition_bound(d)).all()
    assert cond.max() > 1.5  # it did learn to mix


def test_trainer_logs_condition_numbers_of_matrix_couplings_only(tmp_path):
    import dataclasses

    from moglow.logging_utils import read_csv
    from moglow.train import Trainer
    from train_testutils import SyntheticData, tiny_config

    for coupling in ("matrix", "affine"):
        cfg = tiny_config(steps=6, val_every=3)
        cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, coupling=coupling))
        Trainer(cfg, SyntheticData(), tmp_path / coupling, progress=False).fit()
        rows = read_csv(tmp_path / coupling / "losses.csv")
        val_rows = [r for r in rows if r["val_nats_per_frame"]]
        assert len(val_rows) == 2
        for r in rows:
            if coupling == "matrix" and r in val_rows:
                assert 1.0 <= float(r["cond_median"]) <= float(r["cond_max"]) < 1e4
                assert 0.0 <= float(r["offdiag_row_l1_max"]) <= 1.0
            elif coupling == "matrix":
                assert r["cond_max"] == r["cond_median"] == r["offdiag_row_l1_max"] == ""
            else:  # MoGlow's affine family reports no diagnostics: no such columns
                assert "cond_max" not in r
