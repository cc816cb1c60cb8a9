"""The frame decoder (moglow/frame_decoder.py, few_rows.py, many_rows.py): float32 equal to the model's inverse
flow, 16-bit close to it, per-thread buffers, rebuilt when the model changes (random tiny MoGlows)."""
from __future__ import annotations

import pytest
import torch

from moglow.frame_decoder import FrameDecoder, frame_decoder
from moglow.model_config import ModelConfig
from moglow.sampling import generate_poses
from moglow.streaming import MotionStreamer
from sampling_testutils import decode_alongside_model, random_inputs, random_model, tiny_model_config

torch.set_num_threads(1)
D, C = 7, 3


def _inputs(B: int, tau: int, T: int, la: int = 0, seed: int = 0):
    return random_inputs(B, tau, T, D, C, la, seed)


DECODER_CONFIGS = {
    "2 layers, lookahead": ModelConfig(num_steps=3, hidden=16, num_layers=2, tau=3, lookahead=2),
    "matrix coupling, style": ModelConfig(num_steps=2, hidden=16, num_layers=1, tau=2, coupling="matrix",
                                          style_embedding=3),
    "additive, 3 layers": ModelConfig(num_steps=2, hidden=8, num_layers=3, tau=2, coupling="additive"),
}


@pytest.mark.parametrize("batch", [1, 4, 12])
@pytest.mark.parametrize("name", list(DECODER_CONFIGS))
def test_fp32_frame_decoder_equals_model_decode(name, batch):
    """The frame decoder is the model's inverse flow, state included, frame after frame (a few
    rows: moglow.few_rows, one row writing the condition's product straight into its buffer; a
    batch: moglow.many_rows, one block per gate at this hidden size)."""
    cfg = DECODER_CONFIGS[name]
    model = random_model(cfg, D, C, num_styles=2 if cfg.style_embedding else 0)
    _, _, ref, _ = decode_alongside_model(model, FrameDecoder(model, "fp32"), batch=batch)
    assert ref.std() > 0.1


@pytest.mark.parametrize("block", [4, 8, 16])
def test_batch_path_with_several_blocks_per_gate(block):
    """The batch path's block layout (each gate cut into hidden/block blocks of output rows, the
    states read and written through block views) is the model's inverse flow for any block size."""
    from moglow.many_rows import ManyRows

    model = random_model(DECODER_CONFIGS["2 layers, lookahead"], D, C)
    decoder = FrameDecoder(model, "fp32")
    decoder._many = ManyRows(decoder.first, decoder.first_bias, decoder.upper, decoder.upper_bias, decoder.steps,
                             decoder.cond_dim, block=block)
    assert decoder._many.per_gate == 16 // block
    _, _, ref, _ = decode_alongside_model(model, decoder, batch=12)
    assert ref.std() > 0.1


@pytest.mark.parametrize("batch", [1, 12])
def test_frame_decoder_buffers_are_per_thread(batch):
    """Two threads decoding with one decoder at once (two pages of ``moglow play``) each get the
    frames a lone decode gives: the reused buffers (few rows and batch paths) are per thread."""
    import sys
    import threading

    interval = sys.getswitchinterval()
    model = random_model(DECODER_CONFIGS["2 layers, lookahead"], D, C)
    decoder = FrameDecoder(model, "fp32")
    g = torch.Generator().manual_seed(5)
    inputs = [[(torch.randn(batch, D, generator=g), torch.randn(batch, model.cond_dim, generator=g))
                for _ in range(300)]
              for _ in range(2)]

    barrier = threading.Barrier(2)

    def run(frames, wait=False):
        if wait:
            barrier.wait()
        state, xs = None, []
        with torch.inference_mode():
            for z, cond in frames:
                x, state = decoder.decode(z, cond, state)
                xs.append(x)
        return torch.cat(xs)

    alone = [run(frames) for frames in inputs]
    together: list = [None, None]
    threads = [threading.Thread(target=lambda i=i: together.__setitem__(i, run(inputs[i], True))) for i in range(2)]
    sys.setswitchinterval(1e-5)  # switch between the threads often (a shared buffer fails this test)
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    for a, b in zip(alone, together, strict=True):
        torch.testing.assert_close(b, a, rtol=0, atol=0)


@pytest.mark.parametrize("precision, tol", [("bf16", 3e-2), ("fp16", 3e-3)])
def test_reduced_precision_sampling_stays_close_to_fp32(precision, tol):
    """16-bit weights: the same latents give poses within ``tol`` of fp32 over 30 frames
    (differing by more than float32 rounding, so the 16-bit path did run)."""
    model = random_model(DECODER_CONFIGS["2 layers, lookahead"], D, C)
    context, control = _inputs(3, 3, 30, la=2)
    for temperature in (0.0, 0.8):
        ref = generate_poses(model, context, control, temperature, seed=4)
        out = generate_poses(model, context, control, temperature, seed=4, precision=precision)
        assert out.dtype == torch.float32 and out.shape == ref.shape == (3, 30, D)
        err = (out - ref).abs().max().item()
        assert 1e-5 < err < tol, err
    assert ref.std() > 0.1
    # one character alone takes PyTorch's matrix-vector kernel (oneDNN switched off for the frame, then restored)
    mkldnn = torch.backends.mkldnn.enabled
    alone = generate_poses(model, context[:1], control[:1], 0.8, seed=4, precision=precision)
    assert torch.backends.mkldnn.enabled == mkldnn
    alone_ref = generate_poses(model, context[:1], control[:1], 0.8, seed=4)
    assert 1e-5 < (alone - alone_ref).abs().max() < tol
    # the fp32 flow maps the 16-bit sample back to the latents that were drawn
    with torch.inference_mode():
        z_rec, _, _ = model.latents(out, model.condition(torch.cat([context, out], 1), control))
    g = torch.Generator().manual_seed(4)
    z = torch.stack([model.base.sample((3,), 0.8, g) for _ in range(30)], 1)
    assert (z_rec - z).abs().max() < 10 * tol


def test_streams_switch_precision_and_reject_other_nets():
    """An fp32 stream's state continues in fp16 (same state layout); GRU couplings cannot run in 16 bits."""
    model = random_model(tiny_model_config(tau=3), D, C)
    context, control = _inputs(2, 3, 8)
    fp32 = MotionStreamer(model, 0.0)
    fp16 = MotionStreamer(model, 0.0, precision="fp16")
    state = fp32.start(context, control[:, :3])
    for t in range(4):
        _, state = fp32.step(control[:, 3 + t], state)
    a, b = state, state.select([0, 1])
    for t in range(4, 8):
        pa, a = fp32.step(control[:, 3 + t], a)
        pb, b = fp16.step(control[:, 3 + t], b)
    torch.testing.assert_close(pb, pa, rtol=0, atol=3e-3)
    assert frame_decoder(model, "fp16") is fp16.decoder  # built once per model and precision
    with pytest.raises(ValueError, match="precision must be one of"):
        MotionStreamer(model, precision="int8")
    gru = random_model(ModelConfig(num_steps=2, hidden=8, num_layers=1, tau=2, net="gru"), D, C)
    with pytest.raises(ValueError, match="LSTM couplings only"):
        MotionStreamer(gru, precision="bf16")


def test_frame_decoder_is_rebuilt_when_the_model_changes():
    model = random_model(tiny_model_config(tau=3), D, C)
    decoder = frame_decoder(model, "fp32")
    assert frame_decoder(model, "fp32") is decoder
    z, cond = torch.randn(2, D), torch.randn(2, model.cond_dim)
    with torch.inference_mode():
        before, _ = decoder.decode(z, cond)
    with torch.no_grad():
        model.couplings()[0].net.output_layer.bias.add_(0.5)
    changed = frame_decoder(model, "fp32")
    assert changed is not decoder
    with torch.inference_mode():
        after, _ = changed.decode(z, cond)
        ref, _ = model.decode(z[:, None], cond[:, None])
    assert (after - before).abs().max() > 1e-3
    torch.testing.assert_close(after, ref[:, 0], rtol=0, atol=1e-5)
