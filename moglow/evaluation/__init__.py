"""Evaluation of motion models: metrics on world positions and the ``moglow evaluate`` pipeline.

- :mod:`moglow.evaluation.metrics`: foot skating, floor penetration, bone-length
  consistency, jerk, diversity, path and heading error (pure numpy).
- :mod:`moglow.evaluation.frechet`: Fréchet distance between sets of motion windows.
- :mod:`moglow.evaluation.evaluate`: held-out NLL, generation along held-out paths, the table.
- :mod:`moglow.evaluation.config`: the settings (``configs/evaluation.yaml``).
- :mod:`moglow.evaluation.generators`: other generators scored as rows beside the model
  (``--baseline``; plug-ins through the ``moglow.generators`` entry points).
"""
from .config import EvaluationConfig, load_evaluation_config

__all__ = ["EvaluationConfig", "load_evaluation_config"]
