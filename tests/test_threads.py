"""focuscam._threads.Worker: waiting for a thread survives a Ctrl-C landing in the wait."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

from focuscam._threads import Worker

# A worker that runs until told to stop, then tidies up for 0.3 s. The main thread waits for it
# in a loop with a timeout, as the CLI does, and a SIGINT lands in that wait. Afterwards it stops
# the worker and waits again: that wait must not return while the worker still runs. With a
# plain Thread.join(timeout) loop, CPython 3.11 prints "orphaned" here every time (gh-90882).
SCRIPT = r"""
import os, signal, threading, time
from focuscam._threads import Worker

stop = threading.Event()

def work():
    while not stop.is_set():
        sum(range(1000))
    time.sleep(0.3)

w = Worker(work, "busy")
w.start()
threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
try:
    while not w.wait(0.2):
        pass
except KeyboardInterrupt:
    print("interrupted")
stop.set()
w.wait()
print("orphaned" if w in threading.enumerate() else "joined")
"""


def test_wait_after_an_interrupted_wait_still_waits_for_the_thread():
    for _ in range(3):
        proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.split() == ["interrupted", "joined"]


def test_wait_times_out_while_running_and_reports_the_end():
    release = threading.Event()
    w = Worker(release.wait, "waiter")
    assert w.wait(0.01)  # never started: nothing to wait for
    w.start()
    assert w.running
    t0 = time.monotonic()
    assert not w.wait(0.05)
    assert time.monotonic() - t0 >= 0.04
    release.set()
    assert w.wait(5)
    assert not w.running and not w.is_alive()


def test_finished_is_set_when_the_target_raises():
    def boom():
        raise RuntimeError("boom")

    seen = []
    old = threading.excepthook
    threading.excepthook = lambda args: seen.append(args.exc_type)
    try:
        w = Worker(boom, "boom")
        w.start()
        assert w.wait(5)
    finally:
        threading.excepthook = old
    assert w.finished.is_set() and seen == [RuntimeError]
