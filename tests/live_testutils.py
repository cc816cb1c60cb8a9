"""A tiny random-weight checkpoint with a start bank for the live-play tests (not a test module).

The root follows the steering's control by construction, so steering is testable with any
weights; a random model keeps these tests fast."""
from __future__ import annotations

from pathlib import Path

from moglow.checkpoint import data_metadata, save_checkpoint
from moglow.config import ExperimentConfig, experiment_to_dict
from moglow.training_data import start_bank_for
from sampling_testutils import prepared_procedural, random_model, tiny_model_config

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def live_checkpoint(root: Path, tau: int = 3) -> Path:
    """Write ``root/live.pt``: a random tiny MoGlow on two procedural takes, with a start bank."""
    data = prepared_procedural(root)
    model = random_model(tiny_model_config(tau=tau), data.feature_def.pose_dim)
    meta = data_metadata(data)
    meta["start_bank"] = start_bank_for(data, tau)
    cfg = ExperimentConfig(name="live-test", data=data.config, model=model.cfg)
    return save_checkpoint({"config": experiment_to_dict(cfg), "model": model.state_dict(), "step": 0,
                            "data": meta}, root / "live.pt")


def require_chromium() -> str:
    """The Debian Chromium for Playwright (and the playwright package): skip when missing locally, fail
    with ``CI=true`` (conftest's rule). Never downloads a browser."""
    from conftest import require_module, require_path

    require_module("playwright")
    return str(require_path(Path(CHROMIUM), "Chromium (apt-get install chromium)"))


class ServerThread:
    """A :class:`moglow.live.server.LiveServer` on a free port, in its own thread and event loop."""

    def __init__(self, checkpoint: Path, out_dir: Path, characters: int = 1, **server_args):
        import threading

        from moglow.checkpoint import load_model
        from moglow.live.characters import LiveCharacters
        from moglow.live.server import LiveServer
        from moglow.sampling import SamplingMeta, optimise_for_sampling

        model, ckpt = load_model(checkpoint)
        meta = SamplingMeta.from_checkpoint(ckpt)
        optimise_for_sampling(model)
        self.chars = LiveCharacters(model, meta, characters, temperature=0.8, seed=0, history_seconds=20.0)
        self.server = LiveServer(self.chars, out_dir, "127.0.0.1", 0, **server_args)
        self._ready = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="live-server", daemon=True)
        self.thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("the live server did not start")
        if self.error:
            raise self.error

    def _run(self) -> None:
        import asyncio

        async def main() -> None:
            self.loop = asyncio.get_running_loop()
            task = asyncio.create_task(self.server.serve())
            await self.server.wait_started()
            self._ready.set()
            await task

        try:
            asyncio.run(main())
        except BaseException as e:  # noqa: BLE001 - reported to the test
            self.error = e
            self._ready.set()

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.server.stop)
        self.thread.join(20)
        if self.thread.is_alive():
            raise RuntimeError("the live server did not stop")
