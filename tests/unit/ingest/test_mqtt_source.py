"""The MQTT source keeps the source contract against the real Mosquitto fixture."""

from __future__ import annotations

import itertools
from typing import Any

import aiomqtt
import pytest

from groundwatch.ingest.mqtt import MqttSource
from groundwatch.parts import Source
from groundwatch.services import ServiceHandle

from ...helpers.source_template import SourceContract

_ids = itertools.count()


class TestMqttSource(SourceContract):
    def make_source(self, peer: Any) -> Source:
        n = next(_ids)
        self.topic_root = f"contract{n}"
        return MqttSource.from_config(
            {
                "url": peer.url,
                "client_id": f"source-contract-{n}",
                "topics": [f"{self.topic_root}/+/frames"],
                "heartbeat_topics": [],
            },
            "sources[0]",
        )

    async def send(self, peer: Any, source: Source, frames: list[bytes]) -> None:
        async with aiomqtt.Client("127.0.0.1", peer.port) as client:
            for f in frames:
                await client.publish(f"{self.topic_root}/{self.station}/frames", f, qos=1)

    @pytest.fixture
    def peer(self, mosquitto: ServiceHandle) -> ServiceHandle:
        return mosquitto
