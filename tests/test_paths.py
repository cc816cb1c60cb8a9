"""Control paths (moglow.paths): built-ins, files, BVH takes, and the training pipeline's control."""
from __future__ import annotations

import json

import numpy as np
import pytest

from data_pipeline.bvh import read_bvh
from data_pipeline.config import DataConfig
from data_pipeline.features import control_from_trajectory, extract_features, integrate_control
from data_pipeline.heading import smooth_heading, wrap_angle
from data_pipeline.profiles import load_profile
from moglow.paths import PathError, facing_from_travel, make_path, parse_path_spec
from sampling_testutils import procedural_takes

FPS = 20.0
CFG = DataConfig(fps=FPS, heading_sigma_s=0.2)


def _speed(path):
    return np.linalg.norm(np.diff(path.root_xz, axis=0), axis=1) * path.fps


def test_parse_specs():
    s = parse_path_spec("circle:radius=3,speed=1.2")
    assert (s.kind, s.target, s.params) == ("circle", None, {"radius": "3", "speed": "1.2"})
    assert parse_path_spec("figure8").params == {}
    s = parse_path_spec("my,walk.csv,speed=1.0")
    assert (s.kind, s.target, s.params) == ("file", "my,walk.csv", {"speed": "1.0"})
    assert parse_path_spec("bvh:/data/take.bvh").target == "/data/take.bvh"
    assert parse_path_spec("json:route.txt").kind == "file"
    with pytest.raises(PathError, match=r"unknown path 'spiral'.*line, circle"):
        parse_path_spec("spiral:radius=2")
    with pytest.raises(PathError, match="expected key=value"):
        parse_path_spec("circle:radius")
    with pytest.raises(PathError, match=r"unknown parameter 'raduis' for path 'circle'; valid: radius, speed, turn"):
        make_path("circle:raduis=2", 10, CFG)
    with pytest.raises(PathError, match="not a valid float"):
        make_path("line:speed=fast", 10, CFG)
    with pytest.raises(PathError, match="needs a length"):
        make_path("line", None, CFG)


@pytest.mark.parametrize("spec", ["line:speed=1.5", "circle:radius=3,speed=1.2", "figure8:size=4,speed=1.0",
                                  "stop-and-go:speed=1.2,period=4", "sidestep:speed=0.8", "backwards:speed=0.8",
                                  "random:seed=3,speed=1.2"])
def test_control_is_the_training_control_of_the_trajectory(spec):
    path = make_path(spec, 300, CFG)
    ctrl = path.control()
    assert ctrl.shape == (300, 3) and np.all(np.isfinite(ctrl))
    np.testing.assert_array_equal(ctrl, control_from_trajectory(path.root_xz, path.theta))
    xz, theta = integrate_control(ctrl, path.start(0))  # the inverse used at export
    np.testing.assert_allclose(xz, path.root_xz, atol=1e-9)
    np.testing.assert_allclose(wrap_angle(theta - path.theta), 0, atol=1e-9)
    np.testing.assert_allclose(path.root_xz[0], [0, 0])


def test_line_and_heading():
    path = make_path("line:speed=1.5", 100, CFG)
    c = path.control()
    np.testing.assert_allclose(c[:, 1], 1.5 / FPS, atol=1e-12)  # forward, in the character's frame
    np.testing.assert_allclose(c[:, [0, 2]], 0, atol=1e-12)
    turned = make_path("line:speed=1,heading=90", 50, CFG)  # walking along +X, facing it
    np.testing.assert_allclose(turned.root_xz[-1], [49 / FPS, 0], atol=1e-9)
    np.testing.assert_allclose(turned.theta, np.pi / 2, atol=1e-9)
    still = make_path("line:speed=0", 20, CFG)
    np.testing.assert_allclose(still.control(), 0)


def test_circle_radius_and_turning_rate():
    left = make_path("circle:radius=3,speed=1.2", 400, CFG)
    np.testing.assert_allclose(np.linalg.norm(left.root_xz - [3.0, 0.0], axis=1), 3.0, atol=1e-9)
    dtheta = left.control()[50:-50, 2]
    np.testing.assert_allclose(dtheta, 1.2 / 3.0 / FPS, rtol=1e-6)  # turning left: heading grows
    right = make_path("circle:radius=2,speed=1,turn=right", 200, CFG)
    assert np.all(right.control()[20:-20, 2] < 0)
    np.testing.assert_allclose(np.abs(right.control()[20:-20, 1]), 1.0 / FPS, rtol=1e-3)


def test_figure8_closes_and_keeps_speed():
    path = make_path("figure8:size=4,speed=1.0", 800, CFG)
    sp = _speed(path)
    np.testing.assert_allclose(sp, 1.0, rtol=2e-3)
    # it comes back through the start twice per loop and its heading winds back (turning number 0)
    dist = np.linalg.norm(path.root_xz, axis=1)
    assert (dist[100:] < 0.05).sum() >= 2
    assert np.ptp(np.unwrap(path.theta)) < 2 * np.pi


def test_stop_and_go_stops_and_keeps_facing():
    path = make_path("stop-and-go:speed=1.2,period=4,duty=0.5,ramp=0.5", 400, CFG)
    sp = _speed(path)
    t = (np.arange(399) + 0.5) / FPS
    phase = np.mod(t, 4.0)
    assert np.all(sp[(phase > 2.1) & (phase < 3.9)] < 1e-9)
    np.testing.assert_allclose(sp[(phase > 0.6) & (phase < 1.4)], 1.2, rtol=1e-9)
    np.testing.assert_allclose(path.theta, 0, atol=1e-12)  # facing kept while standing


def test_sidestep_and_backwards_set_the_heading():
    left = make_path("sidestep:speed=0.8", 60, CFG).control()
    np.testing.assert_allclose(left[:, 0], 0.8 / FPS, atol=1e-12)  # +X local is the character's left
    np.testing.assert_allclose(left[:, 1:], 0, atol=1e-12)
    right = make_path("sidestep:speed=0.8,side=right", 60, CFG).control()
    np.testing.assert_allclose(right[:, 0], -0.8 / FPS, atol=1e-12)
    back = make_path("backwards:speed=0.8,heading=30", 60, CFG)
    np.testing.assert_allclose(back.control()[:, 1], -0.8 / FPS, atol=1e-12)
    np.testing.assert_allclose(back.theta, np.deg2rad(30), atol=1e-12)
    with pytest.raises(PathError, match="side must be 'left' or 'right'"):
        make_path("sidestep:side=up", 10, CFG)


def test_random_paths_are_reproducible():
    a = make_path("random:seed=3,speed=1.2", 300, CFG)
    b = make_path("random:seed=3,speed=1.2", 300, CFG)
    c = make_path("random:seed=4,speed=1.2", 300, CFG)
    np.testing.assert_array_equal(a.root_xz, b.root_xz)
    assert np.abs(a.root_xz - c.root_xz).max() > 0.5
    np.testing.assert_allclose(_speed(a), 1.2, rtol=1e-9)
    assert np.abs(a.control()[:, 2]).max() > 1e-3  # it does turn


def test_heading_uses_the_training_smoothing(tmp_path):
    """A sharp corner: the heading follows data_pipeline.heading.smooth_heading with the config's
    width and method (sigma 0 keeps the corner sharp)."""
    f = tmp_path / "corner.json"  # per-frame velocities: 2 s along +Z, then 2 s along +X
    f.write_text(json.dumps({"vx": [0.0] * 40 + [1.0] * 40, "vz": [1.0] * 40 + [0.0] * 40}))
    for sigma, method in ((0.0, "vector"), (0.5, "vector"), (0.5, "angle")):
        path = make_path(str(f), None, DataConfig(fps=FPS, heading_sigma_s=sigma, heading_smoothing=method))
        facing = facing_from_travel(path.root_xz, FPS)
        np.testing.assert_allclose(path.theta, smooth_heading(facing, sigma * FPS, method), atol=1e-12)
    sharp = make_path(str(f), None, DataConfig(fps=FPS, heading_sigma_s=0.0))
    smooth = make_path(str(f), None, DataConfig(fps=FPS, heading_sigma_s=0.5))
    assert np.abs(np.diff(smooth.theta)).max() < 0.5 * np.abs(np.diff(sharp.theta)).max()


def test_csv_waypoints_with_times(tmp_path):
    f = tmp_path / "route.csv"
    f.write_text("t,x,z\n0,0,0\n2,0,2\n4,2,4\n6,4,4\n")
    path = make_path(str(f), None, CFG)
    assert path.num_frames == 6 * 20 + 1 and path.source == str(f)
    for t, x, z in ((0, 0, 0), (2, 0, 2), (4, 2, 4), (6, 4, 4)):
        np.testing.assert_allclose(path.root_xz[int(t * FPS)], [x, z], atol=1e-9)
    longer = make_path(str(f), 200, CFG)  # after the last waypoint the character stands
    np.testing.assert_allclose(longer.root_xz[130:], [[4, 4]] * 70, atol=1e-9)
    with_heading = tmp_path / "h.csv"
    with_heading.write_text("t,x,z,heading\n0,0,0,90\n4,0,4,90\n")
    np.testing.assert_allclose(make_path(str(with_heading), None, CFG).theta, np.pi / 2, atol=1e-9)


def test_waypoints_without_times_walk_at_speed(tmp_path):
    f = tmp_path / "route.json"
    f.write_text(json.dumps([[0, 0], [0, 3], [3, 3], [3, 6]]))
    path = make_path(f"{f},speed=1.5", None, CFG)
    sp = _speed(path)
    np.testing.assert_allclose(sp[:-1], 1.5, rtol=0.02)
    np.testing.assert_allclose(path.root_xz[-1], [3, 6], atol=1e-6)


def test_velocity_files(tmp_path):
    f = tmp_path / "vel.json"
    f.write_text(json.dumps({"velocities": [{"t": 0, "vx": 0, "vz": 1}, {"t": 2, "vx": 1, "vz": 0}]}))
    path = make_path(str(f), None, CFG)
    # integral of a linear blend from (0, 1) to (1, 0) over 2 s: (1, 1)
    np.testing.assert_allclose(path.root_xz[-1], [1.0, 1.0], atol=1e-9)
    per_frame = tmp_path / "vel.csv"
    per_frame.write_text("vx,vz\n" + "0,2\n" * 21)
    path = make_path(str(per_frame), None, CFG)
    np.testing.assert_allclose(path.root_xz[-1], [0, 2.0], atol=1e-9)
    np.testing.assert_allclose(path.control()[:, 1], 2.0 / FPS, atol=1e-12)


def test_bad_files(tmp_path):
    f = tmp_path / "bad.csv"
    f.write_text("a,b\n1,2\n3,4\n")
    with pytest.raises(PathError, match="need columns x, z .* or vx, vz"):
        make_path(str(f), None, CFG)
    with pytest.raises(PathError, match="not found"):
        make_path(str(tmp_path / "missing.csv"), None, CFG)
    g = tmp_path / "back.csv"
    g.write_text("t,x,z\n0,0,0\n0,1,1\n")
    with pytest.raises(PathError, match="strictly increasing"):
        make_path(str(g), None, CFG)


def test_bvh_take_path_is_the_training_features(tmp_path):
    folder = procedural_takes(tmp_path, num=1, seconds=3.0)
    take = folder / "take_0.bvh"
    profile = load_profile("procedural")
    cfg = DataConfig(profile="procedural", fps=FPS)
    path = make_path(f"bvh:{take}", None, cfg, profile)
    seq = extract_features(read_bvh(take), profile, cfg)
    np.testing.assert_array_equal(path.control(), seq.control)
    np.testing.assert_array_equal(path.poses, seq.poses)
    np.testing.assert_allclose(path.start(0), seq.root_start)
    assert path.ground_truth.shape == (seq.num_frames, len(profile.joints), 3)
    short = make_path(f"bvh:{take}", 30, cfg, profile)
    assert short.num_frames == 30
    with pytest.warns(UserWarning, match="fewer than"):
        make_path(f"bvh:{take}", 10_000, cfg, profile)
    with pytest.raises(PathError, match="needs the skeleton profile"):
        make_path(f"bvh:{take}", None, cfg)


@pytest.mark.parametrize("name, text, where", [
    ("nan.csv", "x,z\n0,0\n# a comment line\n1,nan\n2,0\n", r"nan\.csv, line 4: z is nan; path values must be finite"),
    ("inf.csv", "t,vx,vz\n0,1,0\n1,inf,0\n", r"inf\.csv, line 3: vx is inf"),
    ("nan.json", '[{"x": 0, "z": 0}, {"x": 1, "z": NaN}]', r"nan\.json, row 1: z is nan"),
    ("pairs.json", "[[0, 0], [1, Infinity]]", r"pairs\.json, row 1: z is inf"),
    ("cols.json", '{"x": [0, 1, NaN], "z": [0, 0, 0]}', r"cols\.json: x\[2\] \(row 2\) is nan"),
    ("ragged.csv", "x,z\n0,0\n1\n", r"ragged\.csv, line 3: 1 values but the header names 2 columns"),
    ("long.csv", "t,x,z\n0,0,0\n1e12,1,0\n", r"long\.csv: the path lasts 1e\+12 s"),
])
def test_path_files_with_bad_values_name_the_file_and_row(tmp_path, name, text, where):
    f = tmp_path / name
    f.write_text(text)
    with pytest.raises(PathError, match=where):
        make_path(str(f), None, CFG)
