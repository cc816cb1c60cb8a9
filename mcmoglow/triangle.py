"""Strictly triangular ``d × d`` matrices stored folded into a ``ceil(d/2) × (d-1)`` rectangle.

Row ``i`` of a strictly lower triangular matrix has ``i`` entries and row ``d-1-i`` has
``d-1-i``: together exactly ``n = d - 1``. Rectangle row ``i`` (``i < ceil(d/2)``) holds
``[row d-1-i reversed, row i]``; for odd ``d`` the middle row pairs with itself and the
first ``(d-1)/2`` cells of the last rectangle row are zero padding. The packed parameter
vector (``d(d-1)/2`` entries) is that rectangle read row by row (padding left out), so
for even ``d`` unpacking is a free reshape.

Why: with ``u = [v_{n-1}, …, v_0, v_0, …, v_{n-1}]`` the values that rectangle row ``i``
multiplies are the window ``u[i : i + n]``, a strided view (``Tensor.unfold``). So the
matrix-vector product ``M v`` is one elementwise product over ``d(d-1)/2`` cells and two
masked row sums: no ``d × d`` matrix, no gather/scatter, half the memory traffic of a
dense triangular product (``benchmarks/mcmoglow_step_time.py --micro`` measures it).

Example::

    >>> tri = FoldedTriangle(4)
    >>> x = torch.arange(1.0, 7.0)                       # 6 = 4·3/2 packed entries
    >>> tri.dense(tri.rect(x))
    tensor([[0., 0., 0., 0.],
            [6., 0., 0., 0.],
            [5., 4., 0., 0.],
            [3., 2., 1., 0.]])
    >>> v = torch.tensor([1.0, 2.0, 3.0, 4.0])
    >>> tri.matvec(tri.rect(x), v)                       # == dense @ v
    tensor([ 0.,  6., 13., 10.])
"""
from __future__ import annotations

import torch
from torch import Tensor


class FoldedTriangle:
    """Layout helpers for strictly lower triangular ``d × d`` matrices (``d >= 2``).

    ``rect(x (..., d(d-1)/2)) -> R (..., h, n)`` with ``h = ceil(d/2)``, ``n = d - 1``;
    ``matvec(R, v (..., d)) -> M v (..., d)``; ``row_sums(P (..., h, n)) -> (..., d)``;
    ``row_l1(R) -> (..., d)``; ``dense(R) -> M (..., d, d)``. Row 0 is always empty.
    """

    def __init__(self, d: int):
        if d < 2:
            raise ValueError(f"FoldedTriangle needs d >= 2, got {d}")
        self.d, self.n, self.h = d, d - 1, (d + 1) // 2
        self.pad = self.n - (self.h - 1) if d % 2 else 0  # zero cells at the start of the last row
        i = torch.arange(self.h).unsqueeze(-1)
        c = torch.arange(self.n)
        self._right = c >= self.n - i  # (h, n): cell belongs to row i (else to row d-1-i)
        rows = torch.where(self._right, i, d - 1 - i)
        cols = torch.where(self._right, i + c - self.n, self.n - 1 - i - c)
        valid = torch.ones(self.h, self.n, dtype=torch.bool)
        if self.pad:
            valid[-1, : self.pad] = False
        self._cells = valid.flatten().nonzero().squeeze(-1)  # rectangle cells holding parameters
        self.rows, self.cols = rows.flatten()[self._cells], cols.flatten()[self._cells]  # per packed entry
        self._cache: dict[tuple, tuple[Tensor, Tensor, Tensor]] = {}

    def _consts(self, like: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``(mask_right, mask_left)`` as ``like``'s dtype/device and the flat ``d × d`` positions."""
        key = (like.dtype, like.device)
        if key not in self._cache:
            right = self._right.to(like.device, like.dtype)
            self._cache[key] = (right, 1.0 - right, (self.rows * self.d + self.cols).to(like.device))
        return self._cache[key]

    def rect(self, x: Tensor) -> Tensor:
        """Packed ``x (..., d(d-1)/2)`` -> rectangle ``(..., h, n)`` (a view for even ``d``)."""
        lead = x.shape[:-1]
        if self.pad:
            k = (self.h - 1) * self.n
            x = torch.cat([x[..., :k], x.new_zeros(*lead, self.pad), x[..., k:]], -1)
        return x.reshape(*lead, self.h, self.n)

    def row_sums(self, p: Tensor) -> Tensor:
        """Per-cell values ``p (..., h, n)`` -> the sum over each matrix row ``(..., d)``."""
        right, left, _ = self._consts(p)
        s_right = (p * right).sum(-1)  # rows 0 .. h-1
        s_left = (p * left).sum(-1).flip(-1)  # rows d-h .. d-1
        if self.d % 2:
            s_left = s_left[..., 1:]  # the middle row's left half is padding
        return torch.cat([s_right, s_left], -1)

    def window(self, v: Tensor) -> Tensor:
        """``v (..., d) -> (..., h, n)``: the entry of ``v`` each cell multiplies (strided view)."""
        u = torch.cat([v[..., : self.n].flip(-1), v[..., : self.n]], -1)
        return u.unfold(-1, self.n, 1)[..., : self.h, :]

    def matvec(self, r: Tensor, v: Tensor) -> Tensor:
        """``M v``: ``r (..., h, n)`` rectangle, ``v (..., d)`` -> ``(..., d)``."""
        return self.row_sums(r * self.window(v))

    def row_l1(self, r: Tensor) -> Tensor:
        """L1 norm of each matrix row ``(..., d)``."""
        return self.row_sums(r.abs())

    def dense_packed(self, x: Tensor) -> Tensor:
        """Packed ``x (..., d(d-1)/2)`` -> the strictly lower triangular matrix ``(..., d, d)``
        (``dense(rect(x))`` in one scatter)."""
        _, _, flat = self._consts(x)
        lead = x.shape[:-1]
        return x.new_zeros(*lead, self.d * self.d).index_copy_(-1, flat, x).view(*lead, self.d, self.d)

    def dense(self, r: Tensor) -> Tensor:
        """Rectangle ``(..., h, n)`` -> the strictly lower triangular matrix ``(..., d, d)``."""
        return self.dense_packed(r.reshape(*r.shape[:-2], -1)[..., self._cells.to(r.device)])


__all__ = ["FoldedTriangle"]
