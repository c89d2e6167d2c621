"""One error hierarchy for focuscam.

Every error a user can meet derives from :class:`FocuscamError`. The CLI maps the
families onto exit codes (see :data:`EXIT_CODES`) and prints ``str(error)`` as one line,
so every message must name the problem *and* the fix.

- :class:`InputError` (also a ``ValueError``): bad frames, ROIs, names, files, flags.
- :class:`SourceError`: a camera or replay source failed at run time.
- :class:`StorageError`: writing a recording or stack failed (a full disk); exit code 3.
- :class:`DeviceError`: a focus drive failed; subclasses say how.
"""

from __future__ import annotations

__all__ = [
    "EXIT_CODES",
    "Aborted",
    "ConflictError",
    "DeviceError",
    "DeviceTimeout",
    "DriveBusy",
    "FocuscamError",
    "InputError",
    "LimitError",
    "PositionUnknownError",
    "ProtocolError",
    "SourceError",
    "StackError",
    "StorageError",
    "exit_code_for",
]


class FocuscamError(Exception):
    """Base of every error focuscam raises on purpose."""


class InputError(FocuscamError, ValueError):
    """Bad input: a frame, ROI, parameter, file or flag that cannot be used as given."""


class DriveBusy(InputError):
    """Another controller owns the focus drive (an autofocus run, a jog): wait for it or stop it."""


class StackError(InputError):
    """A stack (stack.json, an image folder, a TIFF or a video) that cannot be read or written."""


class StorageError(FocuscamError):
    """Writing to disk failed (a full disk, an I/O error); the message says what is saved."""


class SourceError(FocuscamError):
    """A frame source failed: a camera that does not open, a stream that ended, a dead device."""


class DeviceError(FocuscamError):
    """A focus drive failed or refused a request."""


class LimitError(DeviceError, ValueError):
    """A move that would leave the drive's soft limits; nothing was sent to the device."""


class PositionUnknownError(DeviceError):
    """The drive's position is not known (timeout, reset, alarm); re-synchronise or home it."""


class DeviceTimeout(DeviceError):
    """A device did not answer in time."""


class ProtocolError(DeviceError):
    """A device sent a reply that does not follow its protocol (garbled, unexpected, corrupt)."""


class ConflictError(FocuscamError):
    """A request that conflicts with what runs now (the drive is busy or controlled by another)."""


class Aborted(FocuscamError):
    """The user or another thread aborted the operation; the drive has been stopped."""


#: Exit codes of the ``focuscam`` command.
EXIT_CODES = {
    "ok": 0,
    "failed": 1,  # ran fine, but did not find focus
    "usage": 2,  # bad usage or bad input
    "device": 3,  # a device (camera, drive) failed
    "interrupted": 130,
}


def exit_code_for(error: BaseException) -> int:
    """Return the documented exit code for an error raised by focuscam."""
    if isinstance(error, KeyboardInterrupt | Aborted):
        return EXIT_CODES["interrupted"]
    if isinstance(error, DeviceError | SourceError | StorageError):
        return EXIT_CODES["device"]
    return EXIT_CODES["usage"]
