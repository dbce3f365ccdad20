"""One comparison per output folder, one process per run, and worker processes that never outlive the comparison.

* :class:`FolderLock`: ``DIR/.compare.lock`` held with ``fcntl.flock`` for the whole comparison and holding
  the holder's pid. The kernel drops the lock when the holder exits, however it exits (even ``kill -9``),
  so a dead holder never keeps it; a second comparison of the same folder is refused with one line naming
  the holder's pid.
* :class:`RunLock`: ``RUN_DIR/.run.lock``, held with ``fcntl.flock`` by the worker running the run for the
  whole run (its pid and host written inside). A run whose lock is free has nobody running it: the kernel
  dropped the lock of a worker that died, so the comparison's study (:mod:`ganmods.compare.study`) treats a
  running trial with a free run lock as abandoned and runs it again.
* :func:`die_with_parent`: called first thing in a worker: on Linux the kernel sends the worker ``SIGKILL``
  when its parent dies (``prctl(PR_SET_PDEATHSIG)``), and a watcher thread ends the worker when its parent
  pid changes (other systems, or a parent that died before the ``prctl``).
* :func:`is_disk_full`: whether an error is a full disk (or quota), which ends a comparison with one line.
"""

from __future__ import annotations

import errno
import os
import signal
import sys
import threading
import time
from typing import Any, Optional

from ganmods.errors import ConfigurationError

__all__ = ["LOCK_FILE", "RUN_LOCK_FILE", "FolderLock", "RunLock", "die_with_parent", "is_disk_full", "kill_with_parent",
           "lock_holder"]

#: The lock file inside a comparison's output folder.
LOCK_FILE = ".compare.lock"
#: The lock file inside a run's folder (kept when the folder is emptied for a new attempt).
RUN_LOCK_FILE = ".run.lock"
_PR_SET_PDEATHSIG = 1


def lock_holder(out_dir: str) -> Optional[int]:
    """The pid written in ``out_dir``'s lock file, when one is there and readable.

    Args:
        out_dir: The comparison's output folder.

    Returns:
        The pid, or None.
    """
    try:
        with open(os.path.join(out_dir, LOCK_FILE)) as fh:
            return int(fh.read().strip() or "x")
    except (OSError, ValueError):
        return None


class FolderLock:
    """An exclusive, non-blocking lock on a comparison's output folder (see the module docstring).

    Use as a context manager, or :meth:`acquire` / :meth:`release`. The lock file is left in place (removing
    it would let a third process lock a file that a second one still holds).

    Args:
        out_dir: The output folder (created when missing).

    Example:
        >>> import tempfile
        >>> with FolderLock(tempfile.mkdtemp()) as lock:
        ...     lock.held
        True
    """

    def __init__(self, out_dir: str) -> None:
        self.out_dir = out_dir
        self.path = os.path.join(out_dir, LOCK_FILE)
        self._fd: Optional[int] = None

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self._fd is not None

    @property
    def fd(self) -> Optional[int]:
        """The lock file's descriptor while held (hand it to worker processes so that the folder stays locked
        until the last of them has ended), else None."""
        return self._fd

    def acquire(self, wait_dead: float = 10.0) -> "FolderLock":
        """Take the lock and write this process's pid into the lock file.

        Args:
            wait_dead: When the recorded holder has exited but the lock is still held (its worker processes
                are ending), wait up to this many seconds for them.

        Returns:
            ``self``.

        Raises:
            ConfigurationError: If another live process holds the lock (the message names its pid).
        """
        import fcntl

        os.makedirs(self.out_dir, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + wait_dead
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as err:
                if err.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    os.close(fd)
                    raise
            holder = lock_holder(self.out_dir)
            if holder is not None and not _alive(holder) and time.monotonic() < deadline:
                time.sleep(0.1)
                continue
            os.close(fd)
            raise ConfigurationError(
                f"out must be a folder no other comparison is using; got {self.out_dir!r}, in use by the comparison "
                f"with pid {holder if holder is not None else 'unknown'} (wait for it to end, or stop it)."
            ) from None
        os.set_inheritable(fd, False)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def release(self) -> None:
        """Drop the lock (a no-op when not held)."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)  # closing the only descriptor releases the flock

    def __enter__(self) -> "FolderLock":
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()


class RunLock:
    """An exclusive lock on one run's folder, held by the process running the run (see the module docstring).

    The lock file is never removed (removing it would let two processes lock two different files of one
    name). Each :class:`RunLock` object opens its own descriptor, so two objects conflict even inside one
    process.

    Args:
        run_dir: The run's folder (created when missing).

    Example:
        >>> import tempfile
        >>> folder = tempfile.mkdtemp()
        >>> first, second = RunLock(folder), RunLock(folder)
        >>> first.acquire(), second.acquire(blocking=False)
        (True, False)
        >>> first.release(); second.acquire(blocking=False)
        True
    """

    def __init__(self, run_dir: str) -> None:
        self.run_dir = run_dir
        self.path = os.path.join(run_dir, RUN_LOCK_FILE)
        self._fd: Optional[int] = None

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self._fd is not None

    def acquire(self, blocking: bool = True) -> bool:
        """Take the lock and write ``"<pid> <host>"`` into the lock file.

        Args:
            blocking: Wait until the lock is free (True), or give up at once when another process holds it.

        Returns:
            Whether the lock is now held (always True when ``blocking``).

        Raises:
            OSError: If the file system refuses the lock itself (e.g. ``ENOLCK`` on a network file system
                mounted without locking).
        """
        import fcntl
        import socket

        if self._fd is not None:
            return True
        os.makedirs(self.run_dir, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except OSError as err:
            os.close(fd)
            if not blocking and err.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                return False
            raise
        except BaseException:  # an interrupt while waiting
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {socket.gethostname()}\n".encode())
        self._fd = fd
        return True

    def release(self) -> None:
        """Drop the lock (a no-op when not held)."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)

    def holder(self) -> Optional[int]:
        """The pid last written into the lock file (the holder's while the lock is held).

        Returns:
            The pid, or None when there is none.
        """
        try:
            with open(self.path) as fh:
                return int((fh.read().split() or ["x"])[0])
        except (OSError, ValueError):
            return None

    def __enter__(self) -> "RunLock":
        self.acquire()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie has exited: it holds nothing
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _watch_parent(parent: int, interval: float) -> None:
    while True:
        time.sleep(interval)
        if os.getppid() != parent:
            os._exit(1)


def _pdeathsig() -> None:
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # no prctl: the worker's own watcher alone
            pass


def kill_with_parent() -> Any:
    """A ``preexec_fn`` for ``subprocess.Popen``: the child is killed when the process starting it dies, from
    before it runs its first line (the setting survives ``exec``; Linux only, a no-op elsewhere).

    Returns:
        The function to pass as ``preexec_fn``.
    """
    parent = os.getpid()

    def preexec() -> None:
        _pdeathsig()
        if os.getppid() != parent:  # the parent died before the prctl took effect
            os._exit(1)

    return preexec


def die_with_parent(parent: Optional[int] = None, interval: float = 1.0) -> None:
    """Make this process end when its parent does (call it first thing in a worker).

    On Linux the kernel sends ``SIGKILL`` to this process when its parent thread exits. Everywhere, a daemon
    thread checks every ``interval`` seconds that the parent pid is still ``parent`` and exits the process
    (status 1) when it is not.

    Args:
        parent: The expected parent pid (``None``: the current one).
        interval: Seconds between checks of the parent pid.

    Raises:
        ConfigurationError: If ``interval`` is not a positive number.
    """
    if isinstance(interval, bool) or not isinstance(interval, (int, float)) or not interval > 0:
        raise ConfigurationError(f"interval must be a number > 0; got {interval!r}.")
    expected = os.getppid() if parent is None else parent
    _pdeathsig()
    if os.getppid() != expected:  # the parent died before the prctl took effect
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(expected, interval), daemon=True, name="ganmods-parent-watch").start()


def is_disk_full(err: BaseException) -> bool:
    """Whether ``err`` (or an error it was raised from) is a full disk or an exceeded quota.

    Args:
        err: The exception.

    Returns:
        True for ``ENOSPC`` / ``EDQUOT`` anywhere in its cause chain.
    """
    seen: set[int] = set()
    current: Optional[BaseException] = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        current = current.__cause__ or current.__context__
    return False
