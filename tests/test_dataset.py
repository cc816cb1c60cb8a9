"""WindowDataset: shapes, alignment, data dropout, reproducibility, lazy memory."""
from __future__ import annotations

import tracemalloc
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from data_pipeline.dataset import ShortSequenceWarning, WindowDataset
from data_pipeline.scaler import Scaler


def _indexed_sequence(n: int, seq_id: int, d: int = 4, style=None):
    """poses[:, k] = frame index (+ 1000 * seq_id), control[:, 0] = frame index: any misalignment shows."""
    frames = np.arange(n, dtype=np.float32) + 1000 * seq_id
    poses = np.repeat(frames[:, None], d, axis=1)
    control = np.stack([frames, -frames, np.full(n, seq_id, np.float32)], axis=1)
    return SimpleNamespace(poses=poses, control=control, style=style, source=f"seq{seq_id}")


def test_item_shapes_and_alignment():
    seqs = [_indexed_sequence(30, 0, style="walk"), _indexed_sequence(25, 1), _indexed_sequence(41, 2, style="run")]
    tau, L, la = 5, 10, 3
    ds = WindowDataset(seqs, seq_len=L, tau=tau, lookahead=la, style_names=["run", "walk"])
    assert len(ds) == sum(n - (tau + L + la) + 1 for n in (30, 25, 41))
    seen_starts = set()
    for i in range(len(ds)):
        item = ds[i]
        assert item["poses"].shape == (tau + L, 4) and item["poses"].dtype == torch.float32
        assert item["control"].shape == (tau + L + la, 3)
        assert item["keep"].shape == (L, tau) and item["keep"].dtype == torch.bool and item["keep"].all()
        assert item["style"].shape == () and item["style"].dtype == torch.int64
        p, c = item["poses"][:, 0], item["control"][:, 0]
        # consecutive frames of a single sequence
        assert torch.all(p[1:] - p[:-1] == 1) and torch.all(c[1:] - c[:-1] == 1)
        # control[i] belongs to poses[i]
        assert torch.equal(c[: tau + L], p)
        seq = int(item["control"][0, 2])
        assert item["style"].item() == {0: 1, 1: -1, 2: 0}[seq]
        seen_starts.add(int(p[0]))
    # every valid start appears exactly once
    expect = {1000 * s + k for s, n in enumerate((30, 25, 41)) for k in range(n - (tau + L + la) + 1)}
    assert seen_starts == expect and len(expect) == len(ds)
    assert torch.equal(ds[-1]["poses"], ds[len(ds) - 1]["poses"])
    with pytest.raises(IndexError):
        ds[len(ds)]


def test_stride_and_scalers_and_style_id():
    seqs = [_indexed_sequence(40, 0)]
    seqs[0].style_id = 3
    ps = Scaler(np.full(4, 10.0), np.full(4, 2.0))
    cs = Scaler(np.zeros(3), np.full(3, 4.0))
    ds = WindowDataset(seqs, seq_len=4, tau=2, stride=5, scaler=ps, control_scaler=cs)
    assert len(ds) == (40 - 6) // 5 + 1
    item = ds[2]
    np.testing.assert_allclose(item["poses"][:, 0].numpy(), (np.arange(10, 16) - 10) / 2)
    np.testing.assert_allclose(item["control"][:, 0].numpy(), np.arange(10, 16) / 4)
    assert item["style"].item() == 3


def test_short_sequences_skipped_and_counted():
    seqs = [_indexed_sequence(n, i) for i, n in enumerate((5, 20, 14, 15))]
    with pytest.warns(ShortSequenceWarning, match="skipped 2 of 4"):
        ds = WindowDataset(seqs, seq_len=10, tau=4, lookahead=1)
    assert ds.num_skipped == 2 and ds.skipped_sources == ["seq0", "seq2"]
    assert len(ds) == (20 - 15 + 1) + 1
    with pytest.raises(ValueError, match="no sequence"):
        with pytest.warns(ShortSequenceWarning):
            WindowDataset(seqs[:1], seq_len=10, tau=4)


def test_dropout_rate_and_off_when_zero():
    seqs = [_indexed_sequence(400, 0)]
    p = 0.3
    ds = WindowDataset(seqs, seq_len=20, tau=10, dropout=p, seed=0)
    keep = torch.stack([ds[i]["keep"] for i in range(len(ds))])
    n = keep.numel()
    rate = 1.0 - keep.float().mean().item()
    assert abs(rate - p) < 4 * np.sqrt(p * (1 - p) / n), (rate, n)
    # independent per (target frame, context slot): no slot and no target frame is special
    per_slot = 1.0 - keep.float().mean(dim=(0, 1))
    per_target = 1.0 - keep.float().mean(dim=(0, 2))
    assert per_slot.min() > p - 0.05 and per_slot.max() < p + 0.05
    assert per_target.min() > p - 0.05 and per_target.max() < p + 0.05
    # drawn when the item is drawn: a new epoch gives a different mask; the same epoch the same
    a = ds[7]["keep"]
    assert torch.equal(a, ds[7]["keep"])
    ds.set_epoch(1)
    assert not torch.equal(a, ds[7]["keep"])
    ds0 = WindowDataset(seqs, seq_len=20, tau=10, dropout=0.0)
    assert all(ds0[i]["keep"].all() for i in range(0, len(ds0), 17))


def test_dropout_reproducible_across_workers_and_order():
    seqs = [_indexed_sequence(120, 0), _indexed_sequence(90, 1)]
    ds = WindowDataset(seqs, seq_len=8, tau=6, dropout=0.5, seed=123)
    ds.set_epoch(2)
    direct = torch.stack([ds[i]["keep"] for i in range(len(ds))])
    loader = DataLoader(ds, batch_size=16, shuffle=False, num_workers=2)
    via_workers = torch.cat([b["keep"] for b in loader])
    assert torch.equal(direct, via_workers)
    # unseeded: reproducible under torch.manual_seed
    ds_u = WindowDataset(seqs, seq_len=8, tau=6, dropout=0.5)
    torch.manual_seed(5)
    a = torch.stack([ds_u[i]["keep"] for i in range(20)])
    torch.manual_seed(5)
    b = torch.stack([ds_u[i]["keep"] for i in range(20)])
    assert torch.equal(a, b)


def test_memory_is_lazy():
    """Memory grows with frames, not frames x window: compare tau=2 with tau=200."""
    rng = np.random.default_rng(0)
    seqs = [SimpleNamespace(poses=rng.normal(size=(3000, 60)).astype(np.float32),
                            control=rng.normal(size=(3000, 3)).astype(np.float32), style=None)
            for _ in range(10)]
    data_bytes = sum(s.poses.nbytes + s.control.nbytes for s in seqs)
    peaks, sizes = [], []
    for tau in (2, 200):
        tracemalloc.start()
        ds = WindowDataset(seqs, seq_len=50, tau=tau, dropout=0.2, seed=0)
        for i in range(0, len(ds), 97):  # drawing items must not build a cache either
            ds[i]
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        sizes.append(ds.nbytes)
        del ds
    # one copy of the data plus small overhead, in both cases
    assert peaks[0] < 1.2 * data_bytes and peaks[1] < 1.2 * data_bytes, (peaks, data_bytes)
    assert sizes[0] == sizes[1] or abs(sizes[0] - sizes[1]) < 1000
    # (an eager implementation would hold ~ (tau + seq_len) x data_bytes for tau=200)


def test_bad_arguments():
    s = [_indexed_sequence(30, 0)]
    with pytest.raises(ValueError, match="dropout"):
        WindowDataset(s, seq_len=5, tau=2, dropout=1.0)
    with pytest.raises(ValueError, match="seq_len"):
        WindowDataset(s, seq_len=0, tau=2)
    bad = SimpleNamespace(poses=np.zeros((10, 2)), control=np.zeros((9, 3)))
    with pytest.raises(ValueError, match="same F"):
        WindowDataset([bad], seq_len=2, tau=1)
