"""McMoGlow: MoGlow with a matrix-valued coupling, ``y2 = A(x1, c) (x2 + b(x1, c))``.

The ``"matrix"`` transform family reaches the core through the ``moglow.transforms``
entry point that ``setup.py`` declares (the core never imports this package), so a MoGlow
config switches to McMoGlow with one value (``model.coupling: matrix``, ``model.matrix_variant:
ldu | lower``). See :mod:`mcmoglow.transform` for the parameterisation, its cost and the
conditioning bound and the training diagnostics, and ``mcmoglow/README.md`` for the comparison
with MoGlow.
"""
from mcmoglow.transform import (VARIANTS, MatrixAffineTransform, condition_numbers, make_matrix_transform,
                                matrix_transforms, mixing_condition_bound, model_condition_stats, num_offdiag,
                                recorded_params)
from mcmoglow.triangle import FoldedTriangle

__all__ = ["MatrixAffineTransform", "condition_numbers", "mixing_condition_bound", "num_offdiag",
           "make_matrix_transform", "VARIANTS", "FoldedTriangle", "matrix_transforms", "model_condition_stats",
           "recorded_params"]
