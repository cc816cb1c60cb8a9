"""Sampling: batched generation, the streaming generator, the CLI (random tiny MoGlows)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from data_pipeline.bvh import read_bvh
from data_pipeline.features import extract_features, integrate_control
from moglow.checkpoint import load_checkpoint, load_model
from moglow.cli import main
from moglow.paths import make_path
from moglow.sampling import SamplingMeta, generate_poses, optimise_for_sampling, sample_controls, sample_path
from moglow.streaming import MotionStreamer
from sampling_testutils import (prepared_procedural, random_inputs, random_model, reference_generate,
                                tiny_model_config, write_checkpoint)

torch.set_num_threads(1)
D, C = 7, 3


def _inputs(B: int, tau: int, T: int, la: int = 0, seed: int = 0):
    return random_inputs(B, tau, T, D, C, la, seed)


def _stream(model, context, control, temperature, seed, T):
    tau, la = model.tau, model.lookahead
    streamer = MotionStreamer(model, temperature, torch.Generator().manual_seed(seed) if seed is not None else None)
    state = streamer.start(context, control[:, : tau + la])
    poses = []
    for t in range(T):
        pose, state = streamer.step(control[:, tau + la + t], state)
        poses.append(pose)
    return torch.stack(poses, 1), state


@pytest.mark.parametrize("lookahead", [0, 2])
def test_streaming_equals_batched_generate(lookahead):
    model = random_model(tiny_model_config(tau=3, lookahead=lookahead), D, C)
    context, control = _inputs(3, 3, 12, lookahead)
    with torch.inference_mode():
        batched = model.generate(context, control, temperature=0.8, generator=torch.Generator().manual_seed(5))
    streamed, state = _stream(model, context, control, 0.8, 5, 12)
    assert streamed.shape == (3, 12, D) and state.frame == 12
    torch.testing.assert_close(streamed, batched, rtol=0, atol=1e-6)
    assert batched.std() > 0.1  # not a trivial (constant) output


@pytest.mark.parametrize("lookahead,styles,optimised", [(0, 0, False), (2, 3, False), (2, 3, True)])
def test_every_sampler_makes_the_reference_loops_frames_exactly(lookahead, styles, optimised):
    """model.generate, generate_poses (fp32), MotionStreamer.generate and a loop of steps are one
    generation loop: bit for bit the frames of the plain reference loop with the same generator
    (optimised: stepwise LSTMs, each coupling fed its precomputed share of the condition)."""
    model = random_model(tiny_model_config(tau=3, lookahead=lookahead, style_embedding=4 if styles else 0), D, C,
                         num_styles=styles)
    if optimised:
        optimise_for_sampling(model)
    context, control = _inputs(3, 3, 15, lookahead)
    style = torch.tensor([0, 2, -1]) if styles else None
    ref = reference_generate(model, context, control, style, 0.8, torch.Generator().manual_seed(5))
    assert ref.std() > 0.1
    outputs = {
        "model.generate": model.generate(context, control, style, 0.8, torch.Generator().manual_seed(5)),
        "generate_poses": generate_poses(model, context, control, 0.8, seed=5, style=style, precision="fp32"),
        "streamer.generate": MotionStreamer(model, 0.8, torch.Generator().manual_seed(5), style).generate(context,
                                                                                                           control),
    }
    streamer = MotionStreamer(model, 0.8, torch.Generator().manual_seed(5), style)
    state, steps = streamer.start(context, control[:, : 3 + lookahead]), []
    for t in range(15):
        pose, state = streamer.step(control[:, 3 + lookahead + t], state)
        steps.append(pose)
    outputs["streamer.step"] = torch.stack(steps, 1)
    for name, out in outputs.items():
        assert torch.equal(out, ref), name


def test_streaming_with_style_equals_generate():
    model = random_model(tiny_model_config(tau=2, style_embedding=4), D, C, num_styles=3)
    context, control = _inputs(3, 2, 6)
    style = torch.tensor([0, 2, -1])
    with torch.inference_mode():
        batched = model.generate(context, control, style, temperature=1.0, generator=torch.Generator().manual_seed(2))
    streamer = MotionStreamer(model, 1.0, torch.Generator().manual_seed(2), style=style)
    state = streamer.start(context, control[:, :2])
    poses = []
    for t in range(6):
        pose, state = streamer.step(control[:, 2 + t], state)
        poses.append(pose)
    torch.testing.assert_close(torch.stack(poses, 1), batched, rtol=0, atol=1e-6)


def test_stream_state_is_explicit_and_reusable():
    """step() leaves the state it was given untouched: the same state stepped twice with the
    same latent gives the same pose, and select() keeps the chosen characters' futures."""
    model = random_model(tiny_model_config(tau=3), D, C)
    context, control = _inputs(3, 3, 10)
    streamer = MotionStreamer(model, temperature=0.0)
    state = streamer.start(context, control[:, :3])
    for t in range(4):
        _, state = streamer.step(control[:, 3 + t], state)
    a, after_a = streamer.step(control[:, 7], state)
    b, _ = streamer.step(control[:, 7], state)
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    sub = state.select([0, 2])
    c, _ = streamer.step(control[[0, 2], 7], sub)
    torch.testing.assert_close(c, a[[0, 2]], rtol=0, atol=1e-6)
    z = torch.zeros(3, D)
    d, _ = streamer.step(control[:, 7], state, z=z)  # explicit latent = the temperature-0 draw
    torch.testing.assert_close(d, a, rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match="control must be"):
        streamer.step(control[:2, 7], state)


def test_characters_in_a_batch_are_independent():
    model = random_model(tiny_model_config(tau=3), D, C)
    context, control = _inputs(2, 3, 10)
    streamed, _ = _stream(model, context, control, 0.0, None, 10)
    other = control.clone()
    other[1] = torch.randn(other[1].shape)
    changed, _ = _stream(model, context, other, 0.0, None, 10)
    torch.testing.assert_close(changed[0], streamed[0], rtol=0, atol=1e-6)
    assert (changed[1] - streamed[1]).abs().max() > 1e-3
    alone, _ = _stream(model, context[:1], control[:1], 0.0, None, 10)
    torch.testing.assert_close(alone[0], streamed[0], rtol=0, atol=1e-6)


def test_optimise_for_sampling_keeps_the_maths():
    model = random_model(tiny_model_config(tau=3), D, C)
    context, control = _inputs(2, 3, 8)
    with torch.inference_mode():
        before = model.generate(context, control, temperature=1.0, generator=torch.Generator().manual_seed(1))
    optimise_for_sampling(model)
    assert not model.training and not any(p.requires_grad for p in model.parameters())
    w = model.couplings()[0].net.input_layer.weight
    assert w.t().is_contiguous()
    assert all(c.net.prefers_projection for c in model.couplings())  # LSTMs run step by step
    with torch.inference_mode():
        after = model.generate(context, control, temperature=1.0, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(after, before, rtol=0, atol=1e-5)


# ============================================================================ with prepared data
@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    return prepared_procedural(tmp_path_factory.mktemp("sampling"))


@pytest.fixture(scope="module")
def run_dir(prepared, tmp_path_factory):
    run = tmp_path_factory.mktemp("run")
    model = random_model(tiny_model_config(tau=3), prepared.pose_dim, scale=0.02)
    write_checkpoint(run / "latest.pt", model, prepared)
    return run


def test_sample_path_places_samples_on_the_path(prepared):
    meta = SamplingMeta.from_prepared(prepared)
    model = random_model(tiny_model_config(tau=3), prepared.pose_dim)
    traj = make_path("figure8:size=3,speed=1.0", 3 + 40, meta.data_config)
    samples = sample_path(model, meta, traj, num=4, temperature=0.7, seed=3)
    assert samples.poses.shape == (4, 40, prepared.pose_dim) and samples.control.shape == (4, 40, 3)
    np.testing.assert_allclose(samples.start, np.broadcast_to(traj.start(3), (4, 3)))
    root_xz, theta = samples.root_paths()
    np.testing.assert_allclose(root_xz, np.broadcast_to(traj.root_xz[3:], root_xz.shape), atol=1e-5)
    np.testing.assert_allclose(theta, np.broadcast_to(np.unwrap(traj.theta[3:]), theta.shape), atol=1e-5)
    # samples differ from each other; the same seed reproduces them; temperature 0 ignores the seed
    assert np.abs(samples.poses[0] - samples.poses[1]).max() > 1e-3
    again = sample_path(model, meta, traj, num=4, temperature=0.7, seed=3)
    np.testing.assert_array_equal(again.poses, samples.poses)
    other = sample_path(model, meta, traj, num=4, temperature=0.7, seed=4)
    assert np.abs(other.poses - samples.poses).max() > 1e-3
    mean_a = sample_path(model, meta, traj, num=2, temperature=0.0, seed=1)
    mean_b = sample_path(model, meta, traj, num=2, temperature=0.0, seed=2)
    np.testing.assert_array_equal(mean_a.poses, mean_b.poses)
    # Rows of one batch share every input at T = 0, so they differ only by float32 rounding, which a
    # BLAS may do differently per row. Bound it by the rounding error of the computation itself: each row
    # lies within e of the exact (float64) result, where e is at most (dependency depth) x u x |x| per
    # frame, accumulated over the frames of the autoregressive loop. With u = 2**-24, a depth of ~10^3
    # operations per frame (2 flow steps of a 16-unit LSTM, ActNorm, 1x1 mixing, the inverse scaler)
    # and 40 frames, e <= 40 * 1e3 * u * max|x|; the rows then agree within 2e.
    u = 2.0 ** -24
    frames = mean_a.poses.shape[1]
    ctrl = torch.as_tensor(meta.control_scaler.transform(traj.control()), dtype=torch.float64)[None]
    model.double()
    with torch.no_grad():  # the mean-pose context (no start bank here), in float64
        z64 = model.generate(torch.zeros(1, 3, prepared.pose_dim, dtype=torch.float64), ctrl, None,
                                      temperature=0.0)
    model.float()
    exact = meta.scaler.inverse_transform(z64[0].numpy())
    bound = frames * 1e3 * u * np.abs(exact).max()
    assert np.abs(mean_a.poses - exact).max() <= bound
    np.testing.assert_allclose(mean_a.poses[0], mean_a.poses[1], rtol=0, atol=2 * bound)


def test_sample_controls_checks_shapes(prepared):
    meta = SamplingMeta.from_prepared(prepared)
    model = random_model(tiny_model_config(tau=3), prepared.pose_dim)
    with pytest.raises(ValueError, match="leave none to generate"):
        sample_controls(model, meta, np.zeros((3, 3)))
    with pytest.raises(ValueError, match="control must be"):
        sample_controls(model, meta, np.zeros((10, 4)))
    with pytest.raises(ValueError, match="context must be"):
        sample_controls(model, meta, np.zeros((10, 3)), context=np.zeros((2, prepared.pose_dim)))
    with pytest.raises(ValueError, match="unknown style"):
        sample_controls(model, meta, np.zeros((10, 3)), style="nonexistent")


def test_checkpoint_metadata_round_trip(prepared, run_dir):
    meta = SamplingMeta.from_checkpoint(load_checkpoint(run_dir))
    ref = SamplingMeta.from_prepared(prepared)
    assert meta.feature_def == ref.feature_def
    np.testing.assert_array_equal(meta.control_scaler.std, ref.control_scaler.std)
    assert meta.data_config.heading_sigma_s == ref.data_config.heading_sigma_s and meta.profile.name == "procedural"


def test_cli_sample_writes_files(run_dir, tmp_path, capsys):
    out = tmp_path / "out"
    rc = main(["sample", "--checkpoint", str(run_dir), "--path", "circle:radius=2,speed=1.0", "--seconds", "2",
               "--num", "3", "--temperature", "0.5", "--seed", "7", "--out", str(out), "--no-progress"])
    text = capsys.readouterr().out
    assert rc == 0, text
    assert "generated 3 x 40 frames" in text and "mean joint error" in text
    assert sorted(p.name for p in out.iterdir()) == ["report.json", "sample_000.bvh", "sample_001.bvh",
                                                      "sample_002.bvh", "samples.npz"]
    report = json.loads((out / "report.json").read_text())
    assert report["info"]["seed"] == 7 and report["info"]["context"] == "mean pose"
    assert read_bvh(out / "sample_002.bvh").num_frames == 40
    # same seed, same samples (the run folder resolves to latest.pt; a .pt file works too)
    rc = main(["sample", "--checkpoint", str(run_dir / "latest.pt"), "--path", "circle:radius=2,speed=1.0",
               "--seconds", "2", "--num", "3", "--temperature", "0.5", "--seed", "7", "--out", str(tmp_path / "again"),
               "--no-progress", "--no-bvh"])
    assert rc == 0
    with np.load(out / "samples.npz") as a, np.load(tmp_path / "again" / "samples.npz") as b:
        np.testing.assert_array_equal(a["poses"], b["poses"])
    # 16-bit weights: nearly the same samples
    rc = main(["sample", "--checkpoint", str(run_dir), "--path", "circle:radius=2,speed=1.0", "--seconds", "2",
               "--num", "3", "--temperature", "0.5", "--seed", "7", "--out", str(tmp_path / "bf16"), "--no-progress",
               "--no-bvh", "--precision", "bf16"])
    assert rc == 0 and "seed 7, bf16)" in capsys.readouterr().out
    assert json.loads((tmp_path / "bf16" / "report.json").read_text())["info"]["precision"] == "bf16"
    with np.load(out / "samples.npz") as a, np.load(tmp_path / "bf16" / "samples.npz") as b:
        scale = np.abs(a["poses"]).max()
        assert 0 < np.abs(a["poses"] - b["poses"]).max() < 3e-2 * scale


def test_cli_resynthesises_a_take(prepared, run_dir, tmp_path, capsys):
    take = prepared.path.parent / "bvh" / "take_0.bvh"
    rc = main(["sample", "--checkpoint", str(run_dir), "--path", f"bvh:{take}", "--num", "2", "--temperature", "0",
               "--out", str(tmp_path), "--no-progress"])
    assert rc == 0, capsys.readouterr().err
    seq = extract_features(read_bvh(take), prepared.profile, prepared.config)
    with np.load(tmp_path / "samples.npz") as z:
        assert z["poses"].shape == (2, seq.num_frames - 3, prepared.pose_dim)
        np.testing.assert_allclose(z["control"][0], seq.control[3:], atol=1e-6)  # the take's own control
        root_xz, _ = integrate_control(seq.control, seq.root_start)
        np.testing.assert_allclose(z["path"], root_xz[3:], atol=1e-4)
        assert z["ground_truth"].shape == (seq.num_frames - 3, len(prepared.feature_def.joints), 3)


def test_cli_errors_are_clear(run_dir, tmp_path, capsys):
    assert main(["sample", "--checkpoint", str(tmp_path / "missing"), "--out", str(tmp_path / "o")]) == 1
    assert "checkpoint not found" in capsys.readouterr().err
    assert main(["sample", "--checkpoint", str(run_dir), "--path", "spiral:radius=2", "--out", str(tmp_path)]) == 1
    assert "unknown path 'spiral'" in capsys.readouterr().err
    assert main(["sample", "--checkpoint", str(run_dir), "--path", "circle:radius=2,sped=1", "--out",
                 str(tmp_path)]) == 1
    assert "unknown parameter 'sped'" in capsys.readouterr().err


def test_load_model_prefers_best(prepared, tmp_path):
    a = random_model(tiny_model_config(tau=3), prepared.pose_dim, seed=1)
    b = random_model(tiny_model_config(tau=3), prepared.pose_dim, seed=2)
    write_checkpoint(tmp_path / "latest.pt", a, prepared)
    write_checkpoint(tmp_path / "best.pt", b, prepared)
    model, _ = load_model(tmp_path)
    torch.testing.assert_close(model.state_dict()["flow.parts.0.parts.2.net.input_layer.weight"],
                               b.state_dict()["flow.parts.0.parts.2.net.input_layer.weight"])
