"""The default sampling path (``precision="auto"``): which arithmetic it picks, and that its
frames are the unoptimised model's to float32 rounding (random small MoGlows)."""
from __future__ import annotations

import copy
import math

import pytest
import torch

from moglow import sampling_precision as fd
from moglow.frame_decoder import FrameDecoder, frame_decoder
from moglow.sampling_precision import auto_precision, sampling_decoder
from moglow.model_config import ModelConfig
from moglow.sampling import MotionStreamer, generate_poses, optimise_for_sampling
from sampling_testutils import decode_alongside_model, random_model

torch.set_num_threads(1)
D, C = 7, 3
CFG = ModelConfig(num_steps=3, hidden=16, num_layers=2, tau=3, lookahead=1)


def _inputs(B: int, T: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, CFG.tau, D, generator=g), torch.randn(B, CFG.tau + T + CFG.lookahead, C, generator=g)


@pytest.mark.parametrize("batch", [1, 12])  # 12: above the cell's few-rows threshold (sigmoid-only tanh)
def test_default_sampling_equals_the_unoptimised_model_to_float_rounding(batch):
    """``generate_poses`` with its default (auto -> the float32 frame decoder on a CPU) gives the
    frames of the plain model's ``generate`` to float32 rounding: per frame the flow is
    K x (layers + 2) chained products with ~n terms each, so one frame may differ by about
    eps x K x (layers + 2) x n x |values|; fed back over T frames, at most T times that."""
    model = random_model(CFG, D, C)
    plain = copy.deepcopy(model)
    optimise_for_sampling(model)
    T = 12
    context, control = _inputs(batch, T)
    with torch.inference_mode():
        ref = plain.generate(context, control, temperature=0.8, generator=torch.Generator().manual_seed(3))
    out = generate_poses(model, context, control, 0.8, seed=3)  # default precision: "auto"
    assert sampling_decoder(model, "auto", batch)[0] == "fp32"
    eps, n = torch.finfo(torch.float32).eps, model.cond_dim + 2 * CFG.hidden
    bound = T * eps * CFG.num_steps * (CFG.num_layers + 2) * n * ref.abs().max().item()
    err = (out - ref).abs().max().item()
    assert err <= bound, (err, bound)
    assert ref.std() > 0.1  # a non-trivial motion


def test_the_decoder_is_what_auto_runs_and_differs_from_the_model_path():
    """auto runs the frame decoder (sums in another order: not bit-identical to the model's
    path), explicit fp32 runs the model's own path (bit-identical to ``model.generate``)."""
    model = optimise_for_sampling(random_model(CFG, D, C))
    context, control = _inputs(2, 6)
    with torch.inference_mode():
        ref = model.generate(context, control, temperature=1.0, generator=torch.Generator().manual_seed(1))
    assert torch.equal(generate_poses(model, context, control, 1.0, seed=1, precision="fp32"), ref)
    auto = generate_poses(model, context, control, 1.0, seed=1)
    assert 0 < (auto - ref).abs().max() < 1e-4
    precision, decoder = sampling_decoder(model, "auto", 2)
    assert precision == "fp32" and isinstance(decoder, FrameDecoder) and decoder is frame_decoder(model, "fp32")


def test_auto_precision_rules(monkeypatch):
    monkeypatch.setattr(fd, "_cpu_has_amx", lambda: False)
    assert auto_precision("cpu", 1) == auto_precision("cpu", 100) == "fp32"  # AVX2: bf16 batches are emulated
    monkeypatch.setattr(fd, "_cpu_has_amx", lambda: True)
    assert auto_precision("cpu", 100) == "bf16"  # native bf16 matrix products
    assert auto_precision("cpu", 1) == "fp32"  # one character: memory bound, fp32 gemv streams faster
    assert auto_precision(torch.device("cuda", 0), 100) == "fp32"  # not measured on a GPU yet


def test_sampling_decoder_falls_back_and_checks():
    gru = random_model(ModelConfig(num_steps=2, hidden=8, num_layers=1, tau=2, net="gru"), D, C)
    assert sampling_decoder(gru, "auto", 1) == ("fp32", None)  # no decoder for GRU couplings: the model's path
    with pytest.raises(ValueError, match="LSTM couplings only"):
        sampling_decoder(gru, "bf16", 1)
    lstm = random_model(CFG, D, C)
    assert sampling_decoder(lstm, "fp32", 1) == ("fp32", None)
    with pytest.raises(ValueError, match="precision must be one of auto, fp32"):
        sampling_decoder(lstm, "int8", 1)
    # a streamer given the auto decoder continues the model path's state (same state layout)
    context, control = _inputs(3, 4)
    streamer = MotionStreamer(lstm, 0.0)
    state = streamer.start(context, control[:, : CFG.tau + CFG.lookahead])
    _, state = streamer.step(control[:, CFG.tau + CFG.lookahead], state)
    fast = MotionStreamer(lstm, 0.0)
    fast.decoder = sampling_decoder(lstm, "auto", 3)[1]
    a, _ = streamer.step(control[:, CFG.tau + CFG.lookahead + 1], state)
    b, _ = fast.step(control[:, CFG.tau + CFG.lookahead + 1], state)
    assert 0 < (a - b).abs().max() < 100 * math.sqrt(CFG.hidden) * torch.finfo(torch.float32).eps * a.abs().max()


def test_batch_path_equals_model_decode_and_reuses_its_state():
    """A batch above the few-rows threshold (one product per LSTM layer of each coupling, the
    inputs written into one buffer) decodes frame after frame as ``model.decode``, state included; the
    decoder takes back the state it returned without a copy (also under ``inference_mode``,
    where views do not record their base), and a state from the model's path by value."""
    model = random_model(CFG, D, C)
    decoder = FrameDecoder(model, "fp32")
    B = 12
    x, state, ref, ref_state = decode_alongside_model(model, decoder, batch=B)
    with torch.inference_mode():
        h_prev, c_prev = decoder._previous(state, B, x)
        assert h_prev.data_ptr() == state[0][2][0].data_ptr() and c_prev.data_ptr() == state[0][2][1].data_ptr()
        assert all(torch.equal(h_prev[k], s[2][0]) for k, s in enumerate(state))
        h_ref, _ = decoder._previous(ref_state, B, x)  # the model's own states: stacked (a copy)
        assert all(torch.equal(h_ref[k], s[2][0]) for k, s in enumerate(ref_state))
    assert ref.std() > 0.1
