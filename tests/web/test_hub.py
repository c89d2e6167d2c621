"""The server's frame hub (focuscam.web.hub): its own pump thread, or a driver that pumps."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from focuscam.errors import InputError, SourceError
from focuscam.sources.base import FrameSource, StreamEnded
from focuscam.types import Frame
from focuscam.web.hub import FrameHub

WAIT_S = 60.0


class Scripted(FrameSource):
    """A source whose reads follow a script: ``"frame"``, or an exception to raise.

    After the script it delivers frames on and on (``loop``) or ends (StreamEnded). ``reader``
    keeps the name of the last thread that read it.
    """

    def __init__(self, script, loop: bool = True) -> None:
        self.name = "scripted"
        self.script = list(script)
        self.loop = loop
        self.n = 0
        self.readers: set[str] = set()
        self._closed = False
        self._lock = threading.Lock()

    def read(self, timeout=None) -> Frame:
        with self._lock:
            if self._closed:
                raise SourceError("scripted is closed")
            self.readers.add(threading.current_thread().name)
            if not self.script and not self.loop:
                raise StreamEnded("scripted ended", self.n)
            step = self.script.pop(0) if self.script else "frame"
            if isinstance(step, BaseException):
                raise step
            self.n += 1
            return Frame(np.full((4, 4), self.n % 256, np.uint8), float(self.n), self.n)

    def close(self) -> None:
        self._closed = True

    @property
    def size(self):
        return (4, 4)

    @property
    def fps(self):
        return None

    @property
    def dropped(self):
        return 0


def test_the_driver_reads_the_source_itself_and_hands_every_frame_on_first():
    src = Scripted([])
    hub = FrameHub(src)
    driver = hub.driver()
    other = hub.tap(buffer=64)
    seen: list[int] = []
    hub.listen(lambda f: seen.append(f.seq))
    hub.start()
    try:
        got = [driver.read(timeout=WAIT_S).seq for _ in range(10)]
        assert got == list(range(1, 11))
        assert seen == got  # every listener had each frame before the driver got it
        assert [other.read(timeout=WAIT_S).seq for _ in range(10)] == got
        assert src.readers == {threading.current_thread().name}  # no thread of the hub read it
        assert hub.running and hub.count == 10 and hub.latest.seq == 10
    finally:
        hub.close()


def test_a_closed_driver_hands_the_pumping_to_the_hubs_thread():
    src = Scripted([])
    hub = FrameHub(src)
    driver = hub.driver()
    other = hub.tap(buffer=2)
    hub.start()
    try:
        driver.read(timeout=WAIT_S)
        driver.close()
        before = other.read(timeout=WAIT_S).seq
        after = other.read(timeout=WAIT_S).seq  # read by the hub's own thread now
        assert after > before
        assert "focuscam-hub" in src.readers
        with pytest.raises(SourceError, match="closed"):
            driver.read(timeout=WAIT_S)
    finally:
        hub.close()


def test_a_failed_read_reaches_the_driver_and_the_others_get_frames_on():
    src = Scripted(["frame", SourceError("the camera hiccuped")])
    hub = FrameHub(src)
    driver = hub.driver()
    other = hub.tap(buffer=8)
    hub.start()
    try:
        assert driver.read(timeout=WAIT_S).seq == 1
        with pytest.raises(SourceError, match="hiccuped"):
            driver.read(timeout=WAIT_S)
        assert driver.closed
        seqs = [other.read(timeout=WAIT_S).seq for _ in range(3)]
        assert seqs == sorted(set(seqs)) and seqs[-1] > 1  # frames read after the failure
    finally:
        hub.close()


def test_the_end_of_the_stream_reaches_every_reader_through_the_driver():
    src = Scripted(["frame", "frame"], loop=False)
    hub = FrameHub(src)
    driver = hub.driver()
    other = hub.tap(buffer=8)
    hub.start()
    try:
        assert [driver.read(timeout=WAIT_S).seq for _ in range(2)] == [1, 2]
        with pytest.raises(StreamEnded):
            driver.read(timeout=WAIT_S)
        assert hub.ended
        assert [other.read(timeout=WAIT_S).seq for _ in range(2)] == [1, 2]
        with pytest.raises(StreamEnded):
            other.read(timeout=WAIT_S)
    finally:
        hub.close()


def test_one_driver_asked_for_before_start():
    hub = FrameHub(Scripted([]))
    hub.driver()
    with pytest.raises(InputError, match="one driver"):
        hub.driver()
    late = FrameHub(Scripted([]))
    late.start()
    try:
        with pytest.raises(InputError, match="before start"):
            late.driver()
    finally:
        late.close()


def test_a_monitor_that_fails_releases_the_driver_and_the_autofocus_tap_gets_frames_on():
    from focuscam.monitor import Monitor

    hub = FrameHub(Scripted([]))
    mon = Monitor(hub.driver(), queue_size=0, blur="off")
    failed = threading.Event()

    def fail(sample) -> None:
        if sample.seq >= 3:
            failed.set()
            raise RuntimeError("a subscriber failed")

    mon.subscribe(fail)
    tap = hub.tap(buffer=2)
    hub.start()
    mon.start()
    try:
        assert failed.wait(WAIT_S)
        while mon.running:  # the monitor's thread ends (nobody has stopped it)
            mon.threads[0].wait(WAIT_S)
        # more frames than the tap could have kept from before: the hub's thread pumps on
        seqs = [tap.read(timeout=WAIT_S).seq for _ in range(6)]
        assert seqs == sorted(set(seqs)) and "focuscam-hub" in hub.source.readers
        with pytest.raises(RuntimeError, match="subscriber failed"):
            mon.wait(WAIT_S)
    finally:
        mon.stop()
        hub.close()
