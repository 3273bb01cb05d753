"""The Construct layouts of the link's headers: the spec of each format.

The decoder reads these headers with hand-written fast parsers (``space_packet``,
``tm_frame``, ``ax25``), each proved equal to its layout here by a test; the simulator and
the frame packer build with the layouts. Kept apart so that decoding does not load
Construct: it loads when something is built.
"""

from __future__ import annotations

from construct import (
    BitsInteger,
    BitStruct,
    Bytes,
    Flag,
    GreedyBytes,
    If,
    Int8ub,
    RepeatUntil,
    Struct,
    this,
)

# 133.0-B-2 table 4-1: packet primary header.
SpacePacketPrimaryHeader = BitStruct(
    "version" / BitsInteger(3),  # packet version number, 000
    "type" / BitsInteger(1),  # 0 telemetry, 1 telecommand
    "sec_hdr_flag" / Flag,
    "apid" / BitsInteger(11),
    "seq_flags" / BitsInteger(2),
    "seq_count" / BitsInteger(14),
    "data_length" / BitsInteger(16),  # octets in the packet data field minus one
)

# 132.0-B-3 figure 4-2: transfer frame primary header.
TmPrimaryHeader = BitStruct(
    "version" / BitsInteger(2),
    "scid" / BitsInteger(10),
    "vcid" / BitsInteger(3),
    "ocf_flag" / Flag,
    "mcfc" / BitsInteger(8),  # master channel frame count
    "vcfc" / BitsInteger(8),  # virtual channel frame count
    # transfer frame data field status:
    "sec_hdr_flag" / Flag,
    "sync_flag" / Flag,
    "packet_order" / Flag,
    "segment_length_id" / BitsInteger(2),
    "fhp" / BitsInteger(11),  # first header pointer
)

# 132.0-B-3 4.1.3: secondary header identification, then the header data.
TmSecondaryHeader = Struct(
    "id"
    / BitStruct(
        "version" / BitsInteger(2),
        "length" / BitsInteger(6),  # octets of the whole secondary header minus one
    ),
    "data" / Bytes(this.id.length),
)

# 232.0-B 4.2.1: communications link control word, carried in the OCF (type-1 report).
Clcw = BitStruct(
    "control_word_type" / BitsInteger(1),  # 0: CLCW
    "clcw_version" / BitsInteger(2),
    "status_field" / BitsInteger(3),
    "cop_in_effect" / BitsInteger(2),
    "vcid" / BitsInteger(6),
    "reserved" / BitsInteger(2),
    "no_rf_available" / Flag,
    "no_bit_lock" / Flag,
    "lockout" / Flag,
    "wait" / Flag,
    "retransmit" / Flag,
    "farm_b_counter" / BitsInteger(2),
    "spare" / BitsInteger(1),
    "report_value" / BitsInteger(8),
)

# AX.25 v2.2 section 3.12: addresses, control, PID, information field.
Ax25Address = Struct(
    "callsign" / Bytes(6),  # ASCII characters, each shifted left one bit
    "ssid_octet"
    / BitStruct(
        "ch" / Flag,  # command/response bit (dst/src), has-been-repeated (digipeater)
        "reserved" / BitsInteger(2),  # 11 unless a protocol uses them
        "ssid" / BitsInteger(4),
        "last" / Flag,  # extension bit: 1 on the last address
    ),
)

Ax25UiFrame = Struct(
    "dst" / Ax25Address,
    "src" / Ax25Address,
    # Digipeater addresses follow until one has the extension bit set.
    "digipeaters"
    / If(
        lambda ctx: not ctx.src.ssid_octet.last,
        RepeatUntil(lambda obj, lst, ctx: obj["ssid_octet"]["last"], Ax25Address),
    ),
    "control" / Int8ub,
    "pid" / Int8ub,
    "info" / GreedyBytes,
)
