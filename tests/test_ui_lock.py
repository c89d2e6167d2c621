"""The window's ``l`` key starts and stops the focus lock on a twin, through the UI's own handlers."""

from __future__ import annotations

import pytest

from focuscam.measures import MEASURES
from focuscam.ui.actions import EngineActions
from focuscam.ui.state import UiState


def key(state, ch):
    return state.on_key(ord(ch))


@pytest.mark.shared
def test_l_key_locks_and_unlocks_focus_on_the_twin():
    twin = pytest.importorskip("focuscam.twin")
    af = pytest.importorskip("focuscam.autofocus")
    from conftest import shared_stack

    source, drive = twin.make_twin(shared_stack("fpd_webcam_rep1"))
    state = UiState(None)  # type: ignore[arg-type]
    controller = af.Autofocus(source, drive, on_event=state.on_autofocus_event)
    # the same wiring as focuscam.ui.live.autofocus_window
    actions = EngineActions(
        drive=drive,
        measures=list(MEASURES),
        autofocus=controller.run,
        lock=controller.start_lock,
        unlock=controller.unlock,
    )
    state.actions = actions
    actions.bind(state)
    try:
        # before a focused run the lock is refused with a message, not a crash
        key(state, "l")
        assert not actions.locked
        assert "focused run" in state.view().message
        assert key(state, "a")
        assert actions.wait(120)
        assert controller.last_result is not None and controller.last_result.focused
        key(state, "l")
        assert actions.locked
        assert state.view().message == "focus locked"
        assert controller._lock_thread is not None and controller._lock_thread.is_alive()
        key(state, "l")
        assert not actions.locked
        assert state.view().message == "focus unlocked"
        assert not controller._lock_thread.is_alive()
        assert isinstance(controller.lock_report, af.LockReport)
    finally:
        key(state, "q")
        source.close()
