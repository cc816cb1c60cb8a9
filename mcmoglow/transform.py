"""McMoGlow's matrix-affine transform: ``y2 = A(x1, c) (x2 + b(x1, c))`` with an invertible ``A`` per frame.

MoGlow's coupling scales each transformed feature on its own (``y2 = s * (x2 + b)``);
McMoGlow lets the coupling network output a whole invertible matrix per frame, so the
transformed features are also mixed with each other, conditioned on the frame's context.

Parameterisation (invertible by construction, cheap to invert)
------------------------------------------------------------------
``A = L · D · U`` (``variant="ldu"``) or ``A = L · D`` (``variant="lower"``), where

- ``D = diag(s)`` with ``s`` exactly MoGlow's scale (:class:`~moglow.flows.transforms.AffineTransform`:
  ``sigmoid(h + 2) + eps`` or a softly clamped ``exp``), so ``log|det A| = Σ log s``;
- ``L = I + N_L`` and ``U = I + N_U`` are unit lower / upper triangular; the strictly
  triangular ``N`` come from the network's raw outputs ``R`` through a row-wise soft clamp
  (below).

Convention: shift, then the matrix, as MoGlow shifts then scales:
``y2 = L (D (U (x2 + b)))``; inverse ``x2 = U⁻¹ (D⁻¹ (L⁻¹ y2)) - b`` (two unit-triangular
solves and a division). With every off-diagonal output 0 the transform *is*
:class:`AffineTransform` (same output, same log-det), and since couplings zero-initialise
their network's output layer, a McMoGlow model starts exactly like MoGlow.

Parameter layout (last axis of ``params``, ``P = num_params(d)``):
``[b (d), h (d), R_L (d(d-1)/2), R_U (d(d-1)/2, "ldu" only)]`` — the first ``2d`` mean
exactly what AffineTransform's mean. ``R_L`` holds the ``d(d-1)/2`` strictly lower
entries in the folded order of :class:`mcmoglow.triangle.FoldedTriangle` (packed entry
``k`` is ``N_L[rows[k], cols[k]]``); ``R_U`` fills the strictly upper triangle the same
way through the feature reversal ``J``: ``N_U = J M(R_U) J``. The order is arbitrary to the
network (its output layer learns it) and is chosen so that unpacking is a reshape.

Conditioning guard (row-wise soft clamp)
----------------------------------------
Each row ``r`` of a raw triangle is rescaled so that its L1 norm becomes
``ρ tanh(‖R_r‖₁ / ρ)`` (``ρ = offdiag_bound``, default 1): ``N_r = R_r · ρ tanh(‖R_r‖₁/ρ) / ‖R_r‖₁``.
Near 0 this is the identity (``N ≈ R``), and ``‖N‖_∞ < ρ`` always. Because ``N`` is
nilpotent, ``L⁻¹ = Σ_{k<d} (−N)^k``, so
``cond_∞(L) = ‖L‖_∞ ‖L⁻¹‖_∞ ≤ (1 + ρ) · S``, ``S = Σ_{k=0}^{d-1} ρ^k`` (``S = d`` for ``ρ = 1``,
``≤ 1/(1-ρ)`` for ``ρ < 1``), and the same for ``U``. Hence

- ``cond_∞(A) ≤ cond(D) · [(1 + ρ) S]²`` (ldu) or ``cond(D) · (1 + ρ) S`` (lower), with
  ``cond(D) = max s / min s`` — the factor MoGlow's own elementwise coupling already has;
- ``cond_2(A) ≤ d · cond_∞(A)``.

For ``ρ = 1`` and ``d = 32`` (pose dim 63) the off-diagonal factor is at most
``(2·32)² = 4096`` (ldu) / ``64`` (lower); :func:`mixing_condition_bound` computes it.
A row can still put almost all of ``ρ`` on one entry (add nearly the whole of one feature
to another within one coupling; K steps compose). :func:`condition_numbers` measures ``cond_2(A)`` for logging.

Cost per frame (``d`` transformed features, ``H`` network width)
----------------------------------------------------------------
============  =======================  ==============================  ===============================
variant       params per frame ``P``    network output layer (MACs)     transform fwd / inv (MACs)
============  =======================  ==============================  ===============================
affine        ``2d``                    ``2dH``                         ``d`` / ``d``
lower         ``2d + d(d-1)/2``         ``(2d + d(d-1)/2) H``           ``≈ d²/2`` / ``≈ d²/2`` (1 solve)
ldu           ``d² + d``                ``(d² + d) H``                  ``≈ d²`` / ``≈ d²`` (2 solves)
============  =======================  ==============================  ===============================

(plus ``O(d²)`` for the row clamp). MoGlow locomotion (pose dim 63 → ``d = 32``, ``H = 512``):
affine 64 params, lower 560, ldu 1056; the output layer grows from 33k to 287k (lower) or
541k (ldu) MACs per frame per coupling, against ≈ 4.5M MACs for the coupling's 2-layer
LSTM, so the network dominates: a McMoGlow training step measured 1.07-1.14× MoGlow's at paper
size on CPU (``benchmarks/mcmoglow_step_time.py``; ``docs/results_mcmoglow.md``). In a tiny
model (1 LSTM layer of 64 units) the transform is not small: 2.1× (ldu), 1.6× (lower).

Implementation: ``A`` is never formed. The forward is ``L (D (U v))`` with each strict
triangle kept folded into a ``ceil(d/2) × (d-1)`` rectangle (:mod:`mcmoglow.triangle`): a
triangular matrix-vector product is one elementwise product with a strided window of
``v`` and two masked row sums, and the row clamp scales the product vector,
``N v = g ⊙ (M v)``, not the matrix. The inverse forms the two clamped triangles and uses
:func:`torch.linalg.solve_triangular` (``unitriangular=True``). Measured with
``benchmarks/mcmoglow_step_time.py --micro`` (CPU, 1 thread, d = 32, 960-7000 frames,
forward + backward, relative to the folded version): forming ``A = L D U`` first 3.4-4.4×,
``matmul`` / einsum / multiply-sum on clamped ``(…, d, d)`` triangles 1.9-2.5×, a
gather/``index_add`` version on the packed entries 1.0-1.2× (and ``index_add`` is
non-deterministic on CUDA). Inverse: two triangular solves are 1.5-2.2× faster than a
general solve with ``A``.

Example::

    >>> t = MatrixAffineTransform("ldu")
    >>> d = 5; params = 0.3 * torch.randn(7, t.num_params(d))
    >>> x2 = torch.randn(7, d)
    >>> y2, logdet = t(x2, params)                    # logdet (7,) = log|det A|
    >>> torch.allclose(t.inverse(y2, params)[0], x2, atol=1e-5)
    True

Reference: the matrix-valued coupling of McMoGlow, on top of MoGlow (Henter, Alexanderson &
Beskow, "MoGlow: Probabilistic and controllable motion synthesis using normalising flows",
SIGGRAPH Asia 2020).
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import Tensor, nn

from mcmoglow.triangle import FoldedTriangle
from moglow.flows.transforms import AffineTransform, TransformFamily

VARIANTS = ("ldu", "lower")


def num_offdiag(dim: int) -> int:
    """Entries of one strict triangle of a ``dim × dim`` matrix: ``dim (dim - 1) / 2``."""
    return dim * (dim - 1) // 2


def mixing_condition_bound(dim: int, variant: str = "ldu", offdiag_bound: float = 1.0) -> float:
    """Upper bound on ``cond_∞(L) · cond_∞(U)`` (``ldu``) or ``cond_∞(L)`` (``lower``), the
    factor by which the off-diagonal part can raise the ∞-norm condition number of ``A``
    above MoGlow's ``max s / min s`` (see the module docstring)."""
    rho = float(offdiag_bound)
    series = float(dim) if rho == 1.0 else (1.0 - rho ** dim) / (1.0 - rho)
    one = (1.0 + rho) * series
    return one * one if variant == "ldu" else one


def _row_clamp_factor(row_l1: Tensor, bound: float) -> Tensor:
    """``g = bound * tanh(r / bound) / r`` for row L1 norms ``r (...)`` (``g -> 1`` as ``r -> 0``),
    so that the row ``g · R_row`` has L1 norm ``bound * tanh(r / bound) < bound``."""
    small = row_l1 < 1e-4 * bound
    r_safe = torch.where(small, torch.ones_like(row_l1), row_l1)
    return torch.where(small, 1.0 - (row_l1 / bound) ** 2 / 3.0, bound * torch.tanh(r_safe / bound) / r_safe)


class MatrixAffineTransform(TransformFamily):
    """Matrix-affine transform ``y2 = L D U (x2 + b)`` (``ldu``) or ``L D (x2 + b)`` (``lower``).

    Args:
        variant: ``"ldu"`` (full matrix, ``P = d² + d``) or ``"lower"`` (lower triangular,
            ``P = 2d + d(d-1)/2``).
        scale, eps, clamp: the diagonal's positivity function, exactly as
            :class:`~moglow.flows.transforms.AffineTransform`.
        offdiag_bound: ``ρ``, the bound on each row's L1 norm of the strictly triangular
            parts (row-wise tanh soft clamp); bounds the condition number (module docstring).

    ``forward(x2 (..., d), params (..., P)) -> (y2 (..., d), logdet (...))``; ``inverse``
    likewise with ``logdet = -log|det A|``. Shapes of ``x2`` and ``params`` must agree on
    the leading axes (MoGlow: ``(B, T, ·)``).
    """

    def __init__(self, variant: str = "ldu", scale: str = "sigmoid", eps: float = 1e-6,
                 clamp: float | None = 2.0, offdiag_bound: float = 1.0):
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"MatrixAffineTransform: variant must be one of {VARIANTS}, got {variant!r}")
        if not offdiag_bound > 0:
            raise ValueError(f"MatrixAffineTransform: offdiag_bound must be positive, got {offdiag_bound}")
        self.variant, self.offdiag_bound = variant, float(offdiag_bound)
        self.diagonal = AffineTransform(scale=scale, eps=eps, clamp=clamp)
        self._triangles: dict[int, FoldedTriangle] = {}

    def extra_repr(self) -> str:
        return f"variant={self.variant!r}, offdiag_bound={self.offdiag_bound}"

    #: logged by the trainer at each validation (:meth:`diagnostics`)
    diagnostic_names = ("cond_max", "cond_median", "offdiag_row_l1_max")

    @classmethod
    def diagnostics(cls, model, batch) -> dict[str, float]:
        """Condition numbers of the model's coupling matrices on ``batch``
        (:func:`model_condition_stats`), the :attr:`diagnostic_names` of them."""
        stats = model_condition_stats(model, batch)
        return {k: stats[k] for k in cls.diagnostic_names if k in stats}

    # ---- layout --------------------------------------------------------------------------
    def num_params(self, dim: int) -> int:
        """``2d + d(d-1)/2`` (lower) or ``d² + d`` (ldu)."""
        return 2 * dim + num_offdiag(dim) * (2 if self.variant == "ldu" else 1)

    def dim_from_params(self, num_params: int) -> int:
        """The ``d`` with ``num_params(d) == num_params`` (ValueError if there is none)."""
        disc = 1 + 4 * num_params if self.variant == "ldu" else 9 + 8 * num_params
        d = (round(disc ** 0.5) - (1 if self.variant == "ldu" else 3)) // 2
        if d < 1 or self.num_params(d) != num_params:
            raise ValueError(f"{num_params} is not a parameter count of the {self.variant!r} variant")
        return d

    def triangle(self, d: int) -> FoldedTriangle:
        """The folded layout of one ``d × d`` strict triangle (cached per ``d``)."""
        if d not in self._triangles:
            self._triangles[d] = FoldedTriangle(d)
        return self._triangles[d]

    def _parts(self, params: Tensor, d: int):
        """``(b, s, log_s, (R_L, g_L), (R_U, g_U) or None)``: raw triangles as
        :class:`FoldedTriangle` rectangles and the row clamp factors ``(..., d)``.

        ``N_L = diag(g_L) M(R_L)`` and ``N_U = J diag(g_U) M(R_U) J`` where ``M(R)`` is the
        strictly lower matrix of rectangle ``R`` and ``J`` reverses the feature order
        (so ``N_U`` is strictly upper). ``d = 1`` has no off-diagonals: ``(None, None)``.
        """
        P = self.num_params(d)
        if params.shape[-1] != P:
            raise ValueError(f"MatrixAffineTransform({self.variant!r}): expected {P} params for {d} features, "
                             f"got {params.shape[-1]}")
        b, s, log_s = self.diagonal.shift_logscale(params[..., : 2 * d], d)
        if d == 1:
            return b, s, log_s, None, None
        tri, m, rho = self.triangle(d), num_offdiag(d), self.offdiag_bound
        r_lo = tri.rect(params[..., 2 * d: 2 * d + m])
        lower = (r_lo, _row_clamp_factor(tri.row_l1(r_lo), rho))
        upper = None
        if self.variant == "ldu":
            r_up = tri.rect(params[..., 2 * d + m:])
            upper = (r_up, _row_clamp_factor(tri.row_l1(r_up), rho))
        return b, s, log_s, lower, upper

    def factors(self, params: Tensor, d: int) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor | None]:
        """``params (..., P)`` -> ``(b (..., d), s (..., d), log_s (..., d), N_L (..., d, d),
        N_U (..., d, d) or None)``: the clamped strictly triangular parts, ``L = I + N_L``,
        ``D = diag(s)``, ``U = I + N_U``."""
        b, s, log_s, lower, upper = self._parts(params, d)
        if lower is None:
            z = params.new_zeros(*params.shape[:-1], 1, 1)
            return b, s, log_s, z, (z if self.variant == "ldu" else None)
        tri = self.triangle(d)
        n_lo = lower[1].unsqueeze(-1) * tri.dense(lower[0])
        n_up = None if upper is None else (upper[1].unsqueeze(-1) * tri.dense(upper[0])).flip(-2, -1)
        return b, s, log_s, n_lo, n_up

    def matrix(self, params: Tensor, d: int) -> Tensor:
        """``A = L D U`` (or ``L D``) as explicit matrices ``(..., d, d)`` (for analysis, not the flow)."""
        _, s, _, n_lo, n_up = self.factors(params, d)
        eye = torch.eye(d, dtype=params.dtype, device=params.device)
        a = (eye + n_lo) * s.unsqueeze(-2)
        return a if n_up is None else a @ (eye + n_up)

    # ---- the map -------------------------------------------------------------------------
    def forward(self, x2: Tensor, params: Tensor) -> tuple[Tensor, Tensor]:
        d = x2.shape[-1]
        b, s, log_s, lower, upper = self._parts(params, d)
        v = x2 + b
        if upper is not None:  # U v = v + J (g_U ⊙ M(R_U) (J v)); the clamp scales a vector, not a matrix
            tri = self.triangle(d)
            v = v + (upper[1] * tri.matvec(upper[0], v.flip(-1))).flip(-1)
        v = v * s
        if lower is not None:  # L v = v + g_L ⊙ M(R_L) v
            v = v + lower[1] * self.triangle(d).matvec(lower[0], v)
        return v, log_s.sum(-1)

    def inverse(self, y2: Tensor, params: Tensor) -> tuple[Tensor, Tensor]:
        d = y2.shape[-1]
        b, s, log_s, n_lo, n_up = self.factors(params, d)
        v = torch.linalg.solve_triangular(n_lo, y2.unsqueeze(-1), upper=False, unitriangular=True)
        v = v / s.unsqueeze(-1)
        if n_up is not None:
            v = torch.linalg.solve_triangular(n_up, v, upper=True, unitriangular=True)
        return v.squeeze(-1) - b, -log_s.sum(-1)

    def inverse_sample(self, y2: Tensor, params: Tensor) -> Tensor:
        """``x2`` of :meth:`inverse` in fewer operations (no log-determinant; each clamped
        triangle scattered straight from its packed parameters, row norms on the dense rows):
        what the frame decoder runs every frame. Equal to :meth:`inverse` to float rounding."""
        d = y2.shape[-1]
        if d == 1:
            return self.inverse(y2, params)[0]
        b, s, _ = self.diagonal.shift_logscale(params[..., : 2 * d], d)
        m, tri, rho = num_offdiag(d), self.triangle(d), self.offdiag_bound

        # N = diag(g) M with g = rho tanh(r / rho) / r, the row clamp of _row_clamp_factor without its
        # small-r series branch (there for the gradient; a value needs none) and its scalar operations
        def clamped(packed: Tensor) -> Tensor:
            raw = tri.dense_packed(packed)
            r = raw.abs().sum(-1).clamp_min_(1e-30)  # tanh(r)/r is 1 - r^2/3 to float rounding for small r
            g = torch.tanh(r).div_(r) if rho == 1.0 else torch.tanh(r / rho).mul_(rho).div_(r)
            return raw.mul_(g.unsqueeze(-1))

        v = torch.linalg.solve_triangular(clamped(params[..., 2 * d: 2 * d + m]), y2.unsqueeze(-1),
                                          upper=False, unitriangular=True).div_(s.unsqueeze(-1))
        if self.variant == "ldu":
            v = torch.linalg.solve_triangular(clamped(params[..., 2 * d + m:]).flip(-2, -1), v,
                                              upper=True, unitriangular=True)
        return v.squeeze(-1).sub_(b)


@torch.no_grad()
def condition_numbers(transform: MatrixAffineTransform, params: Tensor, dim: int | None = None) -> Tensor:
    """2-norm condition number ``cond(A) = σ_max / σ_min`` of each frame's matrix.

    Args:
        transform: the coupling's :class:`MatrixAffineTransform`.
        params: ``(..., P)`` its parameters (the coupling network's output).
        dim: ``d``, the transformed features (None: inferred from ``P``).

    Returns:
        ``(...)`` float64 condition numbers (1 = orthogonal-like; MoGlow's elementwise
        coupling gives ``max s / min s``).
    """
    if dim is None:
        dim = transform.dim_from_params(params.shape[-1])
    a = transform.matrix(params.double(), dim)
    sv = torch.linalg.svdvals(a)
    return sv[..., 0] / sv[..., -1]


def make_matrix_transform(variant: str = "ldu", scale: str = "sigmoid", eps: float = 1e-6,
                          clamp: float | None = 2.0, offdiag_bound: float = 1.0) -> MatrixAffineTransform:
    """Registry factory of ``"matrix"`` (``get_transform("matrix", variant=..., scale=...)``)."""
    return MatrixAffineTransform(variant=variant, scale=scale, eps=eps, clamp=clamp, offdiag_bound=offdiag_bound)


# ---- the conditioning of a model's coupling matrices (training diagnostics) ----------------------
def matrix_transforms(model: nn.Module) -> list[MatrixAffineTransform]:
    """Every :class:`MatrixAffineTransform` inside ``model``, in module order."""
    return [m for m in model.modules() if isinstance(m, MatrixAffineTransform)]


@contextmanager
def recorded_params(model: nn.Module) -> Iterator[list[tuple[MatrixAffineTransform, list[Tensor]]]]:
    """While active, every call of a matrix transform in ``model`` appends its ``params``
    (detached) to that transform's list: yields ``[(transform, [params, ...]), ...]``."""
    records = [(t, []) for t in matrix_transforms(model)]
    handles = []
    for t, store in records:
        handles.append(t.register_forward_hook(lambda mod, inp, out, store=store: store.append(inp[1].detach())))
    try:
        yield records
    finally:
        for h in handles:
            h.remove()


def _spread(x: Tensor, n: int) -> Tensor:
    """``x (N, P)`` -> at most ``n`` rows, evenly spaced."""
    if x.shape[0] <= n:
        return x
    idx = torch.linspace(0, x.shape[0] - 1, n, device=x.device).round().long()
    return x[idx]


@torch.no_grad()
def model_condition_stats(model: nn.Module, batch: dict[str, Tensor], max_frames: int = 256) -> dict[str, float]:
    """Condition numbers of every coupling matrix on the frames of ``batch``.

    Args:
        model: a :class:`moglow.model.MoGlow` with ``coupling: matrix`` (or any module whose
            ``log_prob(batch)`` runs :class:`MatrixAffineTransform` couplings).
        batch: a dataset batch (``"poses" (B, tau+T, D)``, ``"control"``, ...).
        max_frames: frames per coupling used (evenly spread; SVDs are not free).

    Returns:
        Flat dict of floats (empty if the model has no matrix couplings):
        ``cond_max`` / ``cond_median``: ``cond_2(A)`` over couplings and frames;
        ``cond_diag_max``: largest ``max s / min s``, what MoGlow's elementwise scale alone
        would give; ``offdiag_row_l1_max``: largest row L1 norm of the triangles, as a
        fraction of the bound ``ρ`` (near 1: the soft clamp is saturated);
        ``cond_bound_mixing``: the guaranteed bound on the off-diagonal factor (∞-norm).
    """
    was_training = model.training
    model.eval()
    try:
        with recorded_params(model) as records:
            if not records:
                return {}
            model.log_prob(batch)
    finally:
        model.train(was_training)
    conds, diag, row = [], [], []
    bound = 0.0
    for t, store in records:
        if not store:
            continue
        params = _spread(torch.cat([p.reshape(-1, p.shape[-1]) for p in store]), max_frames).double()
        d = t.dim_from_params(params.shape[-1])
        conds.append(condition_numbers(t, params, d))
        _, s, _, n_lo, n_up = t.factors(params, d)
        diag.append(s.amax(-1) / s.amin(-1))
        tri = n_lo if n_up is None else torch.cat([n_lo, n_up], -2)
        row.append(tri.abs().sum(-1).amax(-1) / t.offdiag_bound)
        bound = max(bound, mixing_condition_bound(d, t.variant, t.offdiag_bound))
    c = torch.cat(conds)
    return {"cond_max": float(c.max()), "cond_median": float(c.median()),
            "cond_diag_max": float(torch.cat(diag).max()), "offdiag_row_l1_max": float(torch.cat(row).max()),
            "cond_bound_mixing": bound}


__all__ = ["matrix_transforms", "recorded_params", "model_condition_stats"]

__all__ = ["MatrixAffineTransform", "condition_numbers", "mixing_condition_bound", "num_offdiag",
           "make_matrix_transform", "VARIANTS", "matrix_transforms", "recorded_params",
           "model_condition_stats"]
