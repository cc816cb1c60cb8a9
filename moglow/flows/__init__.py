"""The flow toolkit: one bijection core for every model in the project."""
from moglow.flows.base import Bijection, Compose, Inverse, State

__all__ = ["Bijection", "Compose", "Inverse", "State"]
