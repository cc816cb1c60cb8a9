"""The MoGlow model: condition layout, one-call vs frame-by-frame likelihood, sampling then
scoring, the two LSTM formulations, styles, gradients, config validation and units."""
from __future__ import annotations

import math

import pytest
import torch

from data_pipeline.typed_config import ConfigError, from_dict
from moglow.flows.checks import perturb_parameters
from moglow.model import MoGlow
from moglow.model_config import ModelConfig
from moglow.units import bits_to_nats, format_nll, nats_to_bits

DT = torch.float64
D, C = 5, 2


def make_model(seed: int = 0, **cfg) -> MoGlow:
    """A small float64 MoGlow at random (initialised, then perturbed) parameters."""
    torch.manual_seed(seed)
    options = dict(num_steps=3, hidden=8, num_layers=2, tau=3)
    options.update(cfg)
    model = MoGlow(ModelConfig(**options), D, C, num_styles=3 if options.get("style_embedding") else 0).to(DT)
    model.log_prob(make_batch(model, B=4, T=6, seed=99))  # data-dependent ActNorm initialisation
    perturb_parameters(model, 0.1, seed)
    return model


def make_batch(model: MoGlow, B: int = 2, T: int = 7, seed: int = 0, style=None) -> dict:
    g = torch.Generator().manual_seed(seed)
    tau, la = model.tau, model.lookahead
    batch = {"poses": torch.randn(B, tau + T, D, generator=g, dtype=DT),
             "control": torch.randn(B, tau + T + la, C, generator=g, dtype=DT)}
    if style is not None:
        batch["style"] = torch.as_tensor(style)
    return batch


def test_condition_layout_matches_a_frame_loop():
    model = make_model(tau=3, lookahead=2)
    batch = make_batch(model, B=2, T=4)
    keep = torch.rand(2, 4, 3, generator=torch.Generator().manual_seed(1)) > 0.4
    cond = model.condition(batch["poses"], batch["control"], keep)
    assert cond.shape == (2, 4, model.cond_dim) and model.cond_dim == 3 * D + (3 + 1 + 2) * C
    for t in range(4):
        prev = batch["poses"][:, t: t + 3] * keep[:, t].unsqueeze(-1)  # frames t..t+2 precede target 3+t
        ctrl = batch["control"][:, t: t + 3 + 1 + 2]  # frames (3+t)-3 .. (3+t)+2
        torch.testing.assert_close(cond[:, t], torch.cat([prev.reshape(2, -1), ctrl.reshape(2, -1)], -1))


@pytest.mark.parametrize("cfg", [dict(), dict(lstm_impl="stepwise"), dict(net="gru"), dict(net="mlp"),
                                 dict(coupling="additive", base="student_t"), dict(scale="exp", lookahead=1),
                                 dict(style_embedding=2)],
                         ids=["lstm-fused", "lstm-stepwise", "gru", "mlp", "additive-studentt", "exp-lookahead",
                              "style"])
def test_one_call_equals_frame_by_frame(cfg):
    model = make_model(**cfg)
    style = [0, 2] if cfg.get("style_embedding") else None
    batch = make_batch(model, style=style)
    logp = model.log_prob(batch)
    assert logp.shape == (2, 7)
    cond = model.condition(batch["poses"], batch["control"], None, batch.get("style"))
    x = batch["poses"][:, model.tau:]
    logp_call, _ = model.log_prob_stateful(x, cond)
    torch.testing.assert_close(logp_call, logp, rtol=0, atol=1e-10)
    state, frames = None, []
    for t in range(x.shape[1]):
        lp, state = model.log_prob_stateful(x[:, t: t + 1], cond[:, t: t + 1], state)
        frames.append(lp)
    assert (torch.cat(frames, 1) - logp).abs().max().item() < 1e-5
    # and the generic Compose path of the same flow agrees
    z, logdet, _ = model.flow.forward_stateful(x, cond, None)
    torch.testing.assert_close(model.base.log_prob(z) + logdet, logp, rtol=0, atol=1e-10)


def test_lstm_formulations_give_the_same_model():
    fused = make_model(seed=3)
    stepwise = MoGlow(ModelConfig(num_steps=3, hidden=8, num_layers=2, tau=3, lstm_impl="stepwise"), D, C).to(DT)
    stepwise.load_state_dict(fused.state_dict())
    batch = make_batch(fused)
    torch.testing.assert_close(stepwise.log_prob(batch), fused.log_prob(batch), rtol=0, atol=1e-10)


@pytest.mark.parametrize("impl", ["fused", "stepwise"])
def test_sample_frame_by_frame_then_score_reproduces_latents(impl):
    model = make_model(seed=1, lstm_impl=impl).eval()
    batch = make_batch(model, B=3, T=6, seed=2)
    context, control = batch["poses"][:, : model.tau], batch["control"]
    x = model.generate(context, control, temperature=0.7, generator=torch.Generator().manual_seed(5))
    assert x.shape == (3, 6, D) and torch.isfinite(x).all()
    # the latents the sampler drew, frame by frame, with the same generator
    g = torch.Generator().manual_seed(5)
    z_drawn = torch.cat([model.base.sample((3, 1), 0.7, g) for _ in range(6)], 1)
    poses = torch.cat([context, x], 1)
    cond = model.condition(poses, control)
    z, logdet, _ = model.latents(x, cond)
    assert (z - z_drawn).abs().max().item() < 1e-8
    logp = model.log_prob({"poses": poses, "control": control})
    torch.testing.assert_close(logp, model.base.log_prob(z_drawn) + logdet, rtol=0, atol=1e-8)


@pytest.mark.parametrize("impl", ["fused", "stepwise"])
def test_flow_is_the_compose_of_its_steps(impl):
    """MoGlow runs its Compose of glow steps with each coupling's share of the condition computed
    for all couplings in one product (stepwise LSTMs: a PerPart of ProjectedCondition) or with the
    raw condition (fused); either is the Compose's own map with the condition handed to every part."""
    from moglow.flows.base import PerPart

    model = make_model(seed=7, lstm_impl=impl).eval()
    batch = make_batch(model, B=3, T=5, seed=3)
    x, cond = batch["poses"][:, model.tau:], model.condition(batch["poses"], batch["control"])
    assert isinstance(model._flow_condition(cond), PerPart) == (impl == "stepwise")
    z, logdet, state = model.latents(x, cond)
    z_ref, logdet_ref, state_ref = model.flow.forward_stateful(x, cond, None)
    torch.testing.assert_close(z, z_ref, rtol=0, atol=1e-12)
    torch.testing.assert_close(logdet, logdet_ref, rtol=0, atol=1e-12)
    torch.testing.assert_close(state[-1][2], state_ref[-1][2], rtol=0, atol=1e-12)
    x_back, _ = model.decode(z, cond)
    torch.testing.assert_close(x_back, model.flow.inverse_stateful(z, cond, None)[0], rtol=0, atol=1e-12)
    torch.testing.assert_close(x_back, x, rtol=0, atol=1e-9)


def test_temperature_zero_is_deterministic_and_decodes_zero_latent():
    model = make_model(seed=4).eval()
    batch = make_batch(model, B=2, T=4)
    context, control = batch["poses"][:, : model.tau], batch["control"]
    a = model.generate(context, control, temperature=0.0)
    b = model.generate(context, control, temperature=0.0)
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    z, _, _ = model.latents(a, model.condition(torch.cat([context, a], 1), control))
    assert z.abs().max().item() < 1e-9


def test_sample_stateful_shapes_and_state_matter():
    model = make_model(seed=5).eval()
    cond = torch.randn(2, 1, model.cond_dim, dtype=DT)
    x0, state = model.sample_stateful(cond, None, temperature=0.0)
    assert x0.shape == (2, 1, D)
    x1, _ = model.sample_stateful(cond, state, temperature=0.0)
    assert (x1 - x0).abs().max() > 1e-6  # the LSTM memory changes the next frame


def test_style_embedding_changes_likelihood_and_minus_one_is_no_style():
    model = make_model(seed=6, style_embedding=2)
    batch = make_batch(model, style=[0, 1])
    with torch.no_grad():
        model.style.weight.normal_()
    a = model.log_prob(batch)
    b = model.log_prob({**batch, "style": torch.tensor([2, 2])})
    assert (a - b).abs().max() > 1e-6
    cond = model.condition(batch["poses"], batch["control"], None, torch.tensor([-1, 1]))
    assert cond[0, :, -2:].abs().max() == 0 and cond[1, :, -2:].abs().max() > 0
    with pytest.raises(ValueError, match="num_styles"):
        MoGlow(ModelConfig(num_steps=1, hidden=4, tau=2, style_embedding=2), D, C)


def test_training_gradients_reach_every_parameter_and_dropout_matters():
    model = make_model(seed=7, style_embedding=2, lstm_impl="stepwise")
    batch = make_batch(model, B=3, T=5, style=[0, 1, 2])
    batch["keep"] = torch.rand(3, 5, model.tau, generator=torch.Generator().manual_seed(0)) > 0.5
    loss = -model.log_prob(batch).mean()
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or p.grad.abs().max() == 0]
    assert not missing
    assert (model.log_prob(batch) - model.log_prob({**batch, "keep": None})).abs().max() > 1e-6


def test_actnorm_initialises_on_first_training_batch():
    torch.manual_seed(0)
    model = MoGlow(ModelConfig(num_steps=2, hidden=8, tau=2), D, C).to(DT)
    batch = make_batch(model, B=8, T=10)
    batch["poses"] = batch["poses"] * 4 + 3
    model.log_prob(batch)
    first = model.flow.parts[0].parts[0]
    z, _ = first(batch["poses"][:, 2:])
    torch.testing.assert_close(z.mean((0, 1)), torch.zeros(D, dtype=DT), atol=1e-10, rtol=0)
    assert all(bool(step.parts[0].initialized) for step in model.flow.parts)


def test_float32_paper_shape_smoke():
    """The paper's condition layout (tau=10, D=63, C=3 -> 663 features) at a small width."""
    torch.manual_seed(0)
    model = MoGlow(ModelConfig(num_steps=2, hidden=16, tau=10), 63, 3)
    assert model.cond_dim == 10 * 63 + 11 * 3
    batch = {"poses": torch.randn(2, 10 + 4, 63), "control": torch.randn(2, 10 + 4, 3)}
    logp = model.log_prob(batch)
    assert logp.shape == (2, 4) and torch.isfinite(logp).all()
    assert model.num_parameters() == sum(p.numel() for p in model.parameters())


def test_bad_inputs_are_named():
    model = make_model()
    batch = make_batch(model)
    with pytest.raises(ValueError, match="control must be"):
        model.log_prob({**batch, "control": batch["control"][:, :-1]})
    with pytest.raises(ValueError, match="keep must be"):
        model.log_prob({**batch, "keep": torch.ones(2, 7, 2, dtype=torch.bool)})
    with pytest.raises(ValueError, match="condition must be"):
        model.log_prob_stateful(batch["poses"][:, 3:], torch.zeros(2, 7, 4, dtype=DT))


def test_model_config_from_yaml_dict_is_validated():
    cfg = from_dict(ModelConfig, {"num_steps": 4, "net": "gru", "lstm_impl": "stepwise"})
    assert cfg.num_steps == 4 and cfg.hidden == 512
    with pytest.raises(ConfigError, match="num_step"):
        from_dict(ModelConfig, {"num_step": 4})
    with pytest.raises(ConfigError, match="coupling"):
        from_dict(ModelConfig, {"coupling": "spline"})
    with pytest.raises(ConfigError, match="tau"):
        from_dict(ModelConfig, {"tau": -1})
    with pytest.raises(ConfigError, match="net"):
        from_dict(ModelConfig, {"net": "transformer"})


def test_units():
    assert nats_to_bits(math.log(2)) == pytest.approx(1.0)
    assert bits_to_nats(nats_to_bits(3.7)) == pytest.approx(3.7)
    torch.testing.assert_close(nats_to_bits(torch.tensor([2 * math.log(2)])), torch.tensor([2.0]))
    assert format_nll(math.log(2)) == "0.693 nats/frame (1.000 bits/frame)"
