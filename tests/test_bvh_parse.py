"""BVH reading and writing on small hand-written files."""
from __future__ import annotations

import contextlib
import importlib
import io
import warnings
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from data_pipeline.bvh import BVHError, parse_bvh, read_bvh, read_bvh_folder
from data_pipeline.bvh_writer import format_bvh, write_bvh
from data_pipeline.skeleton import VALID_CHANNELS, Motion, Skeleton
from conftest import require_module


def import_bvh_converter() -> ModuleType:
    """The reference implementation (pip bvh-converter, a dev dependency): skip if missing, fail in CI."""
    require_module("bvh_converter")
    return importlib.import_module("bvh_converter.bvhplayer_skeleton")

CHAIN = """HIERARCHY
ROOT Hips
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
  JOINT Spine
  {
    OFFSET 0 10 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    JOINT Head
    {
      OFFSET 0 5 0
      CHANNELS 3 Zrotation Xrotation Yrotation
      End Site
      {
        OFFSET 0 2 0
      }
    }
  }
}
MOTION
Frames: 2
Frame Time: 0.5
0 0 0 0 0 0 0 0 0 0 0 0
1 2 3 90 0 0 0 0 0 -90 0 0
"""


def test_chain_skeleton_and_values() -> None:
    m = parse_bvh(CHAIN)
    sk = m.skeleton
    assert sk.names == ["Hips", "Spine", "Head", "Head_End"]
    assert sk.parents.tolist() == [-1, 0, 1, 2]
    assert sk.is_end_site.tolist() == [False, False, False, True]
    np.testing.assert_array_equal(sk.offsets, [[0, 0, 0], [0, 10, 0], [0, 5, 0], [0, 2, 0]])
    assert sk.channels[0] == ("Xposition", "Yposition", "Zposition", "Zrotation", "Xrotation", "Yrotation")
    assert sk.channels[3] == ()
    assert m.values.shape == (2, 12)
    np.testing.assert_array_equal(m.values[1], [1, 2, 3, 90, 0, 0, 0, 0, 0, -90, 0, 0])
    assert m.frame_time == 0.5 and m.fps == 2.0


def test_tabs_crlf_and_blank_lines_do_not_matter() -> None:
    text = CHAIN.replace("  ", "\t").replace("\n", "\r\n").replace("MOTION", "\r\nMOTION")
    text = text.replace("0 0 0 0 0 0 0 0 0 0 0 0", "0\t0  0 0 0 0 0 0 0 0 0 0 ") + "\r\n\r\n"
    a, b = parse_bvh(CHAIN), parse_bvh(text)
    assert a.skeleton.names == b.skeleton.names
    np.testing.assert_array_equal(a.values, b.values)
    np.testing.assert_array_equal(a.skeleton.offsets, b.skeleton.offsets)


@pytest.mark.parametrize("header", ["Frames: 2\nFrame Time: 0.5", "Frames:2\nFrame Time:0.5",
                                    "Frames:\t2\nFrame Time:\t0.5", "Frames :  2\nFrame   Time :\t 0.5",
                                    "Frames: 2\n\nFrame Time: 5e-1", "FRAMES: 2\nframe time: 0.50000"])
def test_frame_header_whitespace_variants(header: str) -> None:
    m = parse_bvh(CHAIN.replace("Frames: 2\nFrame Time: 0.5", header))
    assert m.num_frames == 2 and m.frame_time == 0.5


def test_exponents_signs_and_short_forms() -> None:
    text = CHAIN.replace("OFFSET 0 10 0", "OFFSET 1e-3 1.0E+01 -0.")
    text = text.replace("1 2 3 90 0 0 0 0 0 -90 0 0", "+1 2.5e2 -3E-2 .5 -.25 5. 1e0 0.000001 -0 -9e+1 1e-310 7")
    m = parse_bvh(text)
    np.testing.assert_array_equal(m.skeleton.offsets[1], [1e-3, 10.0, 0.0])
    np.testing.assert_array_equal(m.values[1], [1, 250, -0.03, 0.5, -0.25, 5, 1, 1e-6, 0, -90, 1e-310, 7])


def test_bulk_number_parser_agrees_exactly_with_float() -> None:
    """Random numbers in many spellings: the vectorised parser must give float()'s exact bits."""
    rng = np.random.default_rng(0)
    n_chan, n_frames = 7, 600
    x = rng.standard_normal(n_chan * n_frames) * 10.0 ** rng.integers(-9, 9, n_chan * n_frames)
    spellings = ["%.0f", "%.1f", "%.4f", "%.6f", "%.8f", "%.9f", "%.12f", "%e", "%.15g", "%g", "%r", "%+.3f",
                 "%.2E", "%d"]
    tokens = []
    for k, v in enumerate(x):
        spelling = spellings[k % len(spellings)]
        tokens.append(repr(float(v)) if spelling == "%r" else spelling % v)
    tokens[5] = ".5"
    tokens[6] = "-.75"
    tokens[7] = "12."
    tokens[8] = "+0.00000001"
    tokens[9] = "99999999.99999999"  # 16 digits: beyond the bulk path
    tokens[10] = "-12345678.1234567"  # 15 digits: the bulk path's limit
    joints = "".join(f"JOINT J{i}\n{{\nOFFSET 0 0 0\nCHANNELS 1 Xrotation\n" for i in range(n_chan - 1))
    head = f"HIERARCHY\nROOT R\n{{\nOFFSET 0 0 0\nCHANNELS 1 Xposition\n{joints}" + "}\n" * n_chan
    seps = [" ", "\t", "  ", " \t "]
    rows = []
    for f in range(n_frames):
        row = tokens[f * n_chan:(f + 1) * n_chan]
        rows.append(seps[f % 4].join(row) + (" " if f % 3 == 0 else ""))
    text = head + f"MOTION\nFrames: {n_frames}\nFrame Time: 0.01\n" + "\n".join(rows) + "\n"
    m = parse_bvh(text)
    expected = np.array([float(t) for t in tokens]).reshape(n_frames, n_chan)
    assert np.array_equal(m.values, expected)  # bit for bit, not approximately


def test_position_channels_on_any_joint_and_any_order() -> None:
    text = """HIERARCHY
ROOT A
{
\tOFFSET 1 2 3
\tCHANNELS 2 Yrotation Xposition
\tJOINT B
\t{
\t\tOFFSET 4 5 6
\t\tCHANNELS 6 Xrotation Zposition Yrotation Xposition Zrotation Yposition
\t\tJOINT C
\t\t{
\t\t\tOFFSET 0 0 0
\t\t\tCHANNELS 1 Zrotation
\t\t}
\t}
}
MOTION
Frames: 1
Frame Time: 0.1
1 2 3 4 5 6 7 8 9
"""
    m = parse_bvh(text)
    assert m.skeleton.channels == [("Yrotation", "Xposition"),
                                   ("Xrotation", "Zposition", "Yrotation", "Xposition", "Zrotation", "Yposition"),
                                   ("Zrotation",)]
    assert m.skeleton.channel_offsets.tolist() == [0, 2, 8, 9]
    np.testing.assert_array_equal(m.values, [[1, 2, 3, 4, 5, 6, 7, 8, 9]])


def test_end_site_names_are_unique() -> None:
    text = """HIERARCHY
ROOT Hand
{
OFFSET 0 0 0
CHANNELS 3 Xrotation Yrotation Zrotation
End Site
{
OFFSET 1 0 0
}
End Site
{
OFFSET 0 1 0
}
JOINT Hand_End
{
OFFSET 0 0 1
CHANNELS 1 Xrotation
}
}
MOTION
Frames: 1
Frame Time: 0.1
0 0 0 0
"""
    sk = parse_bvh(text).skeleton
    assert sk.names == ["Hand", "Hand_End2", "Hand_End3", "Hand_End"]
    assert sk.is_end_site.tolist() == [False, True, True, False]


def test_zero_length_bones_and_names_with_spaces() -> None:
    text = ("HIERARCHY\nROOT Root Node {\nOFFSET 0 0 0\nCHANNELS 3 Xposition Yposition Zposition\n"
            "JOINT Left Hand {\nOFFSET 0 0 0\nCHANNELS 3 Zrotation Yrotation Xrotation\n}\n}\n"
            "MOTION\nFrames: 1\nFrame Time: 0.008333\n0 0 0 0 0 0\n")
    m = parse_bvh(text)
    assert m.skeleton.names == ["Root Node", "Left Hand"]
    assert m.values.shape == (1, 6)
    np.testing.assert_array_equal(m.skeleton.offsets, 0)


def random_skeleton(rng: np.random.Generator, n_joints: int = 12) -> Skeleton:
    """Random tree with 0 to 6 channels per joint in random order and some End Sites."""
    names, parents, offsets, channels, end = [], [], [], [], []
    for j in range(n_joints):
        names.append(f"joint{j}")
        parents.append(-1 if j == 0 else int(rng.integers(0, j)))
        offsets.append(rng.normal(size=3) * 10 if rng.random() > 0.2 else np.zeros(3))
        k = int(rng.integers(1, 7)) if j == 0 else int(rng.integers(0, 7))
        channels.append(tuple(rng.permutation(VALID_CHANNELS)[:k]))
        end.append(False)
    # End Sites under some leaves, appended in depth-first order by rebuilding the tree.
    children: dict[int, list[int]] = {j: [] for j in range(n_joints)}
    for j in range(1, n_joints):
        children[parents[j]].append(j)
    order: list[tuple[int, int | None]] = []

    def visit(j: int) -> None:
        order.append((j, None))
        for c in children[j]:
            visit(c)
        if not children[j] and rng.random() < 0.7:
            order.append((-1, j))

    visit(0)
    new_index: dict[int, int] = {}
    out_names, out_parents, out_offsets, out_channels, out_end = [], [], [], [], []
    for pos, (j, end_of) in enumerate(order):
        if end_of is None:
            new_index[j] = pos
            out_names.append(names[j])
            out_parents.append(-1 if j == 0 else new_index[parents[j]])
            out_offsets.append(offsets[j])
            out_channels.append(channels[j])
            out_end.append(False)
        else:
            out_names.append(f"{names[end_of]}_End")
            out_parents.append(new_index[end_of])
            out_offsets.append(rng.normal(size=3))
            out_channels.append(())
            out_end.append(True)
    return Skeleton(out_names, out_parents, out_offsets, out_channels, out_end)


def random_motion(rng: np.random.Generator, frames: int = 30) -> Motion:
    sk = random_skeleton(rng)
    values = rng.uniform(-180, 180, size=(frames, sk.num_channels))
    return Motion(sk, values, frame_time=1 / 30)


def test_write_then_read_gives_back_skeleton_and_values(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    for trial in range(5):
        m = random_motion(rng)
        path = tmp_path / f"m{trial}.bvh"
        write_bvh(m, path)
        back = read_bvh(path)
        assert back.skeleton.names == m.skeleton.names
        np.testing.assert_array_equal(back.skeleton.parents, m.skeleton.parents)
        assert back.skeleton.channels == m.skeleton.channels
        np.testing.assert_array_equal(back.skeleton.is_end_site, m.skeleton.is_end_site)
        np.testing.assert_allclose(back.skeleton.offsets, m.skeleton.offsets, atol=1e-6)
        np.testing.assert_allclose(back.values, m.values, atol=1e-6)
        assert back.frame_time == m.frame_time
        assert back.source == str(path)


def test_written_file_has_standard_layout_and_opens_in_another_reader(tmp_path: Path) -> None:
    path = tmp_path / "chain.bvh"
    write_bvh(parse_bvh(CHAIN), path)
    text = path.read_text()
    lines = text.splitlines()
    assert lines[:3] == ["HIERARCHY", "ROOT Hips", "{"]
    assert "\tJOINT Spine" in lines and "\t\t\tEnd Site" in lines and "\t\t\t\tOFFSET 0.000000 2.000000 0.000000" in lines
    assert lines[lines.index("MOTION") + 1:lines.index("MOTION") + 3] == ["Frames: 2", "Frame Time: 0.5"]
    assert lines[-1] == " ".join(["1.000000", "2.000000", "3.000000", "90.000000"] + ["0.000000"] * 5
                                 + ["-90.000000", "0.000000", "0.000000"])
    # bvh-converter's reader (an independent implementation) accepts it.
    bvh_converter = import_bvh_converter()
    with contextlib.redirect_stdout(io.StringIO()):
        other = bvh_converter.process_bvhfile(str(path))
    assert other.frames == 2 and len(other.keyframes[1]) == 12
    np.testing.assert_allclose(other.keyframes[1], parse_bvh(CHAIN).values[1])


def test_read_folder_fails_on_bad_file_or_skips_it_with_warning(tmp_path: Path) -> None:
    (tmp_path / "a.bvh").write_text(CHAIN)
    (tmp_path / "c.bvh").write_text(CHAIN)
    (tmp_path / "b.bvh").write_text(CHAIN.replace("-90 0 0\n", "-90 0\n"))
    (tmp_path / "ignored.txt").write_text("not bvh")
    with pytest.raises(BVHError, match=r"b\.bvh, line 25: expected 12 values"):
        read_bvh_folder(tmp_path, progress=False)
    with pytest.warns(UserWarning, match=r"skipping bad BVH file: .*b\.bvh, line 25"):
        motions = read_bvh_folder(tmp_path, skip_bad=True, progress=False)
    assert [Path(m.source).name for m in motions] == ["a.bvh", "c.bvh"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(read_bvh_folder(tmp_path, pattern="[ac].bvh", progress=False)) == 2
    with pytest.raises(FileNotFoundError, match="no files matching"):
        read_bvh_folder(tmp_path, pattern="*.nothing", progress=False)
    with pytest.raises(FileNotFoundError, match="not found"):
        read_bvh_folder(tmp_path / "missing", progress=False)


def test_format_refuses_non_finite_values() -> None:
    m = parse_bvh(CHAIN)
    m.values[0, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        format_bvh(m)


def test_hierarchy_tokens_need_not_be_on_separate_lines() -> None:
    head, motion = CHAIN.split("MOTION")
    one_line = " ".join(head.split()) + "\nMOTION" + motion
    a, b = parse_bvh(CHAIN), parse_bvh(one_line)
    assert a.skeleton.names == b.skeleton.names and a.skeleton.channels == b.skeleton.channels
    np.testing.assert_array_equal(a.skeleton.offsets, b.skeleton.offsets)
    np.testing.assert_array_equal(a.values, b.values)
