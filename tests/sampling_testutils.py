"""Small prepared datasets, random tiny MoGlows and checkpoints for the sampling and export tests
(not a test module itself)."""
from __future__ import annotations

from pathlib import Path

import torch

from data_pipeline.bvh_writer import write_bvh
from data_pipeline.config import DataConfig
from data_pipeline.prepare import PreparedData, prepare_dataset
from data_pipeline.procedural import generate_take
from data_pipeline.splits import SplitConfig
from moglow.checkpoint import data_metadata, save_checkpoint
from moglow.config import ExperimentConfig, experiment_to_dict
from moglow.model import MoGlow
from moglow.model_config import ModelConfig

REPO_ROOT = Path(__file__).resolve().parents[1]
BANDAI_WALK = REPO_ROOT.parent / "shared" / "mocap" / "bandai-namco" / "dataset-2" / "dataset-2_walk_normal_001.bvh"


def procedural_takes(folder: Path, num: int = 2, seconds: float = 4.0) -> Path:
    """Write ``num`` procedural takes (30 fps BVH, procedural skeleton) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(num):
        motion, _ = generate_take(100 + i, seconds, fps=30.0)
        write_bvh(motion, folder / f"take_{i}.bvh")
    return folder


def prepared_procedural(root: Path, representation: str = "positions") -> PreparedData:
    """A prepared dataset of two short procedural takes (no real data needed)."""
    data = procedural_takes(root / "bvh")
    cfg = DataConfig(profile="procedural", data_dir=str(data), representation=representation,
                     split=SplitConfig(val_fraction=0.0, test_fraction=0.0))
    out = prepare_dataset(cfg, data, root / f"prepared_{representation}", progress=False, workers=1,
                          log=lambda s: None)
    return PreparedData.load(out)


def tiny_model_config(tau: int = 3, lookahead: int = 0, style_embedding: int = 0) -> ModelConfig:
    return ModelConfig(num_steps=2, hidden=16, num_layers=1, tau=tau, lookahead=lookahead,
                       style_embedding=style_embedding)


def random_inputs(B: int, tau: int, T: int, pose_dim: int, control_dim: int, la: int = 0, seed: int = 0):
    """``(context (B, tau, pose_dim), control (B, tau + T + la, control_dim))``, standard normal, seeded."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, tau, pose_dim, generator=g), torch.randn(B, tau + T + la, control_dim, generator=g)


def random_model(cfg: ModelConfig, pose_dim: int, control_dim: int = 3, num_styles: int = 0,
                 seed: int = 0, scale: float = 0.1) -> MoGlow:
    """A MoGlow whose every parameter is perturbed (the zero-initialised output layers would make
    each coupling the identity and the condition irrelevant); eval mode."""
    torch.manual_seed(seed)
    model = MoGlow(cfg, pose_dim, control_dim, num_styles=num_styles)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(scale * torch.randn(p.shape, generator=g))
        for name, b in model.named_buffers():
            if name.endswith("initialized"):
                b.fill_(1)
    return model.eval()


def write_checkpoint(path: Path, model: MoGlow, data: PreparedData) -> Path:
    """A checkpoint in the training format (config, model, data metadata) for ``model`` on ``data``."""
    cfg = ExperimentConfig(name="sampling-test", data=data.config, model=model.cfg)
    return save_checkpoint({"config": experiment_to_dict(cfg), "model": model.state_dict(), "step": 0,
                            "data": data_metadata(data)}, path)


@torch.no_grad()
def reference_generate(model: MoGlow, context: torch.Tensor, control: torch.Tensor, style: torch.Tensor | None = None,
                       temperature: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
    """The plain autoregressive loop (``MoGlow.generate`` as it was before every sampler went through
    :class:`moglow.streaming.MotionStreamer`): a history buffer of poses, the condition of each frame
    from its slice, one latent draw ``(B, 1, D)`` per frame, the inverse flow with the state carried."""
    tau, la = model.tau, model.lookahead
    B, T = context.shape[0], control.shape[1] - tau - la
    history = torch.cat([context, context.new_zeros(B, T + 1, model.pose_dim)], 1)
    state = None
    for t in range(T):
        cond = model.condition(history[:, t: t + tau + 1], control[:, t: t + tau + 1 + la], None, style)
        x, state = model.sample_stateful(cond, state, temperature, generator)
        history[:, tau + t] = x[:, 0]
    return history[:, tau: tau + T]


def decode_alongside_model(model: MoGlow, decoder, batch: int, frames: int = 3, seed: int = 0):
    """Decode ``frames`` random frames of ``batch`` characters with ``decoder`` (a FrameDecoder) and
    with ``model.decode`` (under ``inference_mode``, as sampling runs), asserting after each frame
    that the poses agree to 1e-5 and every LSTM state to 1e-6. Returns the last ``(x, state,
    ref, ref_state)`` (``ref (B, 1, D)`` the model's poses)."""
    g = torch.Generator().manual_seed(seed)
    D = model.pose_dim
    ref_state = state = None
    with torch.inference_mode():
        for _ in range(frames):
            z, cond = torch.randn(batch, 1, D, generator=g), torch.randn(batch, 1, model.cond_dim, generator=g)
            ref, ref_state = model.decode(z, cond, ref_state)
            x, state = decoder.decode(z[:, 0], cond[:, 0], state)
            torch.testing.assert_close(x, ref[:, 0], rtol=0, atol=1e-5)
            for (_, _, (h, c)), (_, _, (h_ref, c_ref)) in zip(state, ref_state):
                torch.testing.assert_close(h, h_ref, rtol=0, atol=1e-6)
                torch.testing.assert_close(c, c_ref, rtol=0, atol=1e-6)
    return x, state, ref, ref_state

