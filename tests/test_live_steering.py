"""Live input -> control (moglow.live.steering): the control is the data pipeline's, turning and
speed changes stay within their limits, click-to-walk arrives, wanderers stay near home."""
from __future__ import annotations

import numpy as np

from data_pipeline.features import integrate_control
from moglow.live.steering import MODE_WANDER, Steering, SteeringLimits
from moglow.live.protocol import ProtocolError, encode_frame, parse_message

FPS = 20.0


def _run(steer: Steering, frames: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(F+1, B, 3) roots (start included), (F, B, 3) control, (F, B) speeds."""
    roots, controls, speeds = [steer.root()], [], []
    for _ in range(frames):
        controls.append(steer.advance())
        roots.append(steer.root())
        speeds.append(steer.speed.copy())
    return np.array(roots), np.array(controls), np.array(speeds)


def test_control_integrates_back_to_the_root_path():
    steer = Steering(3, FPS, seed=1)
    steer.set_velocity([0, 1], np.array([[1.0, 0.0], [-0.3, -1.0]]), np.array([1.2, 2.0]))
    steer.set_wander([2])
    roots, control, _ = _run(steer, 120)
    # integrate_control ignores row 0 (the step into the start frame): prepend a dummy row
    ctrl = np.concatenate([np.zeros((1, 3, 3)), control]).transpose(1, 0, 2)
    xz, theta = integrate_control(ctrl, roots[0])
    assert np.abs(xz - roots[:, :, :2].transpose(1, 0, 2)).max() < 1e-9
    assert np.abs(theta - roots[:, :, 2].T).max() < 1e-9


def test_turning_and_speed_changes_respect_the_limits():
    lim = SteeringLimits(max_speed=2.0, max_accel=2.0, max_turn_rate=1.5, max_turn_accel=6.0)
    steer = Steering(1, FPS, lim)
    steer.set_velocity([0], np.array([[0.0, -1.0]]), np.array([5.0]))  # turn around, faster than allowed
    roots, control, speeds = _run(steer, 200)
    rate = control[:, 0, 2] * FPS
    assert np.abs(rate).max() <= lim.max_turn_rate + 1e-9
    assert np.abs(np.diff(rate)).max() <= lim.max_turn_accel / FPS + 1e-9
    assert np.abs(np.diff(np.concatenate([[0.0], speeds[:, 0]]))).max() <= lim.max_accel / FPS + 1e-9
    assert abs(speeds[-1, 0] - lim.max_speed) < 1e-6  # clipped to the data's range, then reached
    assert abs(abs(roots[-1, 0, 2]) - np.pi) < 0.02  # faces the way it was sent


def test_right_is_a_decreasing_heading_and_click_to_walk_stops_at_the_target():
    steer = Steering(2, FPS, start=np.zeros((2, 3)))
    steer.set_velocity([0], np.array([[-1.0, 0.0]]), np.array([1.2]))  # world -x: the character's right
    steer.set_target([1], np.array([[3.0, 4.0]]), np.array([1.2]))
    roots, _, speeds = _run(steer, 300)
    assert roots[10, 0, 2] < 0 and abs(roots[-1, 0, 2] + np.pi / 2) < 0.02
    assert np.linalg.norm(roots[-1, 1, :2] - [3.0, 4.0]) < 0.2 and speeds[-1, 1] < 1e-6


def test_wanderers_keep_moving_and_stay_near_home():
    steer = Steering(4, FPS, seed=3)
    steer.set_wander(range(4), np.full(4, 1.5))
    roots, _, speeds = _run(steer, 2400)  # two minutes
    assert (steer.mode == MODE_WANDER).all()
    assert speeds[200:].mean() > 1.0
    assert np.linalg.norm(roots[:, :, :2], axis=-1).max() < 20.0


def test_protocol_accepts_good_messages_and_encodes_frames():
    cmd = parse_message('{"type": "move", "character": 1, "seq": 5, "dir": [3, 4], "run": true}', 2)
    assert cmd.type == "move" and cmd.fields["dir"] == [0.6, 0.8] and cmd.fields["run"] is True
    assert parse_message('{"type": "reset", "character": -1}', 2).character == -1
    for bad in ('{"type": "reset", "character": -2}', '{"type": "move", "character": 0, "dir": [1e400, 0]}'):
        try:
            parse_message(bad, 2)
        except ProtocolError:
            continue
        raise AssertionError(bad)
    data = encode_frame(7, np.ones((2, 5, 3)), np.zeros((2, 3)), np.ones(2), np.zeros((2, 2)), np.array([3, 4]),
                        np.zeros(2))
    head = np.frombuffer(data[:16], "<u4")
    assert head.tolist() == [0x464C474D, 7, 2, 5] and len(data) == 16 + 4 * 2 * (15 + 8)
