"""Toy 2-D baselines: datasets with known entropy and the flows compared on them.

- ``data``: two moons and eight Gaussians (``get_dataset``), exact / quadrature
  log-densities, entropy floors, fixed test and validation sets.
- ``paaf``: piecewise affine activation functions (``PAAF``) and a fixed ``LeakyReLU``.
- ``shared``: the shared-weight invertible network (``SharedWeightFlow``, ``shared_inn``).
- ``augment``: the augmentation bijection (``Augmentation``).
- ``models``: ``ToyModelConfig``, ``build_model``, ``FlowModel``, ``AugmentedFlowModel``.
- ``gbnf``: gradient-boosted normalising flows (``GBNF``, ``fit_gbnf``).
- ``train``: ``TrainConfig``, ``train_model``, ``evaluate``, ``density_on_grid``.
- ``run``: ``run_experiment`` (used by ``moglow toy`` and ``benchmarks/toy_results.py``).

Results: ``docs/results_toy.md``.
"""
