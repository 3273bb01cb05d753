from __future__ import annotations

from pathlib import Path

from groundwatch.config import StoreConfig
from groundwatch.store.detect import api_for_version
from groundwatch.store.influx_v2 import InfluxV2Writer


def test_version_header_picks_the_api() -> None:
    assert api_for_version("1.6.7~rc0") == "v1"
    assert api_for_version("1.8.10") == "v1"
    assert api_for_version("v2.7.1") == "v2"
    assert api_for_version("2.7.4") == "v2"
    assert api_for_version("3.0.0-core") == "v2"
    assert api_for_version("unknown") == "v1"


def test_v2_writer_without_bucket_uses_the_1x_mapping(tmp_path: Path) -> None:
    cfg = StoreConfig(database="gw", retention_policy="autogen", spool_dir=tmp_path)
    assert InfluxV2Writer.from_config(cfg).bucket == "gw/autogen"
    cfg = StoreConfig(api="v2", bucket="telemetry", org="ops", spool_dir=tmp_path)
    w = InfluxV2Writer.from_config(cfg)
    assert (w.bucket, w.org) == ("telemetry", "ops")
