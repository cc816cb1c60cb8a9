"""MoGlow (Henter, Alexanderson & Beskow 2020): a conditional, recurrent Glow over one pose per frame.

The flow has K steps (ActNorm, LU linear map, coupling whose network is an LSTM by
default) acting on the pose vector ``x_t (D,)``. The condition of target frame ``t`` is

- the previous ``tau`` poses ``x_{t-tau} … x_{t-1}`` (oldest first; data dropout replaces
  some of them by 0, the mean pose after normalising),
- the control of frames ``t-tau … t`` (plus ``lookahead`` future frames),
- optionally a learnt style embedding,

concatenated into ``cond_t (cond_dim,)``. Training and scoring run whole sequences
``(B, T, ·)`` through the coupling LSTMs in one call; sampling runs frame by frame with the
LSTM states carried over, feeding each generated pose back into the next condition. Both
compute the same thing (tested to 1e-5 in float64).

Speed. Most of the work is the coupling LSTMs, and most of their input is the condition,
which is the same for all K couplings. Two formulations with identical mathematics and
parameters are available (``ModelConfig.lstm_impl``):

- ``"fused"`` (default): each coupling runs PyTorch's LSTM kernel (oneDNN on CPU, cuDNN on
  CUDA) on ``[x1, cond]``; the kernel projects the whole sequence's input in one product.
- ``"stepwise"``: the condition's share of every coupling's first layer,
  ``cond @ W_cond_k`` for k = 1…K, is computed in one large product per batch before the
  flow, and each coupling adds its slice to the small ``x1 @ W_x1`` product and runs a
  hand-written recurrence (no gradient is computed for the condition).

``benchmarks/train_throughput.py`` times both against this machine's matmul rate; on the
development CPU (one thread) the fused kernel reached ~100 % of it, the stepwise loop ~80 %.

Log-likelihoods are in nats per frame (:mod:`moglow.units` converts to bits).

Example::

    >>> cfg = ModelConfig(num_steps=2, hidden=16, tau=3)
    >>> model = MoGlow(cfg, pose_dim=6, control_dim=3)
    >>> batch = {"poses": torch.randn(4, 3 + 8, 6), "control": torch.randn(4, 3 + 8, 3)}
    >>> model.log_prob(batch).shape          # nats per target frame
    torch.Size([4, 8])
"""
from __future__ import annotations


import torch
import torch.nn.functional as F
from torch import Tensor, nn

from moglow.flows.base import Compose, PerPart, State
from moglow.flows.coupling import Coupling, ProjectedCondition
from moglow.flows.distributions import make_base
from moglow.flows.glow import glow_step
from moglow.model_config import ModelConfig
from moglow.streaming import MotionStreamer
from data_pipeline.typed_config import ConfigError


class MoGlow(nn.Module):
    """The MoGlow model.

    Args:
        cfg: architecture (:class:`ModelConfig`).
        pose_dim: ``D``, features per pose.
        control_dim: ``C``, control features per frame.
        num_styles: number of style labels (needed when ``cfg.style_embedding > 0``).

    Attributes:
        flow: the K glow steps (a :class:`Compose`; usable as a plain conditional bijection
            on ``(B, T, D)`` with ``cond (B, T, cond_dim)``).
        base: the latent distribution.
        cond_dim: condition features per frame.
    """

    def __init__(self, cfg: ModelConfig, pose_dim: int, control_dim: int, num_styles: int = 0):
        super().__init__()
        cfg.validate()
        if cfg.style_embedding > 0 and num_styles < 1:
            raise ConfigError("style_embedding > 0 needs num_styles >= 1 (the data has no style labels)")
        self.cfg, self.pose_dim, self.control_dim, self.num_styles = cfg, pose_dim, control_dim, num_styles
        self.cond_dim = cfg.cond_dim(pose_dim, control_dim)
        self.data_cond_dim = self.cond_dim - cfg.style_embedding
        self.style = nn.Embedding(num_styles, cfg.style_embedding) if cfg.style_embedding > 0 else None
        options = {"scale": cfg.scale, "variant": cfg.matrix_variant}
        net_options = {"impl": cfg.lstm_impl} if cfg.net == "lstm" else {}
        self.flow = Compose([
            glow_step(pose_dim, self.cond_dim, net=cfg.net, hidden=cfg.hidden, num_layers=cfg.num_layers,
                      transform=cfg.coupling, transform_options=options, net_options=net_options)
            for _ in range(cfg.num_steps)])
        self.base = make_base(cfg.base, pose_dim, cfg.student_df)
        self._cond_weight_cache: tuple[tuple, Tensor, Tensor] | None = None

    # ---- conditions --------------------------------------------------------------------
    @property
    def tau(self) -> int:
        return self.cfg.tau

    @property
    def lookahead(self) -> int:
        return self.cfg.lookahead

    def couplings(self) -> list[Coupling]:
        """The K couplings, first to last."""
        return [step.parts[2] for step in self.flow.parts]

    def _data_condition(self, poses: Tensor, control: Tensor, keep: Tensor | None) -> Tensor:
        """The condition without the style part, ``(B, T, data_cond_dim)``."""
        tau, la = self.tau, self.lookahead
        B, n, D = poses.shape if poses.dim() == 3 else (0, 0, -1)
        T = n - tau
        if D != self.pose_dim or T < 1:
            raise ValueError(f"poses must be (B, tau + T, {self.pose_dim}) with T >= 1 (tau={tau}), "
                             f"got {tuple(poses.shape)}")
        if control.dim() != 3 or control.shape[0] != B or control.shape[2] != self.control_dim \
                or control.shape[1] < tau + T + la:
            raise ValueError(f"control must be (B={B}, tau + T + lookahead = {tau + T + la}, {self.control_dim}), "
                             f"got {tuple(control.shape)}")
        parts = []
        if tau > 0:
            prev = poses[:, :-1].unfold(1, tau, 1).transpose(-1, -2)  # (B, T, tau, D), oldest first
            if keep is not None:
                if keep.shape != (B, T, tau):
                    raise ValueError(f"keep must be (B, T, tau) = {(B, T, tau)}, got {tuple(keep.shape)}")
                prev = prev * keep.unsqueeze(-1).to(prev.dtype)
            parts.append(prev.reshape(B, T, tau * D))
        ctrl = control[:, : tau + T + la].unfold(1, tau + 1 + la, 1).transpose(-1, -2)  # (B, T, tau+1+la, C)
        parts.append(ctrl.reshape(B, T, -1))
        return torch.cat(parts, -1)

    def _style_vector(self, style: Tensor | None, batch: int, like: Tensor) -> Tensor | None:
        """``(B, style_embedding)``; a style of -1 (unknown) gets the zero vector."""
        if self.style is None:
            return None
        if style is None:
            return like.new_zeros(batch, self.cfg.style_embedding)
        known = (style >= 0).unsqueeze(-1).to(like.dtype)
        return self.style(style.clamp_min(0)) * known

    def condition(self, poses: Tensor, control: Tensor, keep: Tensor | None = None,
                  style: Tensor | None = None) -> Tensor:
        """The condition of each target frame.

        Args:
            poses: ``(B, tau + T, D)`` normalised poses; the first ``tau`` are context, the
                last ``T`` the targets (their own values are not used here).
            control: ``(B, tau + T + lookahead, C)`` normalised control, ``control[:, i]``
                belonging to ``poses[:, i]``.
            keep: ``(B, T, tau)`` bool, False where data dropout replaces that context pose
                by 0 (the mean pose); None keeps all.
            style: ``(B,)`` int64 style index (-1: none); used when the model has a style embedding.

        Returns:
            ``(B, T, cond_dim)``: ``[tau previous poses (oldest first), control of frames
            t-tau … t+lookahead, style embedding]``.
        """
        data = self._data_condition(poses, control, keep)
        sv = self._style_vector(style, data.shape[0], data)
        if sv is None:
            return data
        return torch.cat([data, sv.unsqueeze(1).expand(-1, data.shape[1], -1)], -1)

    # ---- the condition's share of every coupling's first layer ---------------------------
    def _stacked_cond_weight(self) -> tuple[Tensor, Tensor]:
        """``(W (K * G, cond_dim), b (K * G,))``: every coupling's condition map, stacked.
        Cached while gradients are off (sampling); rebuilt when a parameter changes."""
        cps = self.couplings()
        if torch.is_grad_enabled():
            self._cond_weight_cache = None
        else:
            key = tuple((p.data_ptr(), p._version) for c in cps for p in c.net.input_layer.parameters())
            if self._cond_weight_cache is not None and self._cond_weight_cache[0] == key:
                return self._cond_weight_cache[1], self._cond_weight_cache[2]
        ws, bs = zip(*(c.cond_weight() for c in cps))
        w, b = torch.cat(ws, 0), torch.cat(bs, 0)
        if not torch.is_grad_enabled():
            # stored column-major: F.linear then reads it as a contiguous (cond_dim, K*G)
            # matrix, about 20% faster per sampled frame (benchmarks/sample_speed.py)
            w = w.t().contiguous().t()
            self._cond_weight_cache = (key, w, b)
        return w, b

    def cond_projections(self, cond: Tensor | None = None, data_cond: Tensor | None = None,
                         style_vec: Tensor | None = None) -> tuple[Tensor, ...]:
        """Each coupling's ``cond_projection``, all in one matrix product.

        Give either ``cond (B, T, cond_dim)`` or its parts ``data_cond (B, T, data_cond_dim)``
        and ``style_vec (B, style_embedding)`` (the style's share is then computed once per
        sequence). Returns K tensors ``(B, T, G)``.
        """
        w, b = self._stacked_cond_weight()
        if cond is not None:
            proj = F.linear(cond, w, b)
        else:
            n = self.data_cond_dim
            proj = F.linear(data_cond, w[:, :n], b)
            if style_vec is not None:
                proj = proj + F.linear(style_vec, w[:, n:]).unsqueeze(1)
        return proj.split(w.shape[0] // self.cfg.num_steps, dim=-1)

    def _flow_condition(self, cond: Tensor | None = None, data_cond: Tensor | None = None,
                        style_vec: Tensor | None = None) -> Tensor | PerPart:
        """The condition :attr:`flow` takes: each coupling's precomputed projection (a
        :class:`PerPart` of :class:`ProjectedCondition`) when the coupling networks prefer
        them (``lstm_impl="stepwise"``, GRU, MLP), else the raw condition ``(B, T, cond_dim)``."""
        if cond is not None and (cond.dim() != 3 or cond.shape[-1] != self.cond_dim):
            raise ValueError(f"condition must be (B, T, {self.cond_dim}), got {tuple(cond.shape)}")
        if self.couplings()[0].net.prefers_projection:
            projections = self.cond_projections(cond, data_cond, style_vec)
            return PerPart(ProjectedCondition(p) for p in projections)
        if cond is None:
            cond = data_cond if style_vec is None else torch.cat(
                [data_cond, style_vec.unsqueeze(1).expand(-1, data_cond.shape[1], -1)], -1)
        return cond

    # ---- likelihood ----------------------------------------------------------------------
    def log_prob(self, batch: dict[str, Tensor]) -> Tensor:
        """Log-likelihood ``(B, T)`` in nats per target frame of a dataset batch.

        ``batch``: ``"poses" (B, tau + T, D)``, ``"control" (B, tau + T + lookahead, C)``,
        optional ``"keep" (B, T, tau)`` bool and ``"style" (B,)`` int64 (see
        :class:`data_pipeline.dataset.WindowDataset`). Each sequence starts with fresh LSTM state.
        """
        poses = batch["poses"]
        data = self._data_condition(poses, batch["control"], batch.get("keep"))
        sv = self._style_vector(batch.get("style"), poses.shape[0], data)
        cond = self._flow_condition(data_cond=data, style_vec=sv)
        z, logdet, _ = self.flow.forward_stateful(poses[:, self.tau:], cond, None)
        return self.base.log_prob(z) + logdet

    forward = log_prob

    def log_prob_stateful(self, x: Tensor, cond: Tensor, state: State = None) -> tuple[Tensor, State]:
        """``x (B, T, D)``, ``cond (B, T, cond_dim)`` -> ``(log p (B, T) nats per frame, state)``;
        ``state`` carries the coupling networks' memory from the previous call (None: fresh)."""
        if x.dim() != 3 or x.shape[-1] != self.pose_dim:
            raise ValueError(f"x must be (B, T, {self.pose_dim}), got {tuple(x.shape)}")
        z, logdet, state = self.flow.forward_stateful(x, self._flow_condition(cond), state)
        return self.base.log_prob(z) + logdet, state

    def latents(self, x: Tensor, cond: Tensor, state: State = None) -> tuple[Tensor, Tensor, State]:
        """``x (B, T, D) -> (z (B, T, D), logdet (B, T), state)``: the flow's forward map."""
        return self.flow.forward_stateful(x, self._flow_condition(cond), state)

    # ---- sampling ------------------------------------------------------------------------
    def sample_stateful(self, cond: Tensor, state: State = None, temperature: float = 1.0,
                        generator: torch.Generator | None = None) -> tuple[Tensor, State]:
        """Draw the poses of ``cond (B, T, cond_dim)`` (usually T = 1, one frame) given the
        state of the previous frames: ``z ~ base * temperature`` (0: z = 0), ``x = flow⁻¹(z)``.
        Returns ``(x (B, T, D), state)``."""
        z = self.base.sample(cond.shape[:2], temperature, generator)
        return self.decode(z, cond, state)

    def decode(self, z: Tensor, cond: Tensor, state: State = None) -> tuple[Tensor, State]:
        """The inverse flow: ``z (B, T, D)`` -> ``(x (B, T, D), state)``."""
        return self.flow.decode_stateful(z, self._flow_condition(cond), state)

    @torch.no_grad()
    def generate(self, context: Tensor, control: Tensor, style: Tensor | None = None,
                 temperature: float = 1.0, generator: torch.Generator | None = None,
                 progress: bool = False) -> Tensor:
        """Autoregressive sampling of ``T`` frames.

        Args:
            context: ``(B, tau, D)`` normalised poses before the first generated frame.
            control: ``(B, tau + T + lookahead, C)`` normalised control aligned with
                ``[context, generated frames]``.
            style: ``(B,)`` style indices or None.
            temperature: latent scale (0: the mode of each step's latent).
            generator: RNG for the latents.
            progress: show a progress bar (one line when stderr is not a terminal).

        Returns:
            ``(B, T, D)`` generated (normalised) poses: :meth:`moglow.streaming.MotionStreamer.generate`,
            the one generation loop of the project.
        """
        return MotionStreamer(self, temperature, generator, style).generate(context, control, progress)

    def num_parameters(self) -> int:
        """Number of trainable parameters."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)


__all__ = ["MoGlow", "ModelConfig", "build_model"]


def build_model(cfg: ModelConfig, pose_dim: int, control_dim: int, style_names: list[str] | None = None) -> MoGlow:
    """The model a config describes: a :class:`MoGlow` for ``pose_dim`` features and ``control_dim``
    control channels, conditioned on every known style when ``cfg.style_embedding`` > 0."""
    num_styles = len(style_names or []) if cfg.style_embedding > 0 else 0
    return MoGlow(cfg, pose_dim, control_dim, num_styles=num_styles)
