from __future__ import annotations

from groundwatch.link.quality import LinkQuality

S = 1_000_000_000
MS = 1_000_000


def test_rolling_rates_match_a_recount() -> None:
    q = LinkQuality(window_ns=S, crc_rate=0.2)
    changes = []
    for i in range(400):
        t = i * 10 * MS
        bad = 100 <= i < 200 and i % 3 == 0  # 1 in 3 bad for a second
        q.copy(t, not bad)
        if not bad:
            q.decoded(t, 2 if 250 <= i < 260 else 0)
        v = q.measure(t)
        window = [j for j in range(i + 1) if j * 10 * MS >= t - S]
        n_bad = sum(1 for j in window if 100 <= j < 200 and j % 3 == 0)
        assert abs(v.crc_rate - n_bad / len(window)) < 1e-9
        ch = q.update(t)
        if ch is not None:
            changes.append((i, ch[0]))
    # degraded once the window holds >= 20 % bad copies, recovered under 10 %
    assert [d for _, d in changes] == [True, False]
    first, last = changes[0][0], changes[1][0]
    assert 150 <= first <= 170 and last > 200


def test_gap_rate_and_min_frames() -> None:
    q = LinkQuality(window_ns=10 * S, crc_rate=0.2)
    q.copy(0, False)
    assert q.update(0) is None  # one bad copy among too few to judge
    for i in range(1, 10):
        q.copy(i * MS, True)
        q.decoded(i * MS, 1 if i % 2 else 0)
    ch = q.update(10 * MS)
    assert ch is not None and ch[0] is True
    assert ch[1].gap_rate == 5 / 14
