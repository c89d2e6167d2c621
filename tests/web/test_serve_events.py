"""The events stream's own behaviour (focuscam.web.stream.EventBus), on a real asyncio loop."""

from __future__ import annotations

import asyncio
import json
import threading

from focuscam.web.stream import EventBus

WAIT_S = 60.0


def test_an_idle_stream_gets_keep_alives_and_events_from_any_thread():
    bus = EventBus()

    async def read() -> list[str]:
        stream = bus.stream(first="first\n\n", heartbeat_s=0.05)
        got = [await asyncio.wait_for(stream.__anext__(), WAIT_S)]
        got.append(await asyncio.wait_for(stream.__anext__(), WAIT_S))  # nothing published: a beat
        # an engine thread publishes; the stream sends the event (perhaps after more beats)
        thread = threading.Thread(target=bus.publish, args=("sample", {"score": 1.5, "bad": float("nan")}))
        thread.start()
        while not got[-1].startswith("event:"):
            got.append(await asyncio.wait_for(stream.__anext__(), WAIT_S))
        thread.join()
        bus.close()
        async for text in stream:  # ends after close()
            got.append(text)
        return got

    got = asyncio.run(read())
    assert got[0] == "first\n\n"
    assert got[1] == ": keep-alive\n\n"
    event = next(t for t in got if t.startswith("event:"))
    head, data = event.strip().split("\n")
    assert head == "event: sample"
    assert json.loads(data.removeprefix("data: ")) == {"score": 1.5, "bad": None}  # no NaN in JSON
    assert not bus._subs  # the ended stream left the bus


def test_events_published_while_nobody_listens_are_not_queued_anywhere():
    bus = EventBus()
    bus.publish("sample", {"score": 1.0})  # no subscriber: nothing to serialise or keep

    async def first_two() -> list[str]:
        stream = bus.stream(heartbeat_s=WAIT_S)
        waiting = asyncio.ensure_future(stream.__anext__())
        while not bus._subs:  # the stream has subscribed
            await asyncio.sleep(0)
        bus.publish("state", {"n": 2})
        got = [await asyncio.wait_for(waiting, WAIT_S)]
        await stream.aclose()
        return got

    (text,) = asyncio.run(first_two())
    assert text.startswith("event: state\n") and '"n": 2' in text


def _events(text: str) -> list[tuple[str, dict]]:
    out = []
    for block in text.strip().split("\n\n"):
        head, data = block.split("\n")
        out.append((head.removeprefix("event: "), json.loads(data.removeprefix("data: "))))
    return out


def test_samples_wait_for_the_batch_a_state_change_goes_at_once_with_them_in_order():
    bus = EventBus(batch_s=3600.0)  # the batch timer never fires in this test

    async def read() -> str:
        stream = bus.stream(heartbeat_s=3600.0)
        waiting = asyncio.ensure_future(stream.__anext__())
        while not bus._subs:
            await asyncio.sleep(0)

        def engine() -> None:
            for k in range(5):
                bus.publish("sample", {"seq": k})
            bus.publish("state", {"state": "scanning"})

        thread = threading.Thread(target=engine)
        thread.start()
        text = await asyncio.wait_for(waiting, WAIT_S)  # woken by the state change, not a timer
        thread.join()
        while text.count("event:") < 6:  # the state change may have caught the samples halfway
            text += await asyncio.wait_for(stream.__anext__(), WAIT_S)
        await stream.aclose()
        return text

    got = _events(asyncio.run(read()))
    assert got == [("sample", {"seq": k}) for k in range(5)] + [("state", {"state": "scanning"})]


def test_batched_samples_alone_reach_the_stream_each_as_an_event_of_its_own():
    bus = EventBus(batch_s=0.01)

    async def read() -> list[tuple[str, dict]]:
        stream = bus.stream(heartbeat_s=3600.0)
        waiting = asyncio.ensure_future(stream.__anext__())
        while not bus._subs:
            await asyncio.sleep(0)
        thread = threading.Thread(target=lambda: [bus.publish("sample", {"seq": k}) for k in range(50)])
        thread.start()
        got = _events(await asyncio.wait_for(waiting, WAIT_S))
        while len(got) < 50:
            got += _events(await asyncio.wait_for(stream.__anext__(), WAIT_S))
        thread.join()
        await stream.aclose()
        return got

    assert asyncio.run(read()) == [("sample", {"seq": k}) for k in range(50)]


def test_an_event_is_serialised_the_same_with_or_without_numpy_values():
    import numpy as np

    from focuscam.web.stream import sse

    plain = {"score": 1.25, "seq": 3, "blurred": False, "focus_map": [[1.0, 2.0]], "z": None}
    numpy = {"score": np.float64(1.25), "seq": np.int64(3), "blurred": np.bool_(False),
             "focus_map": np.array([[1.0, 2.0]]), "z": None}  # fmt: skip
    assert sse("sample", numpy) == sse("sample", plain)
    assert sse("sample", {"score": float("inf")}) == 'event: sample\ndata: {"score": null}\n\n'


def test_one_wake_up_for_many_events_set_from_a_thread_and_the_hooks_run_on_it():
    from focuscam.web.wake import waker

    async def run() -> tuple[int, int, bool]:
        loop = asyncio.get_running_loop()
        wake = waker(loop)
        assert waker(loop) is wake  # one per loop
        calls = []
        original = loop.call_soon_threadsafe

        def counting(*args):
            calls.append(args)
            return original(*args)

        loop.call_soon_threadsafe = counting  # type: ignore[method-assign]
        runs = []
        wake.hooks.append(lambda: runs.append(1))
        events = [asyncio.Event() for _ in range(20)]
        thread = threading.Thread(target=lambda: [wake.set(e) for e in events])
        thread.start()
        thread.join()  # all twenty set before the loop ran again
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in events)), WAIT_S)
        del loop.call_soon_threadsafe
        return len(calls), len(runs), all(e.is_set() for e in events)

    assert asyncio.run(run()) == (1, 1, True)


def test_a_due_batch_goes_out_on_a_wake_up_that_comes_anyway_before_its_own_timer():
    from focuscam.web.wake import waker

    bus = EventBus(batch_s=3600.0)  # the stream's own timer never fires in this test

    async def read() -> str:
        stream = bus.stream(heartbeat_s=3600.0)
        waiting = asyncio.ensure_future(stream.__anext__())
        while not bus._subs:
            await asyncio.sleep(0)
        (sub,) = bus._subs
        for k in range(3):
            bus.publish("sample", {"seq": k})
        await asyncio.sleep(0)
        assert not waiting.done()  # batched: nothing woke the stream
        sub.flushed -= 3600.0  # its batch is due
        frame = asyncio.Event()  # another stream's wake-up (a live-view frame) from a thread
        thread = threading.Thread(target=waker(asyncio.get_running_loop()).set, args=(frame,))
        thread.start()
        text = await asyncio.wait_for(waiting, WAIT_S)
        thread.join()
        assert frame.is_set()
        await stream.aclose()
        return text

    assert _events(asyncio.run(read())) == [("sample", {"seq": k}) for k in range(3)]


def test_a_finished_loop_and_its_waker_are_freed():
    import gc
    import weakref

    from focuscam.web import wake

    async def use() -> weakref.ref:
        loop = asyncio.get_running_loop()
        wake.waker(loop)
        return weakref.ref(loop)

    ref = asyncio.run(use())
    gc.collect()
    assert ref() is None  # neither the registry nor the waker it keeps holds the loop
