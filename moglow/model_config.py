"""Settings of the MoGlow / McMoGlow flow (YAML: the ``model:`` part of an experiment).

Example::

    >>> ModelConfig(num_steps=4, hidden=64).cond_dim(pose_dim=63, control_dim=3)
    663
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from data_pipeline.typed_config import ConfigError


@dataclass
class ModelConfig:
    """The flow's architecture.

    Attributes:
        coupling: transform family of the couplings: ``"affine"`` (MoGlow), ``"additive"``,
            ``"matrix"`` (McMoGlow, from the ``mcmoglow`` package), or any family installed in the
            ``moglow.transforms`` entry-point group.
        matrix_variant: McMoGlow's matrix parameterisation, ``"ldu"`` or ``"lower"``.
        num_steps: K, the number of flow steps (ActNorm, LU linear map, coupling).
        hidden: width of the coupling networks.
        net: coupling network, ``"lstm"`` (MoGlow), ``"gru"`` or ``"mlp"``.
        num_layers: recurrent layers (LSTM/GRU) or hidden layers (MLP) per coupling network.
        tau: previous poses in the condition of each frame (at least 1: the start bank and
            sampling need a context).
        lookahead: future control frames in the condition.
        scale: the affine coupling's scale, ``"sigmoid"`` (``sigmoid(h + 2) + eps``) or
            ``"exp"`` (softly clamped ``exp``).
        base: latent distribution, ``"normal"`` or ``"student_t"``.
        student_df: degrees of freedom of the Student-t base.
        style_embedding: size of the learnt style embedding appended to the condition
            (0: no style condition).
        lstm_impl: how the LSTM couplings run (same maths, same parameters):
            ``"fused"``, PyTorch's LSTM kernel (oneDNN / cuDNN) on ``[x1, cond]``, or
            ``"stepwise"``, a time loop that takes the condition's share of the first layer
            precomputed for all couplings in one product. See
            ``benchmarks/train_throughput.py`` for which is faster on a machine.
    """

    coupling: str = "affine"
    matrix_variant: Literal["ldu", "lower"] = "ldu"
    num_steps: int = 16
    hidden: int = 512
    net: Literal["lstm", "gru", "mlp"] = "lstm"
    num_layers: int = 2
    tau: int = 10
    lookahead: int = 0
    scale: Literal["sigmoid", "exp"] = "sigmoid"
    base: Literal["normal", "student_t"] = "normal"
    student_df: float = 5.0
    style_embedding: int = 0
    lstm_impl: Literal["fused", "stepwise"] = "fused"

    def validate(self) -> None:
        """Raise ValueError naming the first bad value."""
        from moglow.flows.transforms import available_transforms

        if self.coupling not in available_transforms():
            raise ConfigError(f"coupling must be one of {', '.join(available_transforms())}, got {self.coupling!r}")
        for name, low in (("num_steps", 1), ("hidden", 1), ("num_layers", 1), ("tau", 1),
                          ("lookahead", 0), ("style_embedding", 0)):
            if getattr(self, name) < low:
                raise ConfigError(f"{name} must be at least {low}, got {getattr(self, name)}")
        if not self.student_df > 0:
            raise ConfigError(f"student_df must be positive, got {self.student_df}")

    def cond_dim(self, pose_dim: int, control_dim: int) -> int:
        """Condition features per frame: ``tau`` poses, ``tau + 1 + lookahead`` controls and
        the style embedding."""
        return self.tau * pose_dim + (self.tau + 1 + self.lookahead) * control_dim + self.style_embedding
