"""Which arithmetic sampling runs: ``precision="auto"`` (the default of the sampling functions,
the Python API and ``moglow sample``) resolved per device and batch size.

:func:`auto_precision` picks ``"bf16"`` only where it is known to be clearly faster, else
``"fp32"``; :func:`sampling_decoder` turns a precision into the
:class:`moglow.frame_decoder.FrameDecoder` that runs it (``"auto"`` resolved to float32: the
float32 decoder, the model's maths to float rounding in fewer operations, when the couplings
are LSTMs) or None for the model's own path. ``benchmarks/sample_speed.py`` prints what
``"auto"`` resolved to beside the speed of every choice.

Example::

    >>> from moglow.model import ModelConfig, MoGlow
    >>> model = MoGlow(ModelConfig(num_steps=2, hidden=16, tau=3), pose_dim=6, control_dim=3).eval()
    >>> precision, decoder = sampling_decoder(model, "auto", batch=1)
    >>> precision, type(decoder).__name__        # on a CPU: float32 through the frame decoder
    ('fp32', 'FrameDecoder')
    >>> sampling_decoder(model, "fp32", batch=1)   # explicit fp32: the model's own path
    ('fp32', None)
"""
from __future__ import annotations

import torch
from torch import nn

from moglow.cli_checks import UsageError
from moglow.frame_decoder import PRECISIONS, FrameDecoder, frame_decoder

#: what the sampling functions and commands accept: ``"auto"`` or one of :data:`PRECISIONS`
PRECISION_CHOICES = ("auto",) + PRECISIONS


def auto_precision(device: torch.device | str, batch: int) -> str:
    """The precision ``"auto"`` resolves to for ``batch`` characters on ``device``: ``"bf16"``
    only where it is known to be clearly faster, else ``"fp32"``.

    - CPU, one character: ``"fp32"``. The frame is memory bound; the 16-bit matrix-vector
      kernels do not stream at memory speed (on the development CPU, AVX2: bf16 0.9x, fp16
      0.9x the float32 decoder's frames/s, ``benchmarks/sample_speed.py``).
    - CPU, a batch: ``"bf16"`` on CPUs with native bf16 matrix instructions (AMX tiles;
      oneDNN's bf16 products there run at several times the float32 rate), else ``"fp32"``
      (on AVX2 a bf16 batch ran at 1/6 of float32: the products are emulated).
    - CUDA and other devices: ``"fp32"`` (not measured yet; ``benchmarks/gpu_check.sh`` times
      both).
    """
    device = torch.device(device)
    if device.type == "cpu" and batch > 1 and _cpu_has_amx():
        return "bf16"
    return "fp32"


def _cpu_has_amx() -> bool:
    """True on CPUs with AMX tiles (native bf16 matrix products in oneDNN)."""
    try:
        return "AMX" in torch.backends.cpu.get_cpu_capability().upper()
    except (AttributeError, RuntimeError):  # pragma: no cover - older torch
        return False


def sampling_decoder(model: nn.Module, precision: str, batch: int) -> tuple[str, FrameDecoder | None]:
    """``(precision, decoder)`` for sampling ``batch`` characters: ``precision`` one of
    :data:`PRECISION_CHOICES`, ``"auto"`` resolved by :func:`auto_precision`. The decoder is
    the model's :func:`frame_decoder` (for ``"auto"`` resolved to ``"fp32"``: the float32 one,
    the model's maths to float rounding, when the couplings are LSTMs), or None for the
    model's own maths (``"fp32"`` given explicitly; ``"auto"`` with other couplings)."""
    from moglow.flows.conditioners import LSTMNet

    if precision not in PRECISION_CHOICES:
        raise UsageError(f"precision must be one of {', '.join(PRECISION_CHOICES)}; got {precision!r}")
    auto = precision == "auto"
    if auto:
        precision = auto_precision(next(model.parameters()).device, batch)
    lstm = all(isinstance(c.net, LSTMNet) for c in model.couplings())  # type: ignore[operator]
    if precision == "fp32" and not (auto and lstm):
        return "fp32", None
    if auto and not lstm:
        return "fp32", None
    return precision, frame_decoder(model, precision)


__all__ = ["PRECISION_CHOICES", "auto_precision", "sampling_decoder"]
