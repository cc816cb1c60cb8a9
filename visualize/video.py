"""H.264 MP4 encoding with ffmpeg (through ffmpeg-python), overlapped with rendering.

Raw RGB frames are piped into ffmpeg's stdin from a background thread, so that the renderer
never waits for the encoder (up to ``queue_size`` frames ahead). The output is libx264,
yuv420p, ``+faststart``: it plays in browsers. The ffmpeg binary is the system one, or the
one shipped by ``imageio-ffmpeg`` when there is none on PATH.
"""
from __future__ import annotations

import json
import queue
import re
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from data_pipeline.errors import InputError, SetupError


def find_ffmpeg() -> str:
    """Path of an ffmpeg executable: ``ffmpeg`` on PATH, else imageio-ffmpeg's bundled one."""
    exe = shutil.which("ffmpeg")
    if exe:
        return exe
    try:
        import imageio_ffmpeg  # noqa: PLC0415

        return imageio_ffmpeg.get_ffmpeg_exe()
    except Exception as e:  # ImportError, or its RuntimeError when it has no binary
        raise SetupError("no ffmpeg found: install it (`apt-get install ffmpeg`) or the render extra, "
                           "which brings one: pip install 'moglow[render]'") from e


class VideoWriter:
    """Write RGB frames to an H.264 MP4 file.

    Use as a context manager; :meth:`write` takes (height, width, 3) uint8 frames. Width and
    height must be even (yuv420p). Encoding runs in ffmpeg while the caller renders the next
    frames; a background thread feeds ffmpeg's stdin.

    Args:
        path: output file (.mp4); its folder is created.
        width, height: frame size in pixels.
        fps: frames per second.
        crf: x264 quality (lower is better; 18–23 is visually good).
        preset: x264 speed preset.
        queue_size: frames buffered between the caller and the feeding thread.
    """

    def __init__(self, path: str | Path, width: int, height: int, fps: float, crf: int = 20,
                 preset: str = "veryfast", queue_size: int = 8, overlapped: bool = True):
        if width % 2 or height % 2:
            raise InputError(f"H.264 yuv420p needs an even frame size, got {width}x{height}")
        if not fps > 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.path = Path(path)
        self.width, self.height, self.fps = int(width), int(height), float(fps)
        self.crf, self.preset = crf, preset
        self.overlapped = overlapped
        self.frames_written = 0
        self._queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self._thread: threading.Thread | None = None
        self._proc: subprocess.Popen | None = None
        self._error: BaseException | None = None

    def __enter__(self) -> "VideoWriter":
        self.open()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(abort=exc_type is not None)

    def open(self) -> None:
        import ffmpeg  # noqa: PLC0415  (ffmpeg-python)

        from data_pipeline.output_files import AtomicTarget  # noqa: PLC0415

        self._target = AtomicTarget(self.path)  # encoded to a temporary name, renamed by close()
        stream = (
            ffmpeg.input("pipe:", format="rawvideo", pix_fmt="rgb24", s=f"{self.width}x{self.height}",
                         framerate=self.fps)
            .output(str(self._target.tmp), format="mp4", vcodec="libx264", pix_fmt="yuv420p", crf=self.crf,
                    preset=self.preset, movflags="+faststart", r=self.fps)
            .global_args("-loglevel", "error", "-nostdin")
            .overwrite_output()
        )
        self._stderr = tempfile.TemporaryFile()  # ffmpeg's messages, read back on failure
        self._proc = subprocess.Popen(stream.compile(cmd=find_ffmpeg()), stdin=subprocess.PIPE,
                                      stdout=subprocess.DEVNULL, stderr=self._stderr)
        if self.overlapped:
            self._thread = threading.Thread(target=self._feed, name="ffmpeg-feeder", daemon=True)
            self._thread.start()

    def _feed(self) -> None:
        try:
            while True:
                data = self._queue.get()
                if data is None:
                    break
                self._proc.stdin.write(data)
        except BaseException as e:  # broken pipe: ffmpeg died; reported by write/close
            self._error = e
            while self._queue.get() is not None:  # drain so the producer never blocks
                pass

    def write(self, frame: np.ndarray) -> None:
        """frame: (height, width, 3) uint8 RGB."""
        if frame.shape != (self.height, self.width, 3) or frame.dtype != np.uint8:
            raise ValueError(f"frame must be ({self.height}, {self.width}, 3) uint8; got {frame.shape} {frame.dtype}")
        if self._error is not None:
            raise SetupError(f"ffmpeg stopped accepting frames: {self._ffmpeg_log()}") from self._error
        data = np.ascontiguousarray(frame).tobytes()
        if self._thread is not None:
            self._queue.put(data)
        else:
            self._proc.stdin.write(data)
        self.frames_written += 1

    def _ffmpeg_log(self) -> str:
        self._stderr.flush()
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace").strip()[-2000:] or "(no message)"

    def close(self, abort: bool = False) -> None:
        """Flush, wait for ffmpeg, raise RuntimeError with ffmpeg's message if it failed."""
        if self._proc is None:
            return
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
        try:
            self._proc.stdin.close()
        except BrokenPipeError:
            pass
        rc = self._proc.wait()
        log = self._ffmpeg_log()
        self._stderr.close()
        self._proc = None
        if rc != 0 or self._error is not None or abort:
            self._target.discard()
            if not abort:
                raise SetupError(f"ffmpeg failed (exit code {rc}) writing {self.path}: {log}")
            return
        self._target.commit()


@dataclass(frozen=True)
class VideoInfo:
    """What a video file holds: frame count (decoded), size, codec, pixel format, fps."""

    frames: int
    width: int
    height: int
    codec: str
    pix_fmt: str
    fps: float


def probe_video(path: str | Path) -> VideoInfo:
    """Inspect a video file with ffprobe (counting decoded frames), or, without ffprobe, with
    the ffmpeg binary (``imageio_ffmpeg.count_frames_and_secs`` and its stream line)."""
    path = str(path)
    ffprobe = shutil.which("ffprobe")
    if ffprobe:
        out = subprocess.run([ffprobe, "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
                              "stream=codec_name,pix_fmt,width,height,nb_read_frames,avg_frame_rate",
                              "-of", "json", path], capture_output=True, text=True, check=True).stdout
        s = json.loads(out)["streams"][0]
        num, den = (int(x) for x in s["avg_frame_rate"].split("/"))
        return VideoInfo(int(s["nb_read_frames"]), int(s["width"]), int(s["height"]), s["codec_name"],
                         s["pix_fmt"], num / den if den else 0.0)
    import imageio_ffmpeg  # noqa: PLC0415

    frames, _ = imageio_ffmpeg.count_frames_and_secs(path)
    err = subprocess.run([find_ffmpeg(), "-hide_banner", "-i", path], capture_output=True, text=True).stderr
    m = re.search(r"Video: (\w+)[^,]*, (\w+)[^,]*(?:\([^)]*\))?, (\d+)x(\d+).*?([\d.]+) fps", err)
    if not m:
        raise SetupError(f"cannot read the video stream of {path}: {err[-500:]}")
    return VideoInfo(int(frames), int(m.group(3)), int(m.group(4)), m.group(1), m.group(2), float(m.group(5)))
