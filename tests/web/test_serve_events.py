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
