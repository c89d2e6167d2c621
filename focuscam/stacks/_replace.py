"""What :func:`~focuscam.stacks.writer.save_stack` may replace: an existing stack folder is
replaced only when it holds nothing but what focuscam writes (issue 12 item 11), and the new
stack is built in a hidden folder beside it first."""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

from ..errors import StackError
from .format import JOURNAL

__all__ = ["PART", "foreign_names", "make_dir_beside"]

#: The suffix of a file being written (renamed to its name once complete).
PART = ".part"


def foreign_names(dest: Path, limit: int = 5) -> list[str]:
    """Names in an existing stack folder that focuscam did not write (at most ``limit``)."""
    listed: set[str] = set()
    with contextlib.suppress(OSError, ValueError, StackError):
        from .readers import load_stack

        listed = {str(f.relative_to(dest)) for f in load_stack(dest).files}
    foreign: list[str] = []
    mine = {"stack.json", "stack.json.tmp", JOURNAL, "frames"}
    for entry in os.scandir(dest):
        if entry.name not in mine or (entry.name == "frames" and not entry.is_dir(follow_symlinks=False)):
            foreign.append(entry.name)
    frames = dest / "frames"
    if frames.is_dir() and not frames.is_symlink():
        for entry in os.scandir(frames):
            rel = f"frames/{entry.name}"
            if rel not in listed and not (entry.name.endswith(PART) and entry.name[: -len(PART)]):
                foreign.append(rel)
            if len(foreign) >= limit:
                break
    return sorted(foreign)[:limit]


def make_dir_beside(dest: Path, mode_of: Path | None) -> Path:
    """A new hidden folder beside ``dest``, with ``mode_of``'s permissions (else the umask's)."""
    while True:
        tmp = dest.parent / f".{dest.name}.tmp-{secrets.token_hex(4)}"
        try:
            tmp.mkdir()
            break
        except FileExistsError:
            continue
    if mode_of is not None:
        os.chmod(tmp, stat.S_IMODE(mode_of.stat().st_mode))
    return tmp
