"""Writing files so that a crash or a full disk never destroys the previous good copy.

:func:`atomic_write` writes a file through a temporary file in the destination folder (so on the same
filesystem), flushed and fsynced, then moved over the destination with ``os.replace`` (an atomic rename),
and the folder fsynced. :func:`atomic_path` does the same for writers that take a file name,
:func:`atomic_directory` for a folder of files.
:class:`AtomicCheckpointIO` is the Lightning plugin that writes every checkpoint this way; ``ganmods fit``
uses it by default.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from collections.abc import Iterator
from typing import IO, Any, Optional, Union

import torch
from lightning.fabric.utilities.cloud_io import get_filesystem
from lightning.pytorch.plugins.io import TorchCheckpointIO

from ganmods.errors import find_cause

__all__ = ["AtomicCheckpointIO", "AtomicWriteError", "atomic_directory", "atomic_path", "atomic_write",
           "fsync_directory", "temporary_sibling"]

PathLike = Union[str, "os.PathLike[str]"]

_fdopen = os.fdopen  # how atomic_write opens its temporary file (tests replace it to simulate a full disk)


def temporary_sibling(path: PathLike, kind: str = "tmp", keep_extension: bool = False) -> str:
    """A fresh hidden name beside ``path`` (same folder, hence same filesystem), e.g. ``.last.ckpt.3f9a1c2e.tmp``
    for ``last.ckpt`` (with ``keep_extension``: ``.last.3f9a1c2e.tmp.ckpt``, for writers that pick a format
    by extension).

    Args:
        path: The destination.
        kind: Tag in the name (``"tmp"`` for files being written, ``"old"`` for a replaced folder).
        keep_extension: End the name with ``path``'s extension.

    Returns:
        The path of the sibling (not created).
    """
    path = os.path.abspath(os.fspath(path)).rstrip(os.sep)
    folder, name = os.path.split(path)
    stem, ext = os.path.splitext(name) if keep_extension else (name, "")
    return os.path.join(folder, f".{stem}.{secrets.token_hex(4)}.{kind}{ext}")


def fsync_directory(folder: PathLike) -> None:
    """Make a rename or creation inside ``folder`` durable (a no-op where folders cannot be opened or synced).

    Args:
        folder: The folder.
    """
    try:
        fd = os.open(os.fspath(folder), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class AtomicWriteError(OSError):
    """A failed atomic write: ``errno`` of the underlying error, a message naming the destination.

    Args:
        errno: The underlying error's number (None if it had none).
        message: What failed, naming the destination path.
    """

    def __init__(self, errno: Optional[int], message: str) -> None:
        super().__init__(errno, message)

    def __str__(self) -> str:
        """The message, without the ``[Errno N]`` prefix (the message already shows the cause)."""
        return str(self.strerror)


def _os_error(err: BaseException) -> Optional[OSError]:
    """The OSError in ``err``'s chain (a serialiser may report a failed write as another error)."""
    return find_cause(err, OSError)


def _failure(err: Exception, path: str, what: str) -> Exception:
    """``err`` reworded to name ``path`` and say that the previous file is unchanged (an OSError behind it kept)."""
    cause = _os_error(err)
    shown = err if cause is None else f"{cause.strerror} (errno {cause.errno})" if cause.strerror else cause
    message = f"could not write {what} {path}: {shown}; nothing was replaced (any previous file there is unchanged)"
    if cause is not None:
        return AtomicWriteError(cause.errno, message)
    err.add_note(message)
    return err


@contextlib.contextmanager
def atomic_write(path: PathLike, mode: str = "wb", what: str = "file") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path`` for writing; on success move it over ``path`` atomically.

    The temporary file is in the destination folder (same filesystem, so ``os.replace`` is a rename, never
    a copy), created with the permissions a plain ``open`` would give. When the block ends without error
    the file is flushed, fsynced, renamed over ``path``, and the folder fsynced. On any error (a full disk,
    an exception while serialising) the temporary file is removed, ``path`` is left exactly as it was, and
    the error propagates with a message naming ``path``.

    Args:
        path: The destination file (its folder must exist).
        mode: ``"wb"`` or ``"w"`` (text, UTF-8).
        what: How to call the file in error messages (e.g. ``"checkpoint"``).

    Yields:
        The open file object.

    Raises:
        ValueError: If ``mode`` is not ``"wb"`` or ``"w"``.
        AtomicWriteError: If writing, syncing or renaming fails (an OSError: same errno, message naming ``path``).

    Example:
        >>> import os, tempfile
        >>> target = os.path.join(tempfile.mkdtemp(), "out.txt")
        >>> with atomic_write(target, "w") as f:
        ...     _ = f.write("done")
        >>> open(target).read()
        'done'
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"mode must be 'wb' or 'w'; got {mode!r}.")
    with atomic_path(path, what) as tmp:  # the temporary file, the fsync, the rename and the clean-up
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        f = _fdopen(fd, mode, **({"encoding": "utf-8", "newline": ""} if mode == "w" else {}))
        try:
            yield f
        finally:
            f.close()


@contextlib.contextmanager
def atomic_path(path: PathLike, what: str = "file") -> Iterator[str]:
    """Like :func:`atomic_write` for writers that take a file name: yields a temporary path beside ``path``
    (same extension) to write by name; on success it is fsynced and renamed over ``path``.

    Args:
        path: The destination file (its folder must exist).
        what: How to call the file in error messages.

    Yields:
        The temporary path (not yet created).

    Raises:
        OSError: If the writer did not create the file, or syncing or renaming fails (message naming
            ``path``; the temporary file is removed and ``path`` unchanged).
    """
    path = os.path.abspath(os.fspath(path))
    tmp = temporary_sibling(path, keep_extension=True)
    try:
        yield tmp
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(err, Exception):
            raise _failure(err, path, what) from err
        raise
    fsync_directory(os.path.dirname(path))


@contextlib.contextmanager
def atomic_directory(path: PathLike, overwrite: bool = False) -> Iterator[str]:
    """Fill a temporary sibling folder; on success rename it to ``path``, so ``path`` is never half-written.

    With ``overwrite`` an existing ``path`` is first renamed aside, then removed once the new folder is in
    place (between the two renames ``path`` briefly does not exist; it never holds a mix of old and new files).

    Args:
        path: The destination folder (its parent must exist).
        overwrite: Replace an existing ``path``.

    Yields:
        The temporary folder to write into.

    Raises:
        FileExistsError: If ``path`` exists and ``overwrite`` is False.
        OSError: If writing or renaming fails (the temporary folder is removed, ``path`` unchanged).
    """
    path = os.path.abspath(os.fspath(path)).rstrip(os.sep)
    tmp = temporary_sibling(path)
    os.mkdir(tmp)
    try:
        yield tmp
        for name in os.listdir(tmp):  # the files themselves must be on disk before the folder is renamed
            with open(os.path.join(tmp, name), "rb") as f:
                os.fsync(f.fileno())
        fsync_directory(tmp)
        old: Optional[str] = None
        if os.path.lexists(path):
            if not overwrite:
                raise FileExistsError(f"{path} exists")
            old = temporary_sibling(path, "old")
            os.rename(path, old)
        try:
            os.rename(tmp, path)
        except BaseException:
            if old is not None:
                os.rename(old, path)
            raise
    except BaseException as err:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(err, Exception):
            raise _failure(err, path, "folder") from err
        raise
    fsync_directory(os.path.dirname(path))
    if old is not None and os.path.isdir(old):
        shutil.rmtree(old, ignore_errors=True)
    elif old is not None:
        os.unlink(old)


def _is_local(path: PathLike) -> bool:
    from fsspec.implementations.local import LocalFileSystem

    return isinstance(get_filesystem(path), LocalFileSystem)


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's ``TorchCheckpointIO`` writing every local checkpoint atomically, full disk included.

    Lightning's own writer stages the file in the system's temporary folder and moves it into place; when
    that folder is on another filesystem the move is a copy, and a full disk leaves a truncated
    ``last.ckpt``/``best.ckpt`` where the previous good one was. This plugin serialises into a temporary
    file in the destination folder, fsyncs it, renames it over the destination (``os.replace``) and fsyncs
    the folder (:func:`atomic_write`). If anything fails - a full disk, an object that cannot be pickled -
    the temporary file is removed, the previous checkpoint stays byte-identical, and the error propagates
    with a message naming the path.

    Remote paths (fsspec URLs such as ``s3://...``) fall back to ``TorchCheckpointIO``'s behaviour (their
    object stores replace whole objects on upload). Loading and removing are unchanged.

    ``ganmods fit`` uses this plugin by default (``trainer.plugins``). In Python, pass it to the trainer:
    ``Trainer(plugins=[AtomicCheckpointIO()])``; every ``ModelCheckpoint``/``GANCheckpoint`` save and
    ``trainer.save_checkpoint(path)`` then goes through it.

    Example:
        >>> import lightning.pytorch as pl
        >>> trainer = pl.Trainer(plugins=[AtomicCheckpointIO()], logger=False, enable_progress_bar=False)
        >>> type(trainer.strategy.checkpoint_io).__name__
        'AtomicCheckpointIO'
    """

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: PathLike, storage_options: Optional[Any] = None
    ) -> None:
        """Write ``checkpoint`` to ``path`` atomically (local paths) or as ``TorchCheckpointIO`` does (remote).

        Args:
            checkpoint: The state Lightning dumps.
            path: Destination path or URL.
            storage_options: Not supported (as in ``TorchCheckpointIO``).

        Raises:
            TypeError: If ``storage_options`` is given.
            OSError: If the file cannot be written (message naming ``path``); the previous file is unchanged.
        """
        if storage_options is not None or not _is_local(path):
            super().save_checkpoint(checkpoint, path, storage_options)
            return
        local = os.fspath(path)
        if local.startswith("file://"):
            local = local[len("file://"):]
        os.makedirs(os.path.dirname(os.path.abspath(local)), exist_ok=True)
        with atomic_write(local, "wb", what="checkpoint") as f:
            torch.save(checkpoint, f)
