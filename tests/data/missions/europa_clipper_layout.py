"""Europa Clipper ECM APID 1227 body after the 6-octet clock: a flat Construct struct.

160 samples x (CH3, CH2, CH1), each a 24-bit signed big-endian integer, named
``FGx_CH<c>_<i>`` as the ccsdspy reference decode names them, then 16 housekeeping words,
``Register_80`` and the packet's CRC-16/CCITT-FALSE (``PEC_CRC16_CCITT``).
"""

from __future__ import annotations

from construct import Int16ub, Int24sb, Int32ub, Struct

SAMPLES = 160
HOUSEKEEPING = [
    "FGx_-4.7VHK", "FGx_+4.7VHK", "FGx_2VREF", "FGx_1VREF", "FGx_DRV_SNS", "FGx_OP_PRTA",
    "FGx_FBX", "FGx_FBY", "FGx_FBZ", "FGx_BPFX", "FGx_BPFY", "FGx_BPFZ", "FGx_+4.7_I",
    "FGx_-4.7_I", "FGx_HK_CH14", "FGx_HK_CH15",
]  # fmt: skip
SAMPLE_NAMES = [f"FGx_CH{c}_{i}" for i in range(SAMPLES) for c in (3, 2, 1)]

LAYOUT = {
    "struct": Struct(
        "Accountability_ID" / Int32ub,
        *(name / Int24sb for name in SAMPLE_NAMES),
        *(name / Int24sb for name in HOUSEKEEPING),
        "Register_80" / Int16ub,
        "PEC_CRC16_CCITT" / Int16ub,
    ),
    "parameters": [
        {"name": "Accountability_ID", "type": "uint32"},
        *({"name": n, "type": "int24", "subsystem": "ECM"} for n in SAMPLE_NAMES),
        *({"name": n, "type": "int24", "subsystem": "ECM-HK"} for n in HOUSEKEEPING),
        {"name": "Register_80", "type": "uint16"},
        {"name": "PEC_CRC16_CCITT", "type": "uint16", "description": "CRC-16/CCITT-FALSE"},
    ],
}
