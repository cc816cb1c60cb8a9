"""The frame decoder's elementwise kernels: the float32 LSTM cell with one sigmoid for the four gates,
and the no-copy check of the recurrent state it hands back (:mod:`moglow.frame_decoder`)."""
from __future__ import annotations

import torch
from torch import Tensor

#: batch size up to which the LSTM cell takes ``tanh`` (fewer operations) rather than sigmoids
FEW_ROWS = 8


def consecutive_views(parts: list, shape: tuple[int, ...], like: Tensor) -> Tensor | None:
    """The ``(len(parts), *shape)`` tensor whose slices are ``parts`` (contiguous tensors of
    ``shape`` lying one after the other in one storage, as the views ``FrameDecoder.decode``
    returns), without a copy; None if they are not. (Checked by address: views made under
    ``torch.inference_mode`` do not record their base.)"""
    first = parts[0]
    if first is None or first.dtype != like.dtype or first.device != like.device:
        return None
    size, storage = first.numel() * first.element_size(), first.untyped_storage().data_ptr()
    for k, p in enumerate(parts):
        if (p is None or p.shape != shape or not p.is_contiguous() or p.dtype != first.dtype
                or p.data_ptr() != first.data_ptr() + k * size or p.untyped_storage().data_ptr() != storage):
            return None
    n = first.numel()
    return first.as_strided((len(parts), *shape), (n, *first.stride()))


def lstm_cell(a: Tensor, c_prev: Tensor, h_out: Tensor, c_out: Tensor) -> Tensor:
    """One LSTM cell update; ``a (B, 4H)`` float32 pre-activations in gate order i, f, o, -2g
    (the g rows scaled: see ``moglow.frame_decoder._gate_order``; overwritten); writes and returns
    ``h_out (B, H)``, writes ``c_out``. One sigmoid for the four gates (``tanh(g) = 1 - 2
    sigmoid(-2g)``); ``tanh(c)`` likewise for batches (for a few rows a ``tanh`` costs less
    than the extra operation)."""
    H = c_prev.shape[1]
    return lstm_cell_views(a, (a[:, :H], a[:, H: 2 * H], a[:, 2 * H: 3 * H], a[:, 3 * H:]), c_prev, h_out, c_out)


def lstm_cell_views(a: Tensor, gates: tuple[Tensor, Tensor, Tensor, Tensor], c_prev: Tensor, h_out: Tensor,
                    c_out: Tensor) -> Tensor:
    """:func:`lstm_cell` given the views ``gates = (i, f, o, g)`` of ``a`` made beforehand (a
    caller that reuses one buffer makes them once). The gates, ``c_prev``, ``h_out`` and ``c_out``
    may be any views of one shape whose second-last dimension is the batch (``(B, H)``, or the
    ``(H / block, B, block)`` blocks of :mod:`moglow.many_rows`)."""
    a.sigmoid_()
    i, f, o, sg = gates
    torch.addcmul(i, i, sg, value=-2.0, out=c_out).addcmul_(f, c_prev)  # c = i tanh(g) + f c'
    if c_prev.shape[-2] <= FEW_ROWS:
        return torch.tanh(c_out, out=h_out).mul_(o)
    t = torch.mul(c_out, -2.0, out=h_out).sigmoid_()  # sigmoid(-2c)
    return torch.addcmul(o, o, t, value=-2.0, out=h_out)  # h = o tanh(c) = o - 2 o sigmoid(-2c)


__all__ = ["FEW_ROWS", "consecutive_views", "lstm_cell", "lstm_cell_views"]
