"""Writing output files so that nothing is lost or half-written, and nothing is overwritten unasked.

Every file a command produces (BVH, npz, JSON, MP4, HTML, checkpoints) goes through
:func:`atomic_write` (a file object) or :func:`atomic_path` (a temporary name for tools that
write by name, such as ffmpeg): the data goes to a hidden temporary file in the target's
folder, is flushed and fsynced, and only then renamed over the target, so a crash, a full disk
or a kill leaves the old file or the new one, never a truncated one. A failure is re-raised as
an ``OSError`` that names the target file (``[Errno 28] No space left on device: 'out/x.bvh'``).

:func:`refuse_overwrite` is the one rule for commands that write into a folder that may hold
the user's earlier outputs: existing files are kept unless the user passes ``--force``.

This is the lowest layer that writes files (``data_pipeline`` writes BVH), so every layer
above uses it.
"""
from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from data_pipeline.errors import MoglowError

__all__ = ["OutputExistsError", "AtomicTarget", "atomic_write", "atomic_path", "refuse_overwrite", "write_text_atomic",
           "write_bytes_atomic", "stale_temporaries", "make_folder", "TMP_SUFFIX"]

#: suffix of the temporary files (``.<name>.<random>.tmp``); :func:`stale_temporaries` finds leftovers
TMP_SUFFIX = ".tmp"


class OutputExistsError(MoglowError, FileExistsError):
    """An output file exists and the command was not told to overwrite it (``--force``)."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _oserror_naming(e: OSError, path: Path) -> OSError:
    """The same error (same errno, so the same subclass) with ``path`` as its file name."""
    if e.errno is None or e.filename == str(path) or isinstance(e, OutputExistsError):
        return e
    return OSError(e.errno, e.strerror or str(e), str(path))


class AtomicTarget:
    """A temporary file beside ``path`` that :meth:`commit` renames to ``path`` (or
    :meth:`discard` removes): for writers that open and close at different places (a video
    encoder). :func:`atomic_path` is the context-manager form.

    Attributes:
        path: the target; tmp: the temporary file (same suffix before ``.tmp``).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            make_folder(self.path.parent)
            if self.path.is_dir():
                raise IsADirectoryError(errno.EISDIR, "is a folder, not a file", str(self.path))
            fd, tmp_name = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=TMP_SUFFIX, dir=self.path.parent)
            os.close(fd)
        except OSError as e:
            _reraise_naming(e, self.path)
        self.tmp = Path(tmp_name)

    def commit(self) -> Path:
        """Give the temporary file the user's permissions and rename it to the target."""
        try:
            os.chmod(self.tmp, 0o666 & ~_umask())  # like any file the user creates (mkstemp makes 0600)
            os.replace(self.tmp, self.path)
        except OSError as e:
            self.discard()
            _reraise_naming(e, self.path)
        _fsync_folder(self.path.parent)
        return self.path

    def discard(self) -> None:
        """Remove the temporary file (the target is untouched)."""
        self.tmp.unlink(missing_ok=True)


def _reraise_naming(e: OSError, path: Path) -> None:
    named = _oserror_naming(e, path)
    if named is e:
        raise e
    raise named from e


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` on success.

    For writers that take a file name (the name ends in ``.tmp``: give such writers the file
    format explicitly). The parent folder is created. On any exception the temporary file is
    removed and ``path`` is untouched; an ``OSError`` is re-raised naming ``path``.
    """
    target = AtomicTarget(path)
    try:
        yield target.tmp
    except OSError as e:
        target.discard()
        _reraise_naming(e, target.path)
    except BaseException:
        target.discard()
        raise
    target.commit()


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "wb", encoding: str | None = None,
                 newline: str | None = None) -> Iterator[IO]:
    """Open a temporary file beside ``path`` for writing (``mode`` "wb" or "w"); on success it
    is flushed, fsynced and renamed to ``path``; on any exception it is removed."""
    if "w" not in mode:
        raise ValueError(f"atomic_write writes files; mode {mode!r} has no 'w'")
    with atomic_path(path) as tmp:
        with open(tmp, mode, encoding=encoding, newline=newline) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())


def write_text_atomic(path: str | Path, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically (``\\n`` line ends); return the path."""
    with atomic_write(path, "w", encoding=encoding, newline="\n") as f:
        f.write(text)
    return Path(path)


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; return the path."""
    with atomic_write(path, "wb") as f:
        f.write(data)
    return Path(path)


def make_folder(folder: str | Path) -> Path:
    """``mkdir -p folder``, with a clear error when a file stands where a folder should be."""
    folder = Path(folder)
    for existing in (folder, *folder.parents):
        if existing.exists():
            if not existing.is_dir():
                raise NotADirectoryError(errno.ENOTDIR, f"{existing} is a file, not a folder", str(folder))
            break
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _fsync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (where the platform allows it)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def refuse_overwrite(paths: Iterable[str | Path], force: bool, what: str = "") -> None:
    """Raise :class:`OutputExistsError` if any of ``paths`` exists and ``force`` is False.

    The message names the first existing file (and how many more there are) and says to give
    ``--force``. ``what`` (e.g. "moglow sample --out") only adds context.
    """
    if force:
        return
    existing = [Path(p) for p in paths if Path(p).exists()]
    if existing:
        more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
        where = f" for {what}" if what else ""
        raise OutputExistsError(f"{existing[0]} exists{more}{where}: give --force to overwrite")


def stale_temporaries(folder: str | Path, name: str) -> list[Path]:
    """Leftover temporary files of :func:`atomic_path` for target ``name`` in ``folder``
    (a process killed while writing leaves them)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob(f".{name}.*{TMP_SUFFIX}") if p.is_file())
