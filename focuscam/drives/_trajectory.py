"""A drive's trajectory: ``(t, z_um)`` samples in time order, bounded, thread-safe.

Every move records its start and end and drivers add mid-move reports, so the position at any
clock time can be interpolated (the controller uses it to tell which frames were taken while
the motor moved).
"""

from __future__ import annotations

import bisect
import math
import threading
from collections import deque

from ..errors import InputError

__all__ = ["TRAJECTORY_MAX", "Trajectory"]

#: Maximum number of (t, z) samples a drive keeps in its trajectory.
TRAJECTORY_MAX = 100_000


class Trajectory:
    """The last :data:`TRAJECTORY_MAX` ``(t, z_um)`` samples (t in s on the drive's clock)."""

    def __init__(self, maxlen: int = TRAJECTORY_MAX) -> None:
        self._samples: deque[tuple[float, float]] = deque(maxlen=maxlen)
        self._lock = threading.Lock()

    def record(self, t: float, z_um: float) -> None:
        """Append a sample; a time before the last one is moved up to it (order is kept)."""
        with self._lock:
            if self._samples and t < self._samples[-1][0]:
                t = self._samples[-1][0]
            self._samples.append((float(t), float(z_um)))

    def samples(self) -> list[tuple[float, float]]:
        """A copy of the samples in time order."""
        with self._lock:
            return list(self._samples)

    def position_at(self, t: float) -> float:
        """The z (um) at time ``t`` (s), interpolated linearly between samples.

        After the last sample the drive is at rest at the last position. Raises InputError for
        a ``t`` before the first sample (or not finite) and when there are no samples.
        """
        t = float(t)
        samples = self.samples()
        if not samples:
            raise InputError("the drive has no trajectory yet: move it (or read its position) first")
        times = [s[0] for s in samples]
        if not math.isfinite(t) or t < times[0]:
            raise InputError(
                f"time {t:.6f} s is before the recorded trajectory (starts at {times[0]:.6f} s): "
                f"give a time on the drive's clock after it was opened"
            )
        i = bisect.bisect_right(times, t)
        if i >= len(samples):
            return samples[-1][1]
        (t0, z0), (t1, z1) = samples[i - 1], samples[i]
        if t1 <= t0:
            return z1
        return z0 + (z1 - z0) * (t - t0) / (t1 - t0)
