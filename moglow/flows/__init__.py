"""The flow toolkit: one bijection core for every model in the project."""
from moglow.flows.actnorm import ActNorm, all_initialized, broadcast_actnorm
from moglow.flows.base import Bijection, Compose, Inverse, PerPart, State, StatefulBijection
from moglow.flows.conditioners import CouplingNet, GRUNet, LSTMNet, MLPNet, make_net
from moglow.flows.coupling import Coupling, ProjectedCondition
from moglow.flows.distributions import BaseDistribution, StandardNormal, StudentT, make_base
from moglow.flows.glow import glow_flow, glow_step
from moglow.flows.linear import LULinear
from moglow.flows.transforms import (AdditiveTransform, AffineTransform, TransformFamily, available_transforms,
                                     get_transform, register_transform)

__all__ = [
    "Bijection", "StatefulBijection", "Compose", "Inverse", "PerPart", "State",
    "ActNorm", "all_initialized", "broadcast_actnorm", "LULinear",
    "TransformFamily", "AffineTransform", "AdditiveTransform", "get_transform", "register_transform",
    "available_transforms",
    "CouplingNet", "MLPNet", "LSTMNet", "GRUNet", "make_net", "Coupling", "ProjectedCondition",
    "BaseDistribution", "StandardNormal", "StudentT", "make_base",
    "glow_step", "glow_flow",
]
