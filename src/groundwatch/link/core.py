"""The link monitor's core: per-link trackers, frames, limits, quality and expiry.

See ``groundwatch.link.monitor`` for the behaviour as a whole; this module holds the state
and the frame-driven half, ``monitor.LinkMonitor`` adds the ground path, ticks and views.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from groundwatch.config import LinkConfig
from groundwatch.decoders.api import Limits
from groundwatch.link.events import LosReport, iso, los_event, make_event
from groundwatch.link.limits import LimitChecker, StaleTracker, levels
from groundwatch.link.quality import LinkQuality
from groundwatch.link.schedule import LosKind, Schedule
from groundwatch.link.state import LinkState, LinkTracker
from groundwatch.model import (
    ColumnSchema,
    DecodeResult,
    Event,
    EventType,
    FrameMeta,
    LimitState,
    LinkKey,
    PacketColumns,
    ParamValue,
    Severity,
)

S = 1_000_000_000
STATE_MEASUREMENT = "link_state"


_WatchedColumn = tuple[
    int, str, Callable[[Any], LimitState] | None, tuple[float, float] | None, bool
]


@dataclass(slots=True)
class _Craft:
    stale: StaleTracker
    limits: LimitChecker
    in_contact: bool = False
    frames_in_pass: int = 0  # merged (decoded) valid frames since the last LOS
    last_good_ns: int | None = None
    last_station: str | None = None
    last_values: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class _Station:
    watched: bool = False  # has sent a heartbeat
    last_heartbeat_ns: int | None = None
    forced_down: bool = False  # its own connection reported down
    down: bool = False  # GROUND_PATH_DOWN raised and not yet cleared
    status: Any = None


class LinkCore:
    def __init__(
        self,
        cfg: LinkConfig,
        key_parameters: Iterable[str],
        thresholds_ns: Mapping[str, int],
        schedule: Schedule | None = None,
        source: str = "live",
        limits: Mapping[str, Limits] | None = None,
        quality_parameters: Iterable[str] = ("rssi", "ebn0"),
    ) -> None:
        self.cfg = cfg
        self.key_parameters = set(key_parameters)
        self.thresholds_ns = dict(thresholds_ns)
        self.schedule = schedule
        self.source = source
        self.limit_defs = dict(limits or {})
        # LinkMonitor.tick_due_ns: the next time a tick matters, and what it was computed for.
        self._tick_known = False
        self._ground_watched = False  # a heartbeat or ground path change was observed
        self._tick_due: int | None = None
        self._tick_shape: tuple[int, ...] = ()
        self._watched: dict[str | None, tuple[str, ...]] = {}  # packet name -> parameters
        # id(column schema) -> (schema, watched columns: index, name, limit state function,
        # nominal band, whether a nominal sample can be skipped)
        self._watched_columns: dict[int, tuple[ColumnSchema, tuple[_WatchedColumn, ...]]] = {}
        self.quality_parameters = set(quality_parameters)
        self.margin_ns = int(cfg.schedule_margin * S)
        self._links: dict[LinkKey, LinkTracker] = {}
        self._quality: dict[LinkKey, LinkQuality] = {}
        self._crafts: dict[str, _Craft] = {}
        self._stations: dict[str, _Station] = {}
        self._broker_up = True
        self._late_open: set[tuple[str, str]] = set()
        self._late_judged: set[tuple[str, str, int]] = set()
        self._last_aos: dict[LinkKey, int] = {}
        self._origin_ns: int | None = None
        self._now_ns = 0
        # Station time: per station, how far its latest frame's ERT lies behind the
        # pipeline's clock (a redelivered backlog: far), and stations whose links were
        # restored at start and have not delivered since (held until a given time).
        self._lag: dict[str, int] = {}
        self._held_until: dict[str, int] = {}
        self._station_signal: dict[tuple[LinkKey, str], float] = {}  # smoothed, per link
        if schedule is not None:
            for c in schedule.contacts:
                self._tracker(LinkKey(c.spacecraft, c.station))

    # --- helpers -------------------------------------------------------------------------

    def threshold_ns(self, spacecraft: str) -> int:
        return self.thresholds_ns.get(spacecraft, int(self.cfg.los_threshold * S))

    def _tracker(self, key: LinkKey) -> LinkTracker:
        t = self._links.get(key)
        if t is None:
            t = self._links[key] = LinkTracker(
                self.threshold_ns(key.spacecraft), self.cfg.aos_frames
            )
        return t

    def _craft(self, name: str) -> _Craft:
        c = self._crafts.get(name)
        if c is None:
            stale = StaleTracker(int(self.cfg.stale_after * S))
            checker = LimitChecker(
                self.cfg.limit_persistence,
                self.limit_defs,
                self.cfg.limit_deadband,
                int(self.cfg.limit_persistence_time * S),
            )
            c = self._crafts[name] = _Craft(stale, checker)
        return c

    def _station(self, name: str) -> _Station:
        s = self._stations.get(name)
        if s is None:
            s = self._stations[name] = _Station()
        return s

    def _quality_of(self, key: LinkKey) -> LinkQuality:
        q = self._quality.get(key)
        if q is None:
            q = self._quality[key] = LinkQuality(
                int(self.cfg.degraded_window * S),
                self.cfg.degraded_crc_rate,
                enter_ns=int(self.cfg.degraded_enter_delay * S),
                clear_ns=int(self.cfg.degraded_clear_delay * S),
            )
        return q

    def ground_up(self, station: str) -> bool:
        s = self._stations.get(station)
        return self._broker_up and (s is None or not (s.down or s.forced_down))

    def _clock(self, now_ns: int) -> None:
        if self._origin_ns is None:
            self._origin_ns = now_ns
        if now_ns > self._now_ns:
            self._now_ns = now_ns

    def _ev(
        self,
        type_: EventType,
        sev: Severity,
        t: int,
        sc: str | None,
        st: str | None,
        title: str,
        text: str,
        condition: str,
        recovery: bool = False,
        details: dict[str, Any] | None = None,
    ) -> Event:
        return make_event(
            type_, sev, t, sc, st, title, text, condition, self.source, recovery, details
        )

    # --- frames --------------------------------------------------------------------------

    def observe_frame(self, key: LinkKey, ert_ns: int, valid: bool, now_ns: int) -> list[Event]:
        """Every copy from every station, before merging. Bad-CRC copies are not signal."""
        self._clock(now_ns)
        self._station_time(key.station, ert_ns, now_ns)
        events = self._expire(min(ert_ns, now_ns), station_time=False)
        sk = LinkKey(key.spacecraft, key.station)
        tracker = self._tracker(sk)
        if tracker.frame(ert_ns, valid) is not None:
            events += self._station_acquired(sk, ert_ns)
        if key.vcid is not None:
            self._tracker(key).frame(ert_ns, valid)
        q = self._quality_of(sk)
        q.copy(ert_ns, valid)
        if not valid:
            events += self._judge_quality(sk, q, ert_ns)
        return events

    def _station_acquired(self, sk: LinkKey, t: int) -> list[Event]:
        events: list[Event] = []
        self._last_aos[sk] = t
        craft = self._craft(sk.spacecraft)
        craft.last_station = sk.station
        if (sk.spacecraft, sk.station) in self._late_open:
            self._late_open.discard((sk.spacecraft, sk.station))
            events.append(
                self._ev(
                    EventType.AOS,
                    Severity.INFO,
                    t,
                    sk.spacecraft,
                    sk.station,
                    f"AOS {sk.spacecraft} via {sk.station} (late)",
                    f"{sk.spacecraft} acquired by {sk.station} at {iso(t)}, after plan start",
                    f"LATE_AOS/{sk.spacecraft}/{sk.station}",
                    recovery=True,
                )
            )
        if not craft.in_contact:
            craft.in_contact = True
            craft.stale.contact_since = t
            n = self._links[sk].frames_in_pass
            events.append(
                self._ev(
                    EventType.AOS,
                    Severity.INFO,
                    t,
                    sk.spacecraft,
                    sk.station,
                    f"AOS {sk.spacecraft} via {sk.station}",
                    f"{sk.spacecraft} acquired by {sk.station} at {iso(t)} ({n} valid frames)",
                    f"LOS/{sk.spacecraft}",
                    recovery=True,
                    details={"aos_time": iso(t), "frames": n},
                )
            )
        return events

    def observe_result(self, result: DecodeResult, now_ns: int) -> list[Event]:
        """A merged, decoded frame: pass counts, key values, limits, staleness, quality."""
        self._clock(now_ns)
        sc = result.spacecraft
        if sc is None:
            return []
        events: list[Event] = []
        craft = self._craft(sc)
        t = result.frame.ert_ns
        if result.valid:
            craft.frames_in_pass += 1
            if craft.last_good_ns is None or t > craft.last_good_ns:
                craft.last_good_ns = t
        sk = LinkKey(sc, result.frame.station)
        q = self._quality_of(sk)
        q.decoded(t, result.vc_gap)
        for pkt in result.packets:
            params = pkt.params
            if type(params) is PacketColumns:
                samples = self._column_samples(params, craft)
            else:
                samples = self._dict_samples(pkt.name, params, craft)
            for name, eng, given in samples:
                if name in self.key_parameters:
                    craft.last_values[name] = eng
                    if craft.stale.update(name, pkt.time_ns):
                        events.append(
                            self._ev(
                                EventType.FRESH,
                                Severity.INFO,
                                pkt.time_ns,
                                sc,
                                sk.station,
                                f"{name} fresh on {sc}",
                                f"{name} updated again: {eng}",
                                f"STALE/{sc}/{name}",
                                recovery=True,
                            )
                        )
                if given is not None or name in craft.limits.limits:  # most have none
                    events += self._limit_events(
                        craft, sc, sk.station, name, eng, given, pkt.time_ns
                    )
                if name in self.quality_parameters:
                    # the confirmed state, so one low sample does not degrade the link
                    q.signal_sample(name, craft.limits.state(name))
        events += self._judge_quality(sk, q, t)
        return events

    def _watches(self, name: str, limit: object, craft: _Craft) -> bool:
        return (
            name in self.key_parameters
            or limit is not None
            or name in craft.limits.limits
            or name in self.quality_parameters
        )

    def _dict_samples(
        self, packet: str | None, params: Mapping[str, ParamValue], craft: _Craft
    ) -> Iterator[tuple[str, Any, LimitState | None]]:
        watched = self._watched.get(packet)
        if watched is None:  # once per packet kind: the parameters this monitor reads
            watched = self._watched[packet] = tuple(
                name for name, pv in params.items() if self._watches(name, pv.limit, craft)
            )
        for name in watched:
            pv = params.get(name)
            if pv is not None:  # None: e.g. a derived value that could not be computed
                yield name, pv.eng, pv.limit

    def _column_samples(
        self, columns: PacketColumns, craft: _Craft
    ) -> Iterator[tuple[str, Any, LimitState | None]]:
        """The watched columns' samples; limit states computed here, only for them."""
        schema = columns.schema
        entry = self._watched_columns.get(id(schema))
        if entry is None:  # once per schema; the schema is kept so its id stays unique
            nominal = schema.nominal or (None,) * len(schema.names)
            watched = tuple(
                (
                    i,
                    name,
                    state,
                    band,
                    # a nominal sample of it is worth nothing else (not key, not quality)
                    band is not None
                    and name not in self.key_parameters
                    and name not in self.quality_parameters,
                )
                for i, (name, state, band) in enumerate(
                    zip(schema.names, schema.limit_states, nominal, strict=True)
                )
                if self._watches(name, state, craft)
            )
            entry = self._watched_columns[id(schema)] = (schema, watched)
        eng = columns.eng
        pending = craft.limits.pending
        for i, name, state, band, skippable in entry[1]:
            value = eng[i]
            if value is None:  # a derived value that could not be computed
                continue
            if band is not None and band[0] < value < band[1]:
                # NOMINAL (the band is where Limits.state says so): with nothing pending
                # for the parameter, the limit checker would change nothing.
                if skippable and name not in pending:
                    continue
                yield name, value, LimitState.NOMINAL
            else:
                yield name, value, state(value) if state is not None else None

    def _limit_events(
        self,
        craft: _Craft,
        sc: str,
        station: str,
        name: str,
        value: Any,
        given: LimitState | None,
        t: int,
    ) -> list[Event]:
        change = craft.limits.sample(name, value, given, t)
        if change is None:
            return []
        # One event per confirmed change and one condition per parameter, so the alert
        # manager keeps one alert that escalates (yellow -> red) and de-escalates.
        details = {"parameter": name, "value": value, "from": change.old.label}
        if change.new is LimitState.NOMINAL:
            lv = change.left[-1] if change.left else change.old
            details["level"] = lv.label
            return [
                self._ev(
                    EventType.LIMIT_LEAVE,
                    Severity.INFO,
                    t,
                    sc,
                    station,
                    f"{name} back inside limits",
                    f"{sc} {name} = {value} left {change.old.label}",
                    f"LIMIT/{sc}/{name}",
                    recovery=True,
                    details=details,
                )
            ]
        lv = levels(change.new)[-1]
        red = lv in (LimitState.RED_LOW, LimitState.RED_HIGH)
        details["level"] = lv.label
        return [
            self._ev(
                EventType.LIMIT_ENTER,
                Severity.CRITICAL if red else Severity.WARNING,
                t,
                sc,
                station,
                f"{name} {lv.label}",
                f"{sc} {name} = {value} is {lv.label}",
                f"LIMIT/{sc}/{name}",
                details=details,
            )
        ]

    def _judge_quality(self, sk: LinkKey, q: LinkQuality, t: int) -> list[Event]:
        verdict = q.update(t)
        if verdict is None:
            return []
        degraded, v = verdict
        details = {
            "crc_failure_rate": v.crc_rate,
            "gap_rate": v.gap_rate,
            "low_signal": v.low_signal,
        }
        cond = f"DEGRADED/{sk.spacecraft}/{sk.station}"
        if degraded:
            why = "; ".join(v.reasons(self.cfg.degraded_crc_rate))
            return [
                self._ev(
                    EventType.LINK_DEGRADED,
                    Severity.WARNING,
                    t,
                    sk.spacecraft,
                    sk.station,
                    f"Link degraded: {sk.spacecraft} via {sk.station}",
                    f"{sk.spacecraft} via {sk.station}: {why}",
                    cond,
                    details=details,
                )
            ]
        return [
            self._ev(
                EventType.LINK_RECOVERED,
                Severity.INFO,
                t,
                sk.spacecraft,
                sk.station,
                f"Link recovered: {sk.spacecraft} via {sk.station}",
                f"{sk.spacecraft} via {sk.station}: quality nominal again",
                cond,
                recovery=True,
                details=details,
            )
        ]

    # --- expiry --------------------------------------------------------------------------

    def _held(self, sk: LinkKey, tracker: LinkTracker) -> bool:
        """A watched station silent since the last good frame may be dead itself."""
        st = self._stations.get(sk.station)
        if st is None or not st.watched or st.last_heartbeat_ns is None:
            return False
        return tracker.last_good_ns is not None and st.last_heartbeat_ns <= tracker.last_good_ns

    def _expire(self, now_ns: int, station_time: bool = True) -> list[Event]:
        """Expire links whose deadline passed by ``now_ns``. ``now_ns`` is the pipeline's
        clock (tick, heartbeat, ground path): each link is then judged on its station's
        time (``now_ns`` minus the lag of its latest frame) and a link restored at start
        waits for its station's backlog. A frame's ERT is station time already
        (``station_time=False``)."""
        events: list[Event] = []
        due = []
        for key, tr in self._links.items():
            d = tr.deadline_ns()
            if d is None:
                continue
            at = now_ns
            if station_time:
                held = self._held_until.get(key.station)
                if held is not None and now_ns < held:
                    continue
                if held is None:
                    at = now_ns - self._lag.get(key.station, 0)
            if d <= at:
                due.append((d, key, tr, at))
        due.sort(key=lambda x: (x[0], x[1].station, x[1].vcid or -1))
        for _, key, tr, at in due:
            now_ns = at
            if key.vcid is not None:
                tr.expire(now_ns)
                continue
            if (
                tr.state is LinkState.TRACKING
                and self.ground_up(key.station)
                and self._held(key, tr)
            ):
                continue
            trans = tr.expire(now_ns)
            if trans is None:
                continue
            if not self.ground_up(key.station):
                tr.suspended = True  # the link shows LOS; the spacecraft is not judged
                continue
            events += self._maybe_spacecraft_los(key, trans.time_ns)
        return self._mark_late(events, self._now_ns) if events else events

    # --- station time --------------------------------------------------------------------

    def _station_time(self, station: str, ert_ns: int, now_ns: int) -> None:
        if station not in self._lag and len(self._lag) >= 10_000:  # stations come from the wire
            self._lag.clear()
        self._lag[station] = now_ns - ert_ns
        self._held_until.pop(station, None)

    def restore(self, key: LinkKey, last_good_ns: int, now_ns: int) -> None:
        """A link that was up when groundwatch last stopped (its last archived frame):
        tracked again without a new AOS. Its station's redelivered backlog is judged on
        the frames' ERTs; until the station delivers (or ``redelivery_grace`` passes), the
        link is not judged, so the outage of groundwatch itself raises no LOS."""
        if now_ns - last_good_ns > int(self.cfg.restore_window * S):
            return
        tr = self._tracker(key)
        tr.state = LinkState.TRACKING
        tr.last_good_ns = tr.last_frame_ns = tr.since_ns = last_good_ns
        craft = self._craft(key.spacecraft)
        craft.in_contact = True
        craft.last_station = key.station
        craft.last_good_ns = last_good_ns
        self._last_aos.setdefault(key, last_good_ns)
        self._held_until[key.station] = now_ns + int(self.cfg.redelivery_grace * S)

    def observe_radio(self, key: LinkKey, meta: FrameMeta, t: int) -> list[Event]:
        """A station's own RSSI/SNR for a frame (its envelope): below
        ``degraded_station_rssi`` / ``degraded_station_snr`` (smoothed over the last frames,
        1 dB of hysteresis) the link is degraded like on a low signal parameter."""
        cfg = self.cfg
        if cfg.degraded_station_rssi is None and cfg.degraded_station_snr is None:
            return []  # no station thresholds (the default): nothing to judge, every frame
        checks = (
            ("station_rssi", meta.rssi_dbm, cfg.degraded_station_rssi),
            ("station_snr", meta.snr_db, cfg.degraded_station_snr),
        )
        q = None
        for name, value, low in checks:
            if value is None or low is None:
                continue
            q = q or self._quality_of(key)
            if len(self._station_signal) >= 10_000:  # links come from the wire
                self._station_signal.clear()
            prev = self._station_signal.get((key, name))
            mean = value if prev is None else prev + 0.2 * (value - prev)
            self._station_signal[(key, name)] = mean
            was_low = q.signal.get(name) is LimitState.YELLOW_LOW
            is_low = mean < low + (1.0 if was_low else 0.0)
            q.signal_sample(name, LimitState.YELLOW_LOW if is_low else LimitState.NOMINAL)
        if q is None:
            return []
        return self._mark_late(self._judge_quality(key, q, t), self._now_ns)

    def _mark_late(self, events: list[Event], now_ns: int) -> list[Event]:
        """Events raised well after their pass time (a redelivered backlog judged on its
        ERTs, a restored link's LOS) carry ``late: true`` and the delay."""
        late_ns = int(self.cfg.late_after * S)
        for e in events:
            if now_ns - e.time_ns > late_ns:
                e.details["late"] = True
                e.details["delay_s"] = round((now_ns - e.time_ns) / S, 3)
        return events

    def _suspended(self, spacecraft: str) -> bool:
        """Some station lost it while its own ground path was down: cannot judge yet."""
        for key, tr in self._links.items():
            if key.spacecraft == spacecraft and key.vcid is None and tr.suspended:
                return True
        return False

    def _maybe_spacecraft_los(self, sk: LinkKey, t: int) -> list[Event]:
        craft = self._craft(sk.spacecraft)
        if not craft.in_contact:
            return []
        for key, tr in self._links.items():
            if key.spacecraft == sk.spacecraft and key.vcid is None and tr.state.up:
                return []  # another station still hears it
        if self._suspended(sk.spacecraft):
            return []
        return [self._spacecraft_los(sk, t)]

    def _spacecraft_los(self, sk: LinkKey, t: int) -> Event:
        sc = sk.spacecraft
        craft = self._craft(sc)
        kind, contact = (LosKind.UNPLANNED, None)
        if self.schedule is not None:
            kind, contact = self.schedule.classify_los(sc, t, self.margin_ns)
        stations = {
            k.station: tr.frames_in_pass
            for k, tr in self._links.items()
            if k.spacecraft == sc and k.vcid is None and tr.last_good_ns is not None
        }
        ev = los_event(
            LosReport(sc, sk.station, t, self._links[sk].last_good_ns or t, self.threshold_ns(sc),
                      kind, contact, self.schedule is not None, craft.frames_in_pass, stations,
                      dict(craft.last_values)),
            self.source,
        )  # fmt: skip
        craft.in_contact = False
        craft.frames_in_pass = 0
        craft.stale.contact_since = None
        for k, tr in self._links.items():
            if k.spacecraft == sc:
                tr.start_pass()
        return ev

    # --- bounded per-station state -------------------------------------------------------

    def forget_station(self, station: str) -> bool:
        """Drop what is kept for a station silent for long (stations come from the wire):
        its links, their quality, AOS times, heartbeat and station time. If it sends again it
        is a new station. A station in the contact plan is kept (False)."""
        if self.schedule is not None and any(c.station == station for c in self.schedule.contacts):
            return False
        for table in (self._links, self._quality, self._last_aos):
            for key in [k for k in table if k.station == station]:
                del table[key]
        for sk in [k for k in self._station_signal if k[0].station == station]:
            del self._station_signal[sk]
        self._stations.pop(station, None)
        self._lag.pop(station, None)
        self._held_until.pop(station, None)
        self._late_open = {x for x in self._late_open if x[1] != station}
        return True
