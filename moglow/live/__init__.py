"""Live character control (``moglow play``): input -> control, the batched character simulation,
the WebSocket transport and recording.

- :mod:`moglow.live.steering`: desired velocity / click target / wandering -> root trajectory and
  the model's control ``(dx, dz, dtheta)``, with limited turn rate and acceleration;
- :mod:`moglow.live.characters`: ``B`` characters, one batched :class:`moglow.streaming.MotionStreamer`
  step per frame, world poses, a history to record from;
- :mod:`moglow.live.protocol`: the messages (validated JSON in, binary frames out);
- :mod:`moglow.live.server`: HTTP + WebSocket on one port (``websockets``), the tick loop;
- :mod:`moglow.live.recording`: the last seconds of a character as BVH + npz (the project's export).

The page itself (HTML, JS, three.js) lives in :mod:`visualize.web`, which knows nothing about models.
"""
