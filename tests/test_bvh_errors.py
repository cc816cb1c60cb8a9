"""Bad BVH input: every case raises one BVHError naming the file, the line and the problem."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from data_pipeline.bvh import BVHError, parse_bvh, parse_bvh_bytes, read_bvh

from test_bvh_parse import CHAIN  # noqa: E402  (the 3-joint chain; line numbers below refer to it)
# Line numbers in CHAIN: 9 Spine's CHANNELS, 10 JOINT Head, 21 MOTION, 22 Frames, 23 Frame Time,
# 24 and 25 the two frames.
FRAME_0 = "0 0 0 0 0 0 0 0 0 0 0 0"
FRAME_1 = "1 2 3 90 0 0 0 0 0 -90 0 0"

CASES = {
    # name: (text, line, pattern in the problem)
    "truncated in the hierarchy": (CHAIN[:CHAIN.index("JOINT Head") + 20],
                                   12, r"'Head' \(opened on line 10\) is never closed"),
    "truncated mid frame line": (CHAIN[:-8],
                                 25, r"expected 12 values on a frame line, found 9 \(file truncated\?\)"),
    "truncated after a frame line": (CHAIN[:CHAIN.index(FRAME_1)],
                                     24, r"announces 2 frames but the file has 1"),
    "truncated in the MOTION header": (CHAIN[:CHAIN.index("Frame Time")],
                                       23, r"expected 'Frame Time: <seconds>'"),
    "too many values on a line": (CHAIN.replace(FRAME_0, FRAME_0 + " 0"),
                                  24, r"expected 12 values on a frame line, found 13"),
    "too few values on a line": (CHAIN.replace(FRAME_0, FRAME_0[:-2]),
                                 24, r"expected 12 values on a frame line, found 11$"),
    "non-numeric value": (CHAIN.replace(FRAME_1, "1 2 abc 90 0 0 0 0 0 -90 0 0"),
                          25, r"value 3: 'abc' is not a number"),
    "decimal comma": (CHAIN.replace(FRAME_1, "1 2 3,5 90 0 0 0 0 0 -90 0 0"),
                      25, r"value 3: '3,5' is not a number"),
    "NaN value": (CHAIN.replace(FRAME_1, "1 2 3 NaN 0 0 0 0 0 -90 0 0"),
                  25, r"value 4: 'NaN' is not a finite number"),
    "infinite value": (CHAIN.replace(FRAME_0, "0 0 0 0 0 0 0 -inf 0 0 0 0"),
                       24, r"value 8: '-inf' is not a finite number"),
    "overflowing value": (CHAIN.replace(FRAME_0, "0 0 0 0 0 0 0 1e999 0 0 0 0"),
                          24, r"value 8: '1e999' overflows"),
    "control byte": (CHAIN.replace(FRAME_1, "1 2\x013 90 0 0 0 0 0 -90 0 0"), 25, r"control character"),
    "missing MOTION": (CHAIN[:CHAIN.index("MOTION")], 21, r"no MOTION section"),
    "fewer frames than Frames:": (CHAIN.replace("Frames: 2", "Frames: 3"),
                                  25, r"'Frames:' on line 22 announces 3 frames but the file has 2"),
    "more frames than Frames:": (CHAIN.replace("Frames: 2", "Frames: 1"),
                                 25, r"more frame lines than the 1 announced by 'Frames:' on line 22"),
    "bad Frames count": (CHAIN.replace("Frames: 2", "Frames: two"),
                         22, r"Frames: expected a whole number, found 'two'"),
    "missing Frames line": (CHAIN.replace("Frames: 2\n", ""),
                            22, r"expected 'Frames: <count>', found 'Frame Time: 0.5'"),
    "zero frame time": (CHAIN.replace("Frame Time: 0.5", "Frame Time: 0"),
                        23, r"Frame Time must be a positive number"),
    "unknown channel": (CHAIN.replace("CHANNELS 3 Zrotation Xrotation Yrotation\n    JOINT",
                                      "CHANNELS 3 Zrotation Wrotation Yrotation\n    JOINT"),
                        9, r"unknown channel name 'Wrotation' in 'Spine'"),
    "channel listed twice": (CHAIN.replace("CHANNELS 3 Zrotation Xrotation Yrotation\n    JOINT",
                                           "CHANNELS 3 Zrotation Xrotation Zrotation\n    JOINT"),
                             9, r"channel Zrotation listed twice"),
    "too many channels": (CHAIN.replace("CHANNELS 6", "CHANNELS 7"),
                          5, r"expected a count from 0 to 6, found '7'"),
    "duplicate joint name": (CHAIN.replace("JOINT Head", "JOINT Spine"),
                             10, r"duplicate joint name 'Spine' \(first on line 6\)"),
    "empty file": ("", 1, r"empty file"),
    "blank file": (" \n\t\r\n", 1, r"empty file"),
    "not a BVH": ("hello world\n", 1, r"expected 'HIERARCHY' at the start of the file, found 'hello'"),
    "missing closing brace": (CHAIN.replace("}\nMOTION", "MOTION"),
                              20, r"'Hips' \(opened on line 2\) is never closed"),
    "extra closing brace": (CHAIN.replace("}\nMOTION", "}\n}\nMOTION"), 21, r"'}' with no matching '\{'"),
    "extra opening brace": (CHAIN.replace("OFFSET 0 5 0", "{ OFFSET 0 5 0"),
                            12, r"unexpected '\{' inside 'Head'"),
    "short OFFSET": (CHAIN.replace("OFFSET 0 5 0", "OFFSET 0 5"),
                     13, r"OFFSET of 'Head': 'CHANNELS' is not a number"),
    "NaN OFFSET": (CHAIN.replace("OFFSET 0 5 0", "OFFSET 0 nan 0"),
                   12, r"OFFSET of 'Head': 'nan' is not a finite number"),
    "End Site with channels": (CHAIN.replace("OFFSET 0 2 0", "OFFSET 0 2 0\nCHANNELS 1 Xrotation"),
                               17, r"End Site cannot have CHANNELS"),
    "unknown keyword": (CHAIN.replace("OFFSET 0 5 0", "OFFSET 0 5 0\nSCALE 2"),
                        13, r"unknown keyword 'SCALE' in 'Head'"),
    "second ROOT": (CHAIN.replace("MOTION", "ROOT Other\n{\nOFFSET 0 0 0\n}\nMOTION"), 21, r"a second ROOT"),
    # issue 12: an empty motion, an absurd frame count, a count that does not match the names
    "zero frames": (CHAIN.replace("Frames: 2", "Frames: 0").replace(FRAME_0 + "\n", "").replace(FRAME_1 + "\n", ""),
                    22, r"'Frames: 0': the file holds no motion"),
    "frame count in the billions": (CHAIN.replace("Frames: 2", "Frames: 4000000000"),
                                    22, r"announces 4000000000 frames but only 3 lines follow"),
    "channel count above the names": (CHAIN.replace("CHANNELS 3 Zrotation Xrotation Yrotation\n    JOINT",
                                                    "CHANNELS 4 Zrotation Xrotation Yrotation\n    JOINT"),
                                      9, r"CHANNELS of 'Spine': the count says 4 but 3 channel names follow"),
    "channel count below the names": (CHAIN.replace("CHANNELS 3 Zrotation Xrotation Yrotation\n    JOINT",
                                                    "CHANNELS 2 Zrotation Xrotation Yrotation\n    JOINT"),
                                      9, r"the count says 2 but 3 channel names follow"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_gives_one_clear_error(name: str) -> None:
    text, line, pattern = CASES[name]
    with pytest.raises(BVHError, match=pattern) as info:
        parse_bvh(text, source="take_042.bvh")
    err = info.value
    assert isinstance(err, ValueError)
    assert (err.source, err.line) == ("take_042.bvh", line), str(err)
    assert str(err).startswith(f"take_042.bvh, line {line}: ")
    # Raised by the parser itself, not chained from an exception inside numpy or float().
    assert err.__cause__ is None and err.__context__ is None


def test_the_first_problem_in_the_file_is_reported() -> None:
    text = CHAIN.replace(FRAME_0, "0 0 0 0 0 0 0 0 0 x 0 0").replace(FRAME_1, FRAME_1 + " 5")
    with pytest.raises(BVHError, match=r"line 24: value 10: 'x' is not a number"):
        parse_bvh(text)


def test_binary_files_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "take.bvh"
    rng = np.random.default_rng(0)
    path.write_bytes(b"\x1f\x8b\x08\x00" + rng.integers(0, 256, 500, dtype=np.uint8).tobytes())  # like gzip
    with pytest.raises(BVHError, match=r"take\.bvh, line \d+: binary data"):
        read_bvh(path)
    with pytest.raises(BVHError, match="binary data"):
        parse_bvh_bytes(CHAIN.encode().replace(b"90", b"9\x000"))


def test_errors_from_files_name_the_path(tmp_path: Path) -> None:
    path = tmp_path / "walk_01.bvh"
    path.write_text(CHAIN.replace(FRAME_1, "1 2 3"))
    with pytest.raises(BVHError) as info:
        read_bvh(path)
    assert str(path) in str(info.value) and info.value.line == 25
    with pytest.raises(FileNotFoundError):
        read_bvh(tmp_path / "missing.bvh")


def test_huge_file_with_one_bad_value_names_its_line() -> None:
    """The bulk path finds the problem, the slow path names it: check both agree on big input."""
    rows = [FRAME_0] * 5000
    rows[3777] = FRAME_0.replace("0 0 0 0", "0 0 0 1.2.3", 1)
    text = CHAIN.replace("Frames: 2", "Frames: 5000").split("Frame Time: 0.5\n")[0] + "Frame Time: 0.5\n"
    with pytest.raises(BVHError, match=r"line 3801: value 4: '1\.2\.3' is not a number"):
        parse_bvh(text + "\n".join(rows) + "\n")


def test_zero_frame_time_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "still.bvh"
    path.write_text(CHAIN.replace("Frame Time: 0.5", "Frame Time: 0.0"))
    with pytest.raises(BVHError, match=r"still\.bvh, line 23: Frame Time must be a positive number"):
        read_bvh(path)


def test_a_billion_frames_is_refused_before_allocating(tmp_path: Path) -> None:
    """The declared count is checked against the lines that follow: no (frames x channels) array
    is allocated for a count the file cannot hold (tracemalloc sees the whole parse)."""
    import tracemalloc

    path = tmp_path / "huge.bvh"
    path.write_text(CHAIN.replace("Frames: 2", "Frames: 999999999999"))
    tracemalloc.start()
    try:
        with pytest.raises(BVHError, match=r"huge\.bvh, line 22: 'Frames:' announces 999999999999 frames"):
            read_bvh(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20, peak  # far below even one row per declared frame


def _nested_chain(depth: int) -> str:
    lines = ["HIERARCHY", "ROOT Root", "{", "OFFSET 0 0 0", "CHANNELS 3 Xposition Yposition Zposition"]
    for d in range(depth):
        lines += [f"JOINT J{d}", "{", "OFFSET 0 1 0", "CHANNELS 1 Zrotation"]
    lines += ["End Site", "{", "OFFSET 0 1 0", "}"] + ["}"] * (depth + 1)
    lines += ["MOTION", "Frames: 2", "Frame Time: 0.1"] + [" ".join(["0"] * (3 + depth))] * 2
    return "\n".join(lines) + "\n"


def test_a_hierarchy_thousands_deep_is_read_without_recursion_error(tmp_path: Path) -> None:
    import sys

    from data_pipeline.bvh_writer import format_bvh

    depth = 2 * sys.getrecursionlimit()  # a recursive parser would fail well before this
    path = tmp_path / "deep.bvh"
    path.write_text(_nested_chain(depth))
    motion = read_bvh(path)
    assert motion.skeleton.num_joints == depth + 2  # root, the chain, one End Site
    assert motion.values.shape == (2, 3 + depth)
    again = parse_bvh(format_bvh(motion))  # the writer is not recursive either
    assert again.skeleton.names == motion.skeleton.names
    # an unclosed deep hierarchy is a BVHError naming the innermost open joint
    broken = _nested_chain(depth).replace("}\n" * (depth + 1), "}\n" * depth, 1)
    with pytest.raises(BVHError, match=r"is never closed"):
        parse_bvh(broken, source="deep.bvh")


def test_window_reader_names_the_same_line_as_the_whole_file_reader(tmp_path: Path) -> None:
    from data_pipeline.bvh import BVHFrameReader, read_bvh_frames

    rows = [FRAME_0] * 300
    rows[211] = FRAME_0.replace("0 0 0 0", "0 0 0 x", 1)
    head = CHAIN.replace("Frames: 2", "Frames: 300").split("Frame Time: 0.5\n")[0] + "Frame Time: 0.5\n"
    path = tmp_path / "take.bvh"
    path.write_text(head + "\n".join(rows) + "\n")
    with pytest.raises(BVHError) as whole:
        read_bvh(path)
    with BVHFrameReader(path) as reader:
        assert reader.regular and reader.frames == 300
        assert reader.read(0, 100).shape == (100, 12)
        with pytest.raises(BVHError) as window:
            reader.read(200, 250)
    assert (window.value.line, window.value.problem) == (whole.value.line, whole.value.problem)
    # blank lines between frames: the window reader reads the whole file instead, same frames
    path.write_text(head + "\n\n".join([FRAME_1] * 300) + "\n")
    assert read_bvh_frames(path, 10, 20).values.shape == (10, 12)
