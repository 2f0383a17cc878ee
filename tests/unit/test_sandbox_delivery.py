"""The sandbox's delivery pump stops when it is cancelled, whatever wakes it at that moment."""

from __future__ import annotations

import asyncio

import pytest

from pik_recon.sandbox.state import SandboxState


def test_a_cancel_that_meets_a_wake_stops_the_pump() -> None:
    """An attempt that ends as the sandbox stops sets the wake as the pump is cancelled: the
    pump ends, where Python 3.11's `asyncio.wait_for` would swallow the cancellation and
    keep the sandbox's stop waiting for ever."""
    hub = SandboxState(api_key="k").webhooks

    async def stop_while_woken() -> None:
        pump = asyncio.create_task(hub.run())
        await asyncio.sleep(0.05)  # in its wait for a wake or a tick
        hub._wake.set()
        pump.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(pump, 5)

    asyncio.run(stop_while_woken())
