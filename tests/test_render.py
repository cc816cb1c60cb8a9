"""Tests of the ``visualize`` package: off-screen rendering, H.264 encoding, the ``moglow render``
command, and the plots (the geometry, which needs no GL: tests/test_render_geometry.py).

Rendering tests need pyrender and an off-screen GL platform (Mesa's EGL/llvmpipe or OSMesa;
see .ci/install_render_deps.sh); they skip when pyrender is missing unless CI=true. The
real-data test reads ../shared/mocap through the ``bandai_namco_dir`` fixture (conftest.py).
"""
from __future__ import annotations

import ctypes.util
import importlib
import multiprocessing as mp
import os
from pathlib import Path

import numpy as np
import pytest

from conftest import require, require_module
from render_testutils import PARENTS, toy_walk
from visualize import geometry as geo



def _require_pyrender():
    """Skip (fail in CI) without pyrender. Never import it here: the GL platform must be chosen
    before pyrender/OpenGL is first imported (visualize.gl_platform does that)."""
    require_module("pyrender", "trimesh", "OpenGL", extra="render")


HAND_BVH = """HIERARCHY
ROOT Hips
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
  JOINT Spine
  {
    OFFSET 0 25 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    JOINT Head
    {
      OFFSET 0 45 0
      CHANNELS 3 Zrotation Xrotation Yrotation
      End Site
      {
        OFFSET 0 20 0
      }
    }
  }
  JOINT LeftLeg
  {
    OFFSET 10 -5 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    JOINT LeftFoot
    {
      OFFSET 0 -42 0
      CHANNELS 3 Zrotation Xrotation Yrotation
      End Site
      {
        OFFSET 0 -43 8
      }
    }
  }
  JOINT RightLeg
  {
    OFFSET -10 -5 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    JOINT RightFoot
    {
      OFFSET 0 -42 0
      CHANNELS 3 Zrotation Xrotation Yrotation
      End Site
      {
        OFFSET 0 -43 8
      }
    }
  }
}
MOTION
Frames: 6
Frame Time: 0.0333333
"""


def hand_bvh(path: Path) -> Path:
    """A 6-frame BVH in centimetres: hips 92 cm up, walking 5 cm per frame along +Z."""
    rows = []
    for f in range(6):
        a = 25 * np.sin(f)
        rows.append([0, 92, 5 * f, 0, 0, 0] + [0, 0, 0, 0, 0, 0] + [0, a, 0, 0, -a / 2, 0] + [0, -a, 0, 0, a / 2, 0])
    path.write_text(HAND_BVH + "\n".join(" ".join(f"{v:g}" for v in r) for r in rows) + "\n")
    return path


# --------------------------------------------------------------------------- rendering


ORANGE = (0.93, 0.52, 0.16)


def _is_orange(img: np.ndarray) -> np.ndarray:
    r, g, b = (img[..., k].astype(int) for k in range(3))
    return (r - b > 70) & (g - b > 25) & (r > g + 15)  # the red path has g close to b


@pytest.fixture(scope="module")
def gl():
    _require_pyrender()
    from visualize.gl_platform import gl_info, import_pyrender

    import_pyrender("auto")
    return gl_info()


@pytest.fixture(scope="module")
def walk_frames(gl):
    """First and last frame of a toy walk rendered at 320x240 (instanced), and its renderer info."""
    from visualize.render import ClipRenderer, make_tracks

    pos = toy_walk(30)
    tracks, shared = make_tracks(pos, PARENTS, paths=pos[:, 0, [0, 2]])
    from visualize.scene import SceneOptions

    with ClipRenderer(tracks, 30.0, 320, 240, SceneOptions(shared_path=shared)) as r:
        first, last = r.render(0).copy(), r.render(29).copy()
    return first, last


def test_gl_platform_is_reported(gl):
    assert gl.platform in ("egl", "osmesa")
    assert gl.platform in gl.describe()
    import numpy

    assert numpy.infty == numpy.inf  # the numpy-2 shim pyrender 0.1.45 needs


def test_rendered_frame_is_not_blank_and_shows_the_skeleton(walk_frames):
    first, _ = walk_frames
    assert first.shape == (240, 320, 3) and first.dtype == np.uint8
    assert first.std() > 20
    orange = _is_orange(first)
    assert orange.sum() > 150, "the skeleton's colour should be in the frame"
    # the character is framed: its pixels lie in the middle third horizontally
    cols = np.flatnonzero(orange.any(axis=0))
    assert 320 / 4 < cols.mean() < 3 * 320 / 4
    # both floor tile colours and the background are there too
    assert len(np.unique(first.reshape(-1, 3) // 16, axis=0)) > 20


def test_rendered_frame_is_upright(walk_frames):
    """Y is up on screen: plain sky fills the top rows, the checkered floor the bottom rows, and the
    character stands on the floor (its lowest pixels touch the floor, its top is in the sky)."""
    first, _ = walk_frames
    band = first.shape[0] // 5
    top, bottom = first[:band].astype(float), first[-band:].astype(float)
    assert top.std(axis=(0, 1)).max() < 8, "the top of the frame should be plain sky"
    assert bottom.std(axis=(0, 1)).min() > 12, "the bottom of the frame should be the checkered floor"
    orange = _is_orange(first)
    rows = np.flatnonzero(orange.any(axis=1))
    masked = np.ma.masked_array(first.astype(float), np.repeat(orange[..., None], 3, axis=2))
    sky_rows = np.flatnonzero((masked.std(axis=1).max(axis=1) < 8).filled(True))  # plain rows, character aside
    horizon = sky_rows.max()
    assert sky_rows.min() == 0 and rows.min() < horizon < rows.max(), "the character should stand on the floor"


def test_first_and_last_frame_of_a_moving_clip_differ(walk_frames):
    first, last = walk_frames
    assert np.abs(first.astype(int) - last.astype(int)).mean() > 2.0


def test_instanced_matches_one_node_per_bone(gl):
    from visualize.render import ClipRenderer, make_tracks
    from visualize.scene import SceneOptions

    pos = toy_walk(8)
    tracks, _ = make_tracks(pos, PARENTS)
    frames = {}
    for instanced in (True, False):
        with ClipRenderer(tracks, 30.0, 160, 120, SceneOptions(instanced=instanced)) as r:
            frames[instanced] = [r.render(f).astype(int) for f in (0, 7)]
    for a, b in zip(frames[True], frames[False]):
        diff = np.abs(a - b).max(axis=-1)
        assert (diff > 24).mean() < 0.002, "instanced and per-node drawing should give the same picture"
    assert np.abs(frames[True][0] - frames[True][1]).mean() > 1.0  # instance updates really moved it


def test_side_by_side_panels_and_overlay(gl):
    from visualize.render import ClipRenderer, make_tracks
    from visualize.scene import SceneOptions

    pos = toy_walk(6)
    samples = np.stack([pos, pos + [0.05, 0, 0]])
    tracks, shared = make_tracks(samples, PARENTS, paths=pos[:, 0, [0, 2]], ground_truth=pos)
    assert [t.label for t in tracks] == ["ground truth", "sample 1", "sample 2"]
    with ClipRenderer(tracks, 30.0, 480, 160, SceneOptions(layout="side", shared_path=shared)) as r:
        img = r.render(3)
    thirds = [img[:, k * 160:(k + 1) * 160] for k in range(3)]
    assert _is_orange(thirds[1]).sum() > 30 and _is_orange(thirds[0]).sum() < 5  # GT is blue, sample 1 orange
    teal = [((p[..., 1].astype(int) - p[..., 0] > 40) & (p[..., 2].astype(int) - p[..., 0] > 30)).sum() for p in thirds]
    assert teal[2] > 30 and teal[1] < 5
    with ClipRenderer(tracks, 30.0, 320, 240, SceneOptions(layout="overlay", shared_path=shared)) as r:
        assert len(r.scene.panels) == 1
        over = r.render(3)
    assert _is_orange(over).sum() > 30


def test_renderer_is_freed_and_rejects_use_outside_context(gl):
    from visualize.render import ClipRenderer, make_tracks

    tracks, _ = make_tracks(toy_walk(3), PARENTS)
    r = ClipRenderer(tracks, 30.0, 64, 48)
    with pytest.raises(RuntimeError, match="context manager"):
        r.render(0)
    with r:
        r.render(0)
        with pytest.raises(IndexError):
            r.render(3)
    assert r._renderer is None  # deleted on exit


def _child_check(queue):
    from visualize.gl_platform import check_not_forked

    try:
        check_not_forked()
        queue.put("no error")
    except RuntimeError as e:
        queue.put(str(e))


def test_refuses_to_render_in_a_forked_child():
    importlib.import_module("visualize.gl_platform")  # registers the fork hook in the parent

    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_child_check, args=(q,))
    p.start()
    message = q.get(timeout=60)
    p.join(timeout=60)
    assert "forked child" in message and "spawn" in message


def test_falls_back_to_osmesa_when_egl_fails():
    """Auto-selection in a fresh interpreter where EGL cannot get a device (EGL_DEVICE_ID=99)."""
    import subprocess
    import sys

    _require_pyrender()
    require(ctypes.util.find_library("OSMesa") is not None,
            "libOSMesa missing: scripts/setup.sh installs libosmesa6 (.ci/apt-packages.txt)")
    env = {k: v for k, v in os.environ.items() if k != "PYOPENGL_PLATFORM"}
    env["EGL_DEVICE_ID"] = "99"
    code = "from visualize.gl_platform import select_platform; print(select_platform().describe())"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=240,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("osmesa") and "egl failed" in out.stdout, out.stdout


# --------------------------------------------------------------------------- video and CLI


def test_video_has_expected_frames_codec_and_pixel_format(gl, tmp_path):
    from visualize.render import render_positions
    from visualize.video import probe_video

    pos = toy_walk(13)
    report = render_positions(pos, PARENTS, tmp_path / "clip.mp4", fps=25, paths=pos[:, 0, [0, 2]], width=160,
                              height=120, progress=False)
    info = probe_video(report.path)
    assert report.frames == 13
    assert (info.frames, info.width, info.height) == (13, 160, 120)
    assert (info.codec, info.pix_fmt) == ("h264", "yuv420p")
    assert info.fps == pytest.approx(25.0)


def test_video_writer_checks_sizes_and_imageio_probe(tmp_path):
    from visualize.video import VideoWriter, find_ffmpeg

    assert Path(find_ffmpeg()).exists()
    with pytest.raises(ValueError, match="even"):
        VideoWriter(tmp_path / "x.mp4", 161, 120, 30)
    with VideoWriter(tmp_path / "grey.mp4", 64, 48, 10) as w:
        for k in range(5):
            w.write(np.full((48, 64, 3), 40 * k, np.uint8))
        with pytest.raises(ValueError, match="frame must be"):
            w.write(np.zeros((48, 64, 4), np.uint8))
    import imageio_ffmpeg

    frames, _ = imageio_ffmpeg.count_frames_and_secs(str(tmp_path / "grey.mp4"))
    assert frames == 5


def test_cli_renders_a_hand_written_bvh(gl, tmp_path):
    from moglow.cli import main
    from visualize.inputs import load_clip
    from visualize.video import probe_video

    bvh = hand_bvh(tmp_path / "tiny.bvh")
    clip = load_clip(bvh)
    assert clip.unit_scale == 0.01  # ~175 units tall: centimetres, auto-detected
    assert 1.5 < geo.character_height(clip.positions) < 2.0
    out = tmp_path / "tiny.mp4"
    rc = main(["render", str(bvh), "--out", str(out), "--width", "160", "--height", "120", "--no-progress"])
    assert rc == 0
    info = probe_video(out)
    assert (info.frames, info.codec, info.pix_fmt) == (6, "h264", "yuv420p")
    assert info.fps == pytest.approx(30.0)
    # a bad input gives a clear error and exit code 1, not a traceback
    assert main(["render", str(tmp_path / "missing.bvh"), "--out", str(out)]) == 1


def test_cli_renders_npz_samples_with_ground_truth(gl, tmp_path):
    from moglow.cli import main
    from visualize.video import probe_video

    pos = toy_walk(10)
    npz = tmp_path / "samples.npz"
    np.savez(npz, positions=np.stack([pos, pos]), parents=PARENTS, path=pos[:, 0, [0, 2]], fps=np.float64(20.0),
             ground_truth=pos, labels=np.array(["T=0.8", "T=1.0"]))
    out = tmp_path / "samples.mp4"
    assert main(["render", str(npz), "--out", str(out), "--height", "96", "--frames", "4", "--no-progress"]) == 0
    info = probe_video(out)
    assert (info.frames, info.width, info.height) == (4, 3 * 360, 96)
    assert info.fps == pytest.approx(20.0)


def test_cli_renders_real_bandai_namco_file(gl, tmp_path, bandai_namco_dir):
    from moglow.cli import main
    from visualize.inputs import load_clip
    from visualize.video import probe_video

    bvh = bandai_namco_dir / "dataset-2" / "dataset-2_walk_normal_001.bvh"
    clip = load_clip(bvh, frames=5)
    assert clip.names[0] == "Hips"  # the still joint_Root above it is dropped
    assert 1.2 < geo.character_height(clip.positions) < 2.0  # centimetres detected
    out = tmp_path / "bn.mp4"
    assert main(["render", str(bvh), "--out", str(out), "--frames", "5", "--width", "160", "--height", "120",
                 "--no-progress"]) == 0
    assert probe_video(out).frames == 5


# --------------------------------------------------------------------------- plots


def test_plots_write_pngs(tmp_path):
    from visualize.plots import plot_paths, plot_training_curves, read_metrics_csv

    csv_path = tmp_path / "metrics.csv"
    csv_path.write_text("step,train_nll,val_nll\n0,10,\n10,8,9\n20,6,\n30,5,7\n")
    series = read_metrics_csv(csv_path)
    np.testing.assert_array_equal(series["val_nll"][0], [10, 30])
    for out in (plot_training_curves(csv_path, tmp_path / "a.png"),
                plot_training_curves({"loss": [3, 2, 1]}, tmp_path / "b.png"),
                plot_paths({"control": toy_walk(10)[:, 0, [0, 2]]}, tmp_path / "c.png")):
        assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 5000
    with pytest.raises(KeyError):
        plot_training_curves(csv_path, tmp_path / "d.png", groups={"x": ["nope"]})


@pytest.mark.parametrize("fps", [None, 20.0])
def test_render_window_reads_only_what_it_draws(bandai_namco_dir, tmp_path, monkeypatch, fps):
    """``render --start S --frames N`` of a long take parses (and runs FK on) the window only,
    and draws exactly what reading the whole take and cutting it would."""
    import data_pipeline.bvh as bvh
    from visualize.inputs import load_bvh_clip

    src = (bandai_namco_dir / "dataset-2" / "dataset-2_walk_normal_001.bvh").read_text()
    head, _, body = src.partition("MOTION")
    rows = [ln for ln in body.splitlines() if ln.strip()][2:]
    rows = (rows + rows[::-1]) * 12  # ~6,500 frames, continuous
    take = tmp_path / "long.bvh"
    take.write_text(f"{head}MOTION\nFrames: {len(rows)}\nFrame Time: 0.0333333\n" + "\n".join(rows) + "\n")

    whole = load_bvh_clip(take, fps=fps)
    parsed = []
    real_block = bvh.parse_block
    monkeypatch.setattr(bvh, "parse_block", lambda block, n: parsed.append(len(block)) or real_block(block, n))
    window = load_bvh_clip(take, fps=fps, start=3000, frames=150)
    assert window.positions.shape[1] == 150
    np.testing.assert_allclose(window.positions[0], whole.positions[0, 3000:3150], rtol=0, atol=1e-9)
    assert sum(parsed) < 0.05 * take.stat().st_size, (sum(parsed), take.stat().st_size)
    with pytest.raises(ValueError, match="past its"):
        load_bvh_clip(take, fps=fps, start=10 ** 6, frames=10)
