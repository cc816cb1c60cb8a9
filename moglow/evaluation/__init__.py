"""Evaluation of motion models: metrics on world positions and the ``moglow evaluate`` pipeline.

- :mod:`moglow.evaluation.metrics`: foot skating, floor penetration, bone-length
  consistency, jerk, diversity, path and heading error (pure numpy).
- :mod:`moglow.evaluation.frechet`: Fréchet distance between sets of motion windows.
- :mod:`moglow.evaluation.evaluate`: ``moglow evaluate`` itself (:func:`evaluate_checkpoint`,
  :func:`evaluate_reference`), built on
  - :mod:`moglow.evaluation.heldout`: the held-out files, read with the checkpoint's own pipeline;
  - :mod:`moglow.evaluation.likelihood`: held-out NLL;
  - :mod:`moglow.evaluation.generation`: motions generated along the held-out takes' paths;
  - :mod:`moglow.evaluation.rows`: the metrics of one row of the table;
  - :mod:`moglow.evaluation.frechet_rows`: the rows' Fréchet distances, like with like;
  - :mod:`moglow.evaluation.result`: :class:`EvaluationResult`, its table and JSON.
- :mod:`moglow.evaluation.config`: the settings (``configs/evaluation.yaml``).
- :mod:`moglow.evaluation.generators`: other generators scored as rows beside the model
  (``--baseline``; plug-ins through the ``moglow.generators`` entry points).
"""
from .config import EvaluationConfig, load_evaluation_config

__all__ = ["EvaluationConfig", "load_evaluation_config"]
