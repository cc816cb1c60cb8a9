"""Foot-contact labels from joint height and speed (per skeleton profile), vectorised over frames.

A foot joint (ankle, toe) is *in contact* while it is both low and slow:

- low: less than ``ContactSpec.height`` metres above its own ground level (``levels``: the
  height of that joint centre above the floor when the foot stands flat, e.g. an ankle rests
  ~12 cm up, a toe joint ~4 cm up);
- slow: its 3-D speed (central differences at the motion's frame rate) is below
  ``ContactSpec.speed`` m/s.

The label is *soft* (a continuous value in (0, 1), so a normalising flow can model it as one
more pose feature without a degenerate density)::

    score = sigmoid((height_limit - h) / height_soft) * sigmoid((speed_limit - v) / speed_soft)

with ``h`` the height above the joint's level (m) and ``v`` the speed (m/s). A score above 0.5
means contact (both conditions roughly met). Units: metres, metres per second.

Example::

    >>> spec = ContactSpec(levels={"Foot_L": 0.117, "Toes_L": 0.042})
    >>> scores = contact_scores(positions_m, fps=20, spec=spec)     # (F, 2)   # doctest: +SKIP
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .typed_config import ConfigError

__all__ = ["ContactSpec", "contact_scores", "joint_speeds", "CONTACT_PREFIX"]

#: feature column prefix of the contact channels (``contact.Foot_L``)
CONTACT_PREFIX = "contact."


@dataclass
class ContactSpec:
    """How a profile's feet touch the floor (YAML: a profile's ``contacts:`` section).

    Attributes:
        levels: file joint name -> its height (m) above the floor when the foot stands flat;
            the keys, in order, are the contact joints (ankle and toe of each foot).
        floor: world height of the floor (m).
        height: a joint is low while less than this (m) above its level.
        speed: a joint is slow while its speed is below this (m/s).
        height_soft: width (m) of the logistic ramp of the height condition.
        speed_soft: width (m/s) of the logistic ramp of the speed condition.
    """

    levels: dict[str, float] = field(default_factory=dict)
    floor: float = 0.0
    height: float = 0.03
    speed: float = 0.3
    height_soft: float = 0.008
    speed_soft: float = 0.08

    @property
    def joints(self) -> list[str]:
        return list(self.levels)

    def validate(self) -> None:
        if not self.levels:
            raise ConfigError("contacts.levels must name at least one foot joint")
        for name in ("height", "speed", "height_soft", "speed_soft"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"contacts.{name} must be positive, got {getattr(self, name)}")

    def level_array(self) -> np.ndarray:
        """(K,) world heights (m) of the contact joints standing flat: ``floor + levels``."""
        return self.floor + np.asarray(list(self.levels.values()), dtype=np.float64)


def joint_speeds(positions: np.ndarray, fps: float) -> np.ndarray:
    """(..., F, K, 3) positions (m) -> (..., F, K) speeds (m/s), central differences (one-sided at the ends)."""
    positions = np.asarray(positions, dtype=np.float64)
    if positions.shape[-3] < 2:
        return np.zeros(positions.shape[:-1])
    vel = np.gradient(positions, axis=-3) * fps
    return np.linalg.norm(vel, axis=-1)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def contact_scores(positions: np.ndarray, fps: float, spec: ContactSpec) -> np.ndarray:
    """Soft contact labels of the contact joints.

    Args:
        positions: (..., F, K, 3) world positions of ``spec.joints`` in that order, metres, Y up.
        fps: frames per second.
        spec: thresholds and ground levels.
    Returns:
        (..., F, K) float32 scores in (0, 1); > 0.5 means contact.
    """
    positions = np.asarray(positions, dtype=np.float64)
    k = len(spec.levels)
    if positions.ndim < 3 or positions.shape[-2:] != (k, 3):
        raise ValueError(f"positions must be (..., F, {k}, 3) for the contact joints {spec.joints}; got "
                         f"{positions.shape}")
    h = positions[..., 1] - spec.level_array()
    v = joint_speeds(positions, fps)
    score = _sigmoid((spec.height - h) / spec.height_soft) * _sigmoid((spec.speed - v) / spec.speed_soft)
    return score.astype(np.float32)
