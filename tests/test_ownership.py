"""One controller owns the drive at a time (defect 6): a search or a jog pauses the focus lock."""

from __future__ import annotations

import threading

import pytest
from twin_helpers import defocus_stack

from focuscam.autofocus import Autofocus
from focuscam.errors import DriveBusy
from focuscam.measures import MEASURES
from focuscam.ownership import DriveOwner
from focuscam.twin import make_twin
from focuscam.ui.actions import EngineActions
from focuscam.ui.state import UiState

LOCK_THREAD = "focuscam-lock"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    return defocus_stack(tmp_path_factory.mktemp("own") / "synthetic", planes=41, focus=23.0)


class Events(list):
    """Every event with its thread, and a Condition to wait on for the next ones."""

    def __init__(self):
        super().__init__()
        self.cond = threading.Condition()

    def __call__(self, kind, data):
        with self.cond:
            self.append((threading.current_thread().name, kind, dict(data)))
            self.cond.notify_all()

    def wait_for(self, predicate, timeout=60.0):
        with self.cond:
            return self.cond.wait_for(lambda: predicate(self), timeout)


def window_over(stack, events):
    """The wiring of focuscam.ui.live.autofocus_window, with every event logged with its thread."""
    src, drive = make_twin(stack, start_um=5.0)
    state = UiState(None)  # type: ignore[arg-type]

    def on_event(kind, data):
        events(kind, data)
        state.on_autofocus_event(kind, data)

    af = Autofocus(src, drive, resolution_um=1.0, on_event=on_event)
    actions = EngineActions(
        drive=drive,
        measures=list(MEASURES),
        autofocus=af.run,
        lock=lambda: af.start_lock(range_um=8.0),
        unlock=af.unlock,
        is_locked=lambda: af.focus_lock.running,
        jog=af.jog,
        close_drive=False,
    )
    state.actions = actions
    actions.bind(state)
    return src, drive, af, state, actions


def lock_samples(events):
    return sum(1 for name, kind, data in events if name == LOCK_THREAD and kind == "sample")


def lock_ended(events):
    return any(n == LOCK_THREAD and k == "state" and d.get("state") == "unlocked" for n, k, d in events)


def test_a_while_locked_pauses_the_lock_for_the_search_then_resumes(stack):
    events = Events()
    src, drive, af, state, actions = window_over(stack, events)
    try:
        assert state.on_key(ord("a"))
        assert actions.wait(120) and af.last_result.focused
        state.on_key(ord("l"))
        assert actions.locked
        src.drift_um = 3.0  # the lock has work to do: it re-focuses
        assert events.wait_for(lambda ev: lock_samples(ev) >= 30)
        n_before = len(events)
        state.on_key(ord("a"))  # a second search while locked
        assert actions.wait(120)
        with events.cond:
            snapshot = list(events)
        run = [(i, e) for i, e in enumerate(snapshot) if i >= n_before and e[0] != LOCK_THREAD]
        first = next(i for i, e in run if e[1] == "state" and e[2].get("state") == "searching")
        last = next(i for i, e in run if e[1] == "result")
        during = [e for e in snapshot[first : last + 1] if e[0] == LOCK_THREAD]
        assert during == [], "the lock moved or scored while the search owned the drive"
        assert af.last_result.focused
        # the lock resumes on the new run's verified score
        assert events.wait_for(lambda ev: lock_samples(ev[last:]) >= 10)
        assert actions.locked and af.focus_lock.running
        assert ("focus lock", "paused") in DriveOwner.of(drive).log
    finally:
        af.unlock()
        state.on_key(ord("q"))
        src.close()
    rep = af.lock_report
    assert rep.pauses >= 1 and rep.ended == "unlocked"


def test_a_jog_while_locked_pauses_the_lock_and_it_holds_the_new_plane(stack):
    events = Events()
    src, drive, af, state, actions = window_over(stack, events)
    try:
        assert state.on_key(ord("a")) and actions.wait(120)
        state.on_key(ord("l"))
        assert events.wait_for(lambda ev: lock_samples(ev) >= 5)
        z0 = drive.position
        state.on_key(ord("+"))  # jog 10 um up
        assert actions.wait(60)
        n = len(events)
        assert events.wait_for(lambda ev: lock_samples(ev[n:]) >= 60)
        assert drive.position == pytest.approx(z0 + 10.0)  # the lock holds the jogged plane
    finally:
        rep = af.unlock()
        state.on_key(ord("q"))
        src.close()
    assert rep.pauses == 1 and rep.refocuses == 0


def test_a_failed_search_ends_the_lock_with_a_report(stack):
    events = Events()
    src, _drive, af, state, actions = window_over(stack, events)
    try:
        assert state.on_key(ord("a")) and actions.wait(120)
        state.on_key(ord("l"))
        assert events.wait_for(lambda ev: lock_samples(ev) >= 5)
        src.drift_um = 1000.0  # nothing sharp anywhere: the next search fails
        state.on_key(ord("a"))
        assert actions.wait(120) and not af.last_result.focused
        assert events.wait_for(lock_ended)
        assert af.focus_lock.thread.wait(30)
        assert not actions.locked and not state.view().locked
    finally:
        state.on_key(ord("q"))
        src.close()
    assert af.lock_report.ended == "search failed"


def test_a_second_run_while_one_runs_is_refused(stack):
    src, drive = make_twin(stack, start_um=5.0)
    gate, go = threading.Event(), threading.Event()

    def on_event(kind, data):
        if kind == "sample" and not gate.is_set():
            gate.set()
            go.wait(30)

    af = Autofocus(src, drive, resolution_um=1.0, on_event=on_event)
    other = Autofocus(src, drive, resolution_um=1.0)
    worker = threading.Thread(target=af.run)
    worker.start()
    try:
        assert gate.wait(30)
        with pytest.raises(DriveBusy, match="autofocus owns it"):
            other.run()
        with pytest.raises(DriveBusy, match="busy"):
            other.jog(5.0)
    finally:
        go.set()
        worker.join(60)
    assert af.last_result is not None and other.last_result is None
