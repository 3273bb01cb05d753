"""The link monitor: AOS/LOS per spacecraft and station, ground path, quality, limits.

Everything is driven by the caller's clock (``now_ns``), and every event carries a
deterministic time (LOS = last good frame + threshold, not the tick that noticed it), so a
replay at 50x raises the same events with the same ids at the same pass times.

Spacecraft versus station:
- each (spacecraft, station) link, and each virtual channel of it, has its own state
  (``state.LinkTracker``), written every second as ``link_state``;
- AOS and LOS *events* are per spacecraft: LOS is raised when no station hears it any more,
  AOS when the first station confirms it again. A station that stops hearing the spacecraft
  while another still does only shows in its own link state.

Ground path: the MQTT connection (``observe_ground_path``) and each station's heartbeat
(``observe_heartbeat``; any payload on the station's status topic counts as alive, e.g.
``{"station": "gs1", "status": "ok", "time": "2025-01-01T10:00:00Z"}``). A station is
watched once it has sent one heartbeat, and is down after ``heartbeat_timeout`` without one.
While a station's ground path is down its links are not judged: no LOS comes from it.
When a link expires and its station has sent no heartbeat since the last good frame, the
LOS is held until a heartbeat proves the station alive (then LOS, with its deterministic
time) or the heartbeat times out (then GROUND_PATH_DOWN, and no LOS).

Station time: frames carry the station's ERT. Live LOS stays a judgement on the pipeline's
clock, but each link is judged on its station's time (the clock minus how far the latest
frame's ERT lags it), so a backlog redelivered after a groundwatch outage is judged on
its ERTs: a silence inside it raises LOS and AOS at their pass times. An event raised more
than ``late_after`` seconds after its pass time carries ``late: true`` and ``delay_s``.
At start the pipeline restores the links of the last archived frames (``restore``): no
new AOS for a pass already announced, and no LOS for the outage itself.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from groundwatch.config import LinkConfig
from groundwatch.decoders.api import Limits
from groundwatch.link.core import STATE_MEASUREMENT, LinkCore, S
from groundwatch.link.events import iso
from groundwatch.link.rules import RuleEngine
from groundwatch.link.schedule import Schedule
from groundwatch.link.state import LinkState
from groundwatch.model import DecodeResult, Event, EventType, LinkKey, Point, Severity


class LinkMonitor(LinkCore):
    """AOS/LOS per spacecraft and station; the API the pipeline calls."""

    rules: RuleEngine | None = None  # the dictionary's consistency rules (link.rules)

    @classmethod
    def from_config(
        cls,
        cfg: LinkConfig,
        key_parameters: list[str],
        frame_intervals: dict[str, float],
        schedule: Schedule | None,
        source: str = "live",
        limits: Mapping[str, Limits] | None = None,
        quality_parameters: Iterable[str] = ("rssi", "ebn0"),
    ) -> LinkMonitor:
        """LOS threshold per spacecraft: its ``los_threshold``, else ``los_frames`` x its
        frame interval (config, else the dictionary's), else ``[link] los_threshold``."""
        thresholds: dict[str, int] = {}
        for name in set(frame_intervals) | set(cfg.spacecraft):
            thresholds[name] = int(cls._threshold_s(cfg, name, frame_intervals) * S)
        return cls(cfg, key_parameters, thresholds, schedule, source, limits, quality_parameters)

    @staticmethod
    def _threshold_s(cfg: LinkConfig, name: str, frame_intervals: Mapping[str, float]) -> float:
        sc = cfg.spacecraft.get(name)
        if sc is not None and sc.los_threshold is not None:
            return sc.los_threshold
        if sc is not None and sc.los_frames is not None:
            interval = sc.frame_interval or frame_intervals.get(name)
            if interval:
                return sc.los_frames * interval
        return cfg.los_threshold

    # --- ground path ---------------------------------------------------------------------

    def observe_heartbeat(self, station: str, payload: bytes, now_ns: int) -> list[Event]:
        """Any payload on a station's status topic: the station is alive."""
        self._ground_watched = True
        self._clock(now_ns)
        events = self._heartbeat_timeouts(now_ns)
        st = self._station(station)
        st.watched = True
        st.last_heartbeat_ns = now_ns
        try:
            st.status = json.loads(payload.decode("utf-8")) if payload else None
        except (UnicodeDecodeError, ValueError):
            st.status = payload[:200].decode("utf-8", "replace")
        if st.down:
            st.down = False
            if self.ground_up(station):
                events += self._ground_restored(station, now_ns)
        return events + self._expire(now_ns)

    def observe_ground_path(self, up: bool, now_ns: int, station: str | None = None) -> list[Event]:
        """The MQTT connection (``station=None``) or one station's own connection."""
        self._ground_watched = True
        self._clock(now_ns)
        events = self._heartbeat_timeouts(now_ns) + self._expire(now_ns)
        if station is None:
            if up == self._broker_up:
                return events
            self._broker_up = up
            if not up:
                return [*events, self._ground_down(None, now_ns, "MQTT broker connection lost")]
            for s in self._stations.values():
                if s.watched:
                    s.last_heartbeat_ns = now_ns  # heartbeats could not arrive meanwhile
            events.append(self._ground_up_event(None, now_ns))
            for name in {k.station for k in self._links}:
                if self.ground_up(name):
                    self._resume(name, now_ns)
            return events
        st = self._station(station)
        if st.forced_down == (not up):
            return events
        st.forced_down = not up
        if not up:
            return [*events, self._ground_down(station, now_ns, "station connection lost")]
        if self.ground_up(station):
            events += self._ground_restored(station, now_ns)
        return events

    def _ground_down(self, station: str | None, t: int, why: str) -> Event:
        name = station or "broker"
        return self._ev(
            EventType.GROUND_PATH_DOWN,
            Severity.WARNING,
            t,
            None,
            station,
            f"Ground path down: {name}",
            f"{name}: {why}; links through it are not judged until it is back",
            f"GROUND/{name}",
            details={"reason": why},
        )

    def _ground_up_event(self, station: str | None, t: int) -> Event:
        name = station or "broker"
        return self._ev(
            EventType.GROUND_PATH_UP,
            Severity.INFO,
            t,
            None,
            station,
            f"Ground path up: {name}",
            f"{name}: ground path restored",
            f"GROUND/{name}",
            recovery=True,
        )

    def _ground_restored(self, station: str, t: int) -> list[Event]:
        self._resume(station, t)
        return [self._ground_up_event(station, t)]

    def _resume(self, station: str, t: int) -> None:
        """Links lost while the ground was down are tracked again, timed from now."""
        for key, tr in self._links.items():
            if key.station != station or tr.last_good_ns is None:
                continue
            craft = self._crafts.get(key.spacecraft)
            if tr.suspended:
                tr.suspended = False
                if craft is not None and craft.in_contact:
                    tr.state = LinkState.TRACKING
            tr.reference_ns = t
            if craft is not None and craft.in_contact:
                craft.stale.contact_since = t

    def _heartbeat_timeouts(self, now_ns: int) -> list[Event]:
        events = []
        timeout = int(self.cfg.heartbeat_timeout * S)
        for name, st in sorted(self._stations.items()):
            if not st.watched or st.down or st.last_heartbeat_ns is None or not self._broker_up:
                continue
            due = st.last_heartbeat_ns + timeout
            if now_ns >= due:
                events += self._expire(due)
                st.down = True
                if not st.forced_down:
                    events.append(
                        self._ground_down(
                            name, due, f"no heartbeat for {self.cfg.heartbeat_timeout:g} s"
                        )
                    )
        return events

    # --- ticks, schedule, staleness ------------------------------------------------------

    def next_deadline_ns(self) -> int | None:
        """The earliest future time a link or station heartbeat expires (None: nothing due).

        A tick loop can sleep ``min(tick, deadline - now)`` so LOS is noticed within a
        millisecond instead of up to one tick period late; the event times are the same.
        """
        future = [d for d in self._expiry_dues() if d > self._now_ns]
        return min(future) if future else None

    # --- when a tick can matter -----------------------------------------------------------

    def tick_due_ns(self) -> int | None:
        """The earliest time ``tick`` could raise an event or change a state (0: at once;
        None: not until something is observed), so the pipeline need not tick before every
        frame. Computed at each tick; observations only move these times later, except
        those that add a link, station, spacecraft, key parameter or contact, or raise an
        event: they (or a different shape of what is tracked) make the next tick due now."""
        if self._ground_watched or not self._tick_known:
            # Heartbeats and ground path changes interleave with frames in ways this
            # bound does not follow: a monitor that has seen them ticks before every frame.
            return 0
        if self._tracked_shape() != self._tick_shape:
            return 0
        return self._tick_due

    def _tracked_shape(self) -> tuple[int, ...]:
        return (
            len(self._links),
            len(self._stations),
            *(len(c.stale.last_update) * 2 + c.in_contact for c in self._crafts.values()),
        )

    def _expiry_dues(self) -> list[int]:
        """When each link expires and each watched station's heartbeat times out, on the
        pipeline's clock: a link is judged on its station's time (see ``_expire``)."""
        dues = []
        for key, tr in self._links.items():
            d = tr.deadline_ns()
            if d is not None:
                held = self._held_until.get(key.station)
                dues.append(held if held is not None else d + self._lag.get(key.station, 0))
        timeout = int(self.cfg.heartbeat_timeout * S)
        dues += [
            s.last_heartbeat_ns + timeout
            for s in self._stations.values()
            if s.watched and not s.down and s.last_heartbeat_ns is not None
        ]
        return dues

    def _next_tick_due(self) -> int | None:
        dues = self._expiry_dues()
        for craft in self._crafts.values():
            stale = craft.stale
            if craft.in_contact and stale.contact_since is not None:
                dues += [
                    max(last, stale.contact_since) + stale.stale_after_ns
                    for name, last in stale.last_update.items()
                    if name not in stale.stale
                ]
        if self.schedule is not None:
            dues += [
                c.start_ns + self.margin_ns
                for c in self.schedule.contacts
                if (c.spacecraft, c.station, c.start_ns) not in self._late_judged
            ]
        return min(dues) if dues else None

    def observe_frame(self, key: LinkKey, ert_ns: int, valid: bool, now_ns: int) -> list[Event]:
        events = super().observe_frame(key, ert_ns, valid, now_ns)
        if events:
            self._tick_known = False
            self._mark_late(events, now_ns)
        return events

    def observe_result(self, result: DecodeResult, now_ns: int) -> list[Event]:
        events = super().observe_result(result, now_ns)
        if self.rules is not None:
            events += self.rules.observe(result)
        if events:
            self._tick_known = False
            self._mark_late(events, now_ns)
        return events

    def tick(self, now_ns: int) -> list[Event]:
        """Called every ``[link] tick`` seconds: expiries, heartbeats, stale values, plan."""
        events = self._mark_late(self._tick(now_ns), now_ns)
        self._tick_due, self._tick_shape = self._next_tick_due(), self._tracked_shape()
        self._tick_known = True
        return events

    def _tick(self, now_ns: int) -> list[Event]:
        self._clock(now_ns)
        events = self._heartbeat_timeouts(now_ns)
        events += self._expire(now_ns, station_time=True)
        for sc, craft in sorted(self._crafts.items()):
            if not craft.in_contact or not self.ground_up(craft.last_station or ""):
                continue  # nothing can arrive while the ground path is down
            for name, t in craft.stale.expired(now_ns):
                events.append(
                    self._ev(
                        EventType.STALE,
                        Severity.WARNING,
                        t,
                        sc,
                        craft.last_station,
                        f"{name} stale on {sc}",
                        f"{sc} {name} not updated for {self.cfg.stale_after:g} s in contact "
                        f"(last value {craft.last_values.get(name)})",
                        f"STALE/{sc}/{name}",
                        details={"parameter": name, "last_value": craft.last_values.get(name)},
                    )
                )
        events += self._late_aos(now_ns)
        return events

    def _late_aos(self, now_ns: int) -> list[Event]:
        if self.schedule is None or self._origin_ns is None:
            return []
        events = []
        for c in self.schedule.contacts:
            due = c.start_ns + self.margin_ns
            ident = (c.spacecraft, c.station, c.start_ns)
            if due > now_ns or ident in self._late_judged:
                continue
            self._late_judged.add(ident)
            if due < self._origin_ns or due >= c.end_ns:
                continue  # planned before we were watching, or too short to judge
            key = LinkKey(c.spacecraft, c.station)
            tr = self._links.get(key)
            aos = self._last_aos.get(key)
            if (tr is not None and tr.state.up) or (
                aos is not None and aos >= c.start_ns - self.margin_ns
            ):
                continue
            self._late_open.add((c.spacecraft, c.station))
            events.append(
                self._ev(
                    EventType.LATE_AOS,
                    Severity.WARNING,
                    due,
                    c.spacecraft,
                    c.station,
                    f"LATE_AOS {c.spacecraft} via {c.station}",
                    f"{c.spacecraft}: no AOS at {c.station} by {iso(due)} (contact planned "
                    f"{iso(c.start_ns)} to {iso(c.end_ns)})",
                    f"LATE_AOS/{c.spacecraft}/{c.station}",
                    details={"start": iso(c.start_ns), "end": iso(c.end_ns)},
                )
            )
        return events

    # --- what the pipeline writes and shows ----------------------------------------------

    def state_points(self, now_ns: int) -> list[Point]:
        """One ``link_state`` point per link and per virtual channel, every second."""
        origin = self._origin_ns if self._origin_ns is not None else now_ns
        out = []
        for key, tr in self._links.items():
            tags = key.tags()
            tags["source"] = self.source
            fields: dict[str, float | int | str | bool] = {
                "state": int(tr.state),
                "state_text": tr.state.name,
                "seconds_since_last_frame": tr.seconds_since_last_frame(now_ns, origin),
                "frames_in_pass": tr.frames_in_pass,
                "ground_path_up": int(self.ground_up(key.station)),
            }
            out.append(Point(STATE_MEASUREMENT, tags, fields, now_ns))
        return out

    def _planned(self, spacecraft: str) -> list[dict[str, Any]]:
        """Planned contacts now on or next for a spacecraft (at most one per station)."""
        if self.schedule is None:
            return []
        out: dict[str, dict[str, Any]] = {}
        for c in self.schedule.for_spacecraft(spacecraft):
            if c.end_ns <= self._now_ns or c.station in out:
                continue
            out[c.station] = {
                "station": c.station,
                "start": iso(c.start_ns),
                "end": iso(c.end_ns),
                "now": c.start_ns <= self._now_ns,
            }
        return list(out.values())

    def snapshot(self) -> dict[str, Any]:
        """Current state per link, spacecraft and station (console, retained MQTT state)."""
        links = []
        for key, tr in sorted(
            self._links.items(), key=lambda kv: (kv[0].spacecraft, kv[0].station, kv[0].vcid or -1)
        ):
            links.append(
                {
                    "spacecraft": key.spacecraft,
                    "station": key.station,
                    "vcid": key.vcid,
                    "state": tr.state.name,
                    "since": iso(tr.since_ns),
                    "last_good": iso(tr.last_good_ns),
                    "frames_in_pass": tr.frames_in_pass,
                    "ground_path_up": self.ground_up(key.station),
                }
            )
        crafts = {
            name: {
                "in_contact": c.in_contact,
                "frames_in_pass": c.frames_in_pass,
                "last_good": iso(c.last_good_ns),
                "last_station": c.last_station,
                "last_values": dict(c.last_values),
                "stale": sorted(c.stale.stale),
                "planned": self._planned(name),
            }
            for name, c in sorted(self._crafts.items())
        }
        stations = {
            name: {
                "ground_path_up": self.ground_up(name),
                "last_heartbeat": iso(s.last_heartbeat_ns),
                "status": s.status,
            }
            for name, s in sorted(self._stations.items())
        }
        return {
            "time": iso(self._now_ns),
            "broker_up": self._broker_up,
            "links": links,
            "spacecraft": crafts,
            "stations": stations,
        }
