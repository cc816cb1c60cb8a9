"""Coupling networks: the hand-written LSTM/GRU against torch.nn.LSTM/GRU, state carrying,
zero-initialised outputs, and the LSTM layer's hand-written backward pass."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from moglow.flows.conditioners import GRUNet, LSTMLayerFunction, LSTMNet, MLPNet, make_net

DT = torch.float64


def _lstm_pair(in_f: int, hidden: int, layers: int, impl: str, seed: int = 0) -> tuple[LSTMNet, nn.LSTM]:
    """An LSTMNet and an nn.LSTM with the same weights (random output layer)."""
    torch.manual_seed(seed)
    net = LSTMNet(in_f, 3, hidden, layers, impl=impl).to(DT)
    ref = nn.LSTM(in_f, hidden, layers, batch_first=True).to(DT)
    with torch.no_grad():
        for k in range(layers):
            w_ih = net.input_layer.weight if k == 0 else net.upper_input_layers[k - 1].weight
            b_ih = net.input_layer.bias if k == 0 else net.upper_input_layers[k - 1].bias
            getattr(ref, f"weight_ih_l{k}").copy_(w_ih)
            getattr(ref, f"bias_ih_l{k}").copy_(b_ih)
            getattr(ref, f"weight_hh_l{k}").copy_(net.weight_hh[k])
            getattr(ref, f"bias_hh_l{k}").zero_()
        net.output_layer.weight.normal_()
        net.output_layer.bias.normal_()
    return net, ref


@pytest.mark.parametrize("impl", ["fused", "stepwise"])
@pytest.mark.parametrize("layers", [1, 3])
def test_lstm_matches_torch_lstm_values_and_gradients(layers, impl):
    net, ref = _lstm_pair(5, 7, layers, impl)
    x = torch.randn(4, 6, 5, dtype=DT, requires_grad=True)
    h0 = torch.randn(layers, 4, 7, dtype=DT)
    c0 = torch.randn(layers, 4, 7, dtype=DT)
    out, (h, c) = net(x, (h0, c0))
    ref_hs, (ref_h, ref_c) = ref(x, (h0, c0))
    ref_out = net.output_layer(ref_hs)
    assert len(net.weight_hh) == layers
    torch.testing.assert_close(out, ref_out, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(h, ref_h, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(c, ref_c, rtol=1e-10, atol=1e-12)
    # gradients of a loss that uses the outputs and the final state
    w = torch.randn_like(out)
    loss = (out * w).sum() + h.sum() * 0.3 + (c ** 2).sum() * 0.1
    ref_loss = (ref_out * w).sum() + ref_h.sum() * 0.3 + (ref_c ** 2).sum() * 0.1
    gx, gw0, gwhh = torch.autograd.grad(loss, [x, net.input_layer.weight, net.weight_hh[layers - 1]])
    rx, rw0, rwhh = torch.autograd.grad(ref_loss, [x, ref.weight_ih_l0, getattr(ref, f"weight_hh_l{layers - 1}")])
    torch.testing.assert_close(gx, rx, rtol=1e-9, atol=1e-11)
    torch.testing.assert_close(gw0, rw0, rtol=1e-9, atol=1e-11)
    torch.testing.assert_close(gwhh, rwhh, rtol=1e-9, atol=1e-11)


def test_lstm_impls_agree_in_float32():
    """The fused kernel (oneDNN in float32 on CPU) and the stepwise loop: same outputs and gradients."""
    torch.manual_seed(5)
    fused = LSTMNet(6, 4, 16, 2, impl="fused")
    nn.init.normal_(fused.output_layer.weight)
    stepwise = LSTMNet(6, 4, 16, 2, impl="stepwise")
    stepwise.load_state_dict(fused.state_dict())
    x = torch.randn(3, 12, 6)
    outs, grads = [], []
    for net in (fused, stepwise):
        out, (h, c) = net(x)
        (out.pow(2).sum() + c.sum()).backward()
        outs.append(out)
        grads.append(torch.cat([p.grad.flatten() for p in net.parameters()]))
    torch.testing.assert_close(outs[0], outs[1], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-3, atol=1e-4)


def test_lstm_layer_function_gradcheck():
    torch.manual_seed(1)
    T, B, H = 4, 2, 3
    args = (torch.randn(T, B, 4 * H, dtype=DT, requires_grad=True),
            torch.randn(4 * H, H, dtype=DT, requires_grad=True) * 0.5,
            torch.randn(B, H, dtype=DT, requires_grad=True),
            torch.randn(B, H, dtype=DT, requires_grad=True))
    args = tuple(a.detach().requires_grad_() for a in args)
    assert torch.autograd.gradcheck(LSTMLayerFunction.apply, args)


def test_gru_matches_torch_gru():
    torch.manual_seed(2)
    layers, hidden = 2, 6
    net = GRUNet(4, 2, hidden, layers).to(DT)
    ref = nn.GRU(4, hidden, layers, batch_first=True).to(DT)
    with torch.no_grad():
        for k in range(layers):
            src = net.input_layer if k == 0 else net.upper_input_layers[k - 1]
            getattr(ref, f"weight_ih_l{k}").copy_(src.weight)
            getattr(ref, f"bias_ih_l{k}").copy_(src.bias)
            getattr(ref, f"weight_hh_l{k}").copy_(net.hidden_layers[k].weight)
            getattr(ref, f"bias_hh_l{k}").copy_(net.hidden_layers[k].bias)
    x = torch.randn(3, 5, 4, dtype=DT)
    h0 = torch.randn(layers, 3, hidden, dtype=DT)
    out, h = net(x, h0)
    ref_hs, ref_h = ref(x, h0)
    torch.testing.assert_close(h, ref_h, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(out, net.output_layer(ref_hs), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind,options", [("lstm", {"impl": "fused"}), ("lstm", {"impl": "stepwise"}), ("gru", {})])
def test_recurrent_state_carries_over(kind, options):
    torch.manual_seed(3)
    net = make_net(kind, 4, 3, 8, 2, **options).to(DT)
    nn.init.normal_(net.output_layer.weight)
    x = torch.randn(2, 9, 4, dtype=DT)
    whole, state_whole = net(x)
    first, state = net(x[:, :4])
    second, state = net(x[:, 4:], state)
    torch.testing.assert_close(torch.cat([first, second], 1), whole, rtol=1e-12, atol=1e-12)
    for a, b in zip(torch.utils._pytree.tree_leaves(state), torch.utils._pytree.tree_leaves(state_whole)):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("kind", ["mlp", "lstm", "gru"])
def test_output_layer_starts_at_zero_and_learns(kind):
    torch.manual_seed(4)
    net = make_net(kind, 5, 4, 8, 2)
    out, _ = net(torch.randn(2, 3, 5))
    assert out.shape == (2, 3, 4) and out.abs().max() == 0
    out.sum().backward()
    assert net.output_layer.bias.grad.abs().sum() > 0


def test_mlp_is_stateless_and_accepts_flat_input():
    net = MLPNet(3, 2, hidden=8, num_layers=3)
    assert len(net.hidden_layers) == 2 and not net.recurrent
    out, state = net(torch.randn(10, 3), state="untouched")
    assert out.shape == (10, 2) and state == "untouched"


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="unknown coupling network 'rnn'"):
        make_net("rnn", 2, 2, 4, 1)
    with pytest.raises(ValueError, match="impl must be"):
        LSTMNet(2, 2, 4, 1, impl="cudnn")
    with pytest.raises(ValueError, match="num_layers"):
        LSTMNet(2, 2, 4, 0)
    with pytest.raises(ValueError, match=r"\(batch, time, features\)"):
        LSTMNet(2, 2, 4, 1)(torch.randn(5, 2))
    with pytest.raises(ValueError, match="expected 2 input features"):
        LSTMNet(2, 2, 4, 1)(torch.randn(1, 5, 3))
