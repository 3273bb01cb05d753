from __future__ import annotations

import hashlib
import json

from groundwatch.model import (
    DecodedPacket,
    Event,
    EventType,
    ParamValue,
    Rejection,
    RejectReason,
    Severity,
    SpacePacketHeader,
)
from groundwatch.store.points import event_point, packet_point, rejected_point


def _pkt(**params: ParamValue) -> DecodedPacket:
    return DecodedPacket(
        ert_ns=1_000_000,
        station="gs1",
        source="live",
        spacecraft="lander",
        name=None,
        index_in_frame=3,
        header=SpacePacketHeader(0, 0, 1, 0x42, 3, 77, 10),
        params=dict(params),
        obt_ns=5_000,
    )


def test_packet_point_schema() -> None:
    p = packet_point(
        _pkt(
            mode=ParamValue(raw=2, eng="DESCENT"),
            temp=ParamValue(raw=100, eng=12.5, unit="C"),
            count=ParamValue(raw=7, eng=7),
            vec=ParamValue(raw=[1, 2], eng=[0.5, 1.0]),
            blob=ParamValue(raw=b"\x01\xff", eng=b"\x01\xff"),
            flag=ParamValue(raw=1, eng=True),
        )
    )
    assert p.measurement == "apid_66"
    assert p.tags == {"spacecraft": "lander", "station": "gs1", "source": "live"}
    assert p.time_ns == 1_000_003
    assert p.fields == {
        "mode": "DESCENT",
        "mode_raw": 2,
        "temp": 12.5,
        "count": 7,
        "vec_0": 0.5,
        "vec_1": 1.0,
        "blob": "01ff",
        "flag": True,
        "seq_count": 77,
        "obt": 5_000,
    }


def test_float_typed_parameter_keeps_float_type_for_int_values() -> None:
    p = packet_point(_pkt(alt=ParamValue(raw=0, eng=0)), float_params={"alt"})
    assert p.fields["alt"] == 0.0 and isinstance(p.fields["alt"], float)


def test_rejected_and_event_points() -> None:
    r = Rejection(RejectReason.BAD_CRC, "crc 0x1 != 0x2", b"\xde\xad", 10, "gs1", "live", vcid=1)
    p = rejected_point(r, index=2)
    assert (p.measurement, p.time_ns) == ("rejected", 12)
    assert p.tags == {"station": "gs1", "source": "live", "reason": "bad_crc"}
    assert p.fields == {
        "detail": "crc 0x1 != 0x2",
        "hex": "dead",
        "length": 2,
        "sha256": hashlib.sha256(b"\xde\xad").hexdigest(),
        "vcid": 1,
    }
    big = Rejection(RejectReason.WRONG_LENGTH, "x", bytes(range(256)) * 40, 10, "gs1", "live")
    fields = rejected_point(big).fields
    assert fields["hex"] == bytes(range(256)).hex() and fields["truncated"] is True
    assert fields["length"] == 10240
    e = Event(
        EventType.UNEXPECTED_LOS,
        Severity.CRITICAL,
        99,
        "lander",
        "gs1",
        "LOS",
        "lost",
        "LOS/lander/gs1",
        "LOS/lander/gs1/1",
        details={"last": 5},
    )
    ep = event_point(e)
    assert ep.tags["type"] == "UNEXPECTED_LOS" and ep.tags["severity"] == "critical"
    assert json.loads(str(ep.fields["details"])) == {"last": 5}
    assert ep.fields["recovery"] is False


def test_float_params_of_dictionary_parameters() -> None:
    from groundwatch.decoders.api import ParameterInfo
    from groundwatch.store.points import float_params_of

    params = [
        ParameterInfo("alt", "gnc", "float32"),
        ParameterInfo("mode", "gnc", "enum"),
        ParameterInfo("v", "gnc", "float64"),
        ParameterInfo("n", "gnc", "uint12"),
    ]
    assert float_params_of(params) == {"alt", "v"}
