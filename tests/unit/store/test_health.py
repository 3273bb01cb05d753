from __future__ import annotations

import aiohttp

from groundwatch.store.health import HealthServer, flatten_metrics


def test_flatten_metrics() -> None:
    lines = flatten_metrics(
        {"store": {"spool_bytes": 3, "db_up": True, "name": "x"}, 'frames{station="gs1"}': 7}
    )
    assert lines == [
        "groundwatch_store_spool_bytes 3",
        "groundwatch_store_db_up 1",
        'groundwatch_frames{station="gs1"} 7',
    ]


async def test_server_serves_health_and_metrics() -> None:
    srv = HealthServer("127.0.0.1:0", lambda: {"store": {"queue_depth": 5}})
    await srv.start()
    try:
        async with aiohttp.ClientSession() as s:
            async with s.get(f"http://127.0.0.1:{srv.port}/health") as r:
                assert await r.json() == {"store": {"queue_depth": 5}}
            async with s.get(f"http://127.0.0.1:{srv.port}/metrics") as r:
                assert "groundwatch_store_queue_depth 5" in await r.text()
    finally:
        await srv.stop()
