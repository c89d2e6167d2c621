"""Reading a user's file safely: only regular files, never more than a bound.

A path may name a FIFO (reading it blocks until someone writes), a device (``/dev/zero`` never
ends; opening a serial device may reset a board) or a huge file. :func:`read_regular` checks the
kind with ``stat`` before opening, opens without blocking, checks again on the open descriptor
(the path may have been swapped in between) and reads at most ``limit`` bytes.
"""

from __future__ import annotations

import os
import stat

__all__ = ["FileProblem", "file_kind", "open_regular", "read_regular"]


class FileProblem(Exception):
    """The path is not a regular file or is larger than allowed; ``str()`` says which."""


def file_kind(mode: int) -> str:
    """What a ``st_mode`` names, for messages: ``"a FIFO"``, ``"a character device"``, ..."""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _check(st: os.stat_result, limit: int) -> None:
    if not stat.S_ISREG(st.st_mode):
        raise FileProblem(f"is {file_kind(st.st_mode)}, not a regular file")
    if st.st_size > limit:
        raise FileProblem(f"is {st.st_size} bytes, more than the {limit} bytes allowed")


def open_regular(path: str | os.PathLike[str], limit: int) -> int:
    """Open a regular file of at most ``limit`` bytes for reading; return the descriptor.

    Raises
    ------
    FileProblem
        Not a regular file (FIFO, device, socket, folder) or larger than ``limit``.
    OSError
        The file cannot be opened (missing, permissions, name too long, ...).
    """
    _check(os.stat(path), limit)  # before opening: opening a device can have effects
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        _check(os.fstat(fd), limit)  # the path may have been replaced since the stat
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_regular(path: str | os.PathLike[str], limit: int) -> bytes:
    """Return the bytes of a regular file of at most ``limit`` bytes (see :func:`open_regular`)."""
    fd = open_regular(path, limit)
    try:
        chunks: list[bytes] = []
        total = 0
        while True:
            chunk = os.read(fd, min(1 << 20, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:  # it grew while being read
                raise FileProblem(f"grew past the {limit} bytes allowed while being read")
        return b"".join(chunks)
    finally:
        os.close(fd)
