"""The webhook benchmark's baseline: a bare aiohttp handler that reads the body and answers
200, checking and storing nothing. Prints its port, then serves until killed.

    python -m tests.benchmarks.bare_receiver
"""

from __future__ import annotations

import asyncio

from aiohttp import web


async def _answer(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(text="ok")


async def _serve() -> None:
    app = web.Application()
    app.router.add_post("/webhooks", _answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
    await site.start()
    assert site._server is not None
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print(f"bare receiver on http://127.0.0.1:{port}/webhooks", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(_serve())
