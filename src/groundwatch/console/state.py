"""The console's model: what a flight controller sees, fed in-process or from a deployment.

The model knows nothing of rich or MQTT. Two feeds update it:

* in-process (``groundwatch demo``): ``on_event(event)`` for every pipeline event (pass it
  as ``event_listeners=[model.on_event]`` to ``build_pipeline``) and ``on_status(status)``
  with ``Pipeline.status()`` at each refresh (links and last key values come from the link
  monitor's ``snapshot()`` inside it; counters for the footer);
* attached (``groundwatch console``): ``on_alert_payload`` (JSON of the alerts' MQTT event
  topic), ``on_state_payload`` (retained ``groundwatch/state/<spacecraft>/<station>``),
  ``on_link_row`` and ``on_values`` (latest ``link_state`` and key values from InfluxDB),
  ``on_counters`` (footer).

Times are integer ns since the epoch. ``now_ns`` is the clock the "time since last frame"
column is measured on: the pipeline's clock in-process (a replay or an accelerated scenario
runs on pass time), the wall clock when attached.
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from groundwatch.decoders.api import Limits, ParameterInfo, TelemetryDictionary
from groundwatch.model import DecodedPacket, Event, EventType, LimitState, Severity

LOS_TYPES = frozenset({EventType.LOS, EventType.EXPECTED_LOS, EventType.UNEXPECTED_LOS})
GROUND_DOWN = "GROUND_PATH_DOWN"


_DIGITS = re.compile(r"\d+")


def parse_time(value: Any) -> int | None:
    """ns from an ISO-8601 string (``...Z``), an int of ns, or None."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    try:
        dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return int(dt.timestamp()) * 1_000_000_000 + dt.microsecond * 1_000


@dataclass(slots=True, frozen=True)
class KeyParameter:
    """A parameter the dictionary marks ``key: true``: shown with its unit and limits."""

    name: str
    packet: str
    unit: str | None = None
    limits: Limits | None = None


@dataclass(slots=True)
class LinkView:
    spacecraft: str
    station: str
    state: str = "NO_SIGNAL"  # LinkState name, or GROUND_PATH_DOWN
    since_ns: int | None = None
    last_frame_ns: int | None = None  # last valid frame
    frames_in_pass: int | None = None
    last_pass_frames: int | None = None  # frames of the pass that ended with the last LOS
    ground_path_up: bool = True
    seconds_since_last_frame: float | None = None  # as reported, when last_frame is unknown
    reported_at_ns: int | None = None  # when that figure was true

    @property
    def shown_state(self) -> str:
        return self.state if self.ground_path_up else GROUND_DOWN


@dataclass(slots=True)
class ValueView:
    value: Any
    time_ns: int | None
    limit: LimitState | None


@dataclass(slots=True, frozen=True)
class AlertLine:
    time_ns: int
    severity: str  # info | warning | critical
    type: str
    title: str
    id: str = ""
    notification: str = "new"
    spacecraft: str | None = None
    station: str | None = None


@dataclass(slots=True)
class Footer:
    frames: int | None = None
    frames_per_s: float | None = None
    packets: int | None = None
    points: int | None = None  # produced by the pipeline
    written: int | None = None  # confirmed stored in InfluxDB
    rejected: int | None = None
    spool_records: int | None = None
    spool_points: int | None = None
    db_up: bool | None = None
    errors: int | None = None
    extra: dict[str, str] = field(default_factory=dict)


class ConsoleModel:
    """Current link states, key values and the alert log of one console."""

    def __init__(
        self,
        key_parameters: Iterable[KeyParameter] = (),
        *,
        now_ns: Callable[[], int] = time.time_ns,
        max_alerts: int = 200,
        title: str = "groundwatch",
    ) -> None:
        self.key_parameters = list(key_parameters)
        self._params = {p.name: p for p in self.key_parameters}
        self.now_ns = now_ns
        self.title = title
        self.links: dict[tuple[str, str], LinkView] = {}
        self.values: dict[tuple[str, str], ValueView] = {}  # (spacecraft, parameter)
        self.alerts: deque[AlertLine] = deque(maxlen=max_alerts)
        # (id, notification) already logged, bounded like the log itself (oldest forgotten)
        self._alert_ids: OrderedDict[tuple[str, str], None] = OrderedDict()
        self.alerts_logged = 0  # ever, including lines the log has scrolled away
        self._latest_event_ns = 0
        self.footer = Footer()
        self._rate_ref: tuple[int, float] | None = None  # (frames, monotonic s)
        self.updates = 0  # bumped on every change (tests, refresh decisions)
        # dictionary rules holding now: (spacecraft, rule) -> the alert line and its pair
        self.active_rules: dict[tuple[str, str], tuple[AlertLine, tuple[str, ...]]] = {}
        self._log_shape: str | None = None  # the last log line shown, numbers masked
        self._log_repeats = 0

    @classmethod
    def from_dictionary(cls, dictionary: TelemetryDictionary | None, **kwargs: Any) -> ConsoleModel:
        params = list(dictionary.parameters()) if dictionary is not None else []
        return cls(key_parameters_of(params), **kwargs)

    # --- links ---------------------------------------------------------------------------

    def link(self, spacecraft: str, station: str) -> LinkView:
        key = (spacecraft, station)
        view = self.links.get(key)
        if view is None:
            view = self.links[key] = LinkView(spacecraft, station)
        return view

    def on_link_row(
        self,
        spacecraft: str,
        station: str,
        state: str,
        *,
        time_ns: int | None = None,
        seconds_since_last_frame: float | None = None,
        frames_in_pass: int | None = None,
        ground_path_up: bool | None = None,
        since_ns: int | None = None,
        last_frame_ns: int | None = None,
    ) -> None:
        """One link's state as a row (InfluxDB ``link_state``, or the monitor snapshot)."""
        view = self.link(spacecraft, station)
        view.state = state
        if since_ns is not None:
            view.since_ns = since_ns
        if last_frame_ns is not None:
            view.last_frame_ns = last_frame_ns
        elif seconds_since_last_frame is not None and time_ns is not None:
            view.last_frame_ns = time_ns - int(seconds_since_last_frame * 1e9)
        if seconds_since_last_frame is not None:
            view.seconds_since_last_frame = seconds_since_last_frame
            view.reported_at_ns = time_ns
        if frames_in_pass is not None:
            if frames_in_pass == 0 and view.frames_in_pass:
                view.last_pass_frames = view.frames_in_pass  # a new pass began at LOS
            view.frames_in_pass = frames_in_pass
        if ground_path_up is not None:
            view.ground_path_up = ground_path_up
        self.updates += 1

    def now(self) -> int:
        """The console's time: its clock, never behind the latest event it has shown (a
        replay clock at full speed stops at the last frame; the LOS comes after it)."""
        return max(self.now_ns(), self._latest_event_ns)

    def seconds_since_last_frame(self, view: LinkView) -> float | None:
        if view.last_frame_ns is not None:
            return max(0.0, (self.now() - view.last_frame_ns) / 1e9)
        return view.seconds_since_last_frame

    def on_snapshot(self, snapshot: Mapping[str, Any]) -> None:
        """``LinkMonitor.snapshot()``: per-station link states and last key values."""
        for row in snapshot.get("links", []) or []:
            if row.get("vcid") is not None:
                continue  # the console shows links, not their virtual channels
            self.on_link_row(
                str(row["spacecraft"]),
                str(row["station"]),
                str(row.get("state", "NO_SIGNAL")),
                frames_in_pass=row.get("frames_in_pass"),
                ground_path_up=row.get("ground_path_up"),
                since_ns=parse_time(row.get("since")),
                last_frame_ns=parse_time(row.get("last_good")),
            )
        t = parse_time(snapshot.get("time"))
        for name, craft in (snapshot.get("spacecraft", {}) or {}).items():
            self.on_values(str(name), craft.get("last_values", {}) or {}, t)

    # --- values --------------------------------------------------------------------------

    def limit_of(self, name: str, value: Any) -> LimitState | None:
        p = self._params.get(name)
        if p is None or p.limits is None or isinstance(value, bool):
            return None
        if not isinstance(value, int | float):
            return None
        return p.limits.state(float(value))

    def on_values(
        self, spacecraft: str, values: Mapping[str, Any], time_ns: int | None = None
    ) -> None:
        """Latest engineering values (key parameters; others are kept but not shown)."""
        for name, value in values.items():
            old = self.values.get((spacecraft, name))
            if old is not None and time_ns is not None and old.time_ns is not None:
                if old.time_ns > time_ns:
                    continue  # an older report (e.g. LOS details) never hides a newer value
            self.values[(spacecraft, name)] = ValueView(value, time_ns, self.limit_of(name, value))
        self.updates += 1

    def on_packet(self, packet: DecodedPacket) -> None:
        """A decoded packet (optional, for a caller that sees packets)."""
        values = {n: pv.eng for n, pv in packet.params.items() if n in self._params}
        if values:
            self.on_values(packet.spacecraft, values, packet.time_ns)

    def spacecraft(self) -> list[str]:
        names = {k[0] for k in self.links} | {k[0] for k in self.values}
        return sorted(names)

    # --- events and alerts ---------------------------------------------------------------

    def _log(self, line: AlertLine) -> None:
        ident = (line.id, line.notification)
        if line.id and ident in self._alert_ids:
            return  # the same alert seen twice (retained state and event topic)
        self._alert_ids[ident] = None
        while len(self._alert_ids) > 10 * (self.alerts.maxlen or 200):
            self._alert_ids.popitem(last=False)
        self._latest_event_ns = max(self._latest_event_ns, line.time_ns)
        self.alerts.append(line)
        self.alerts_logged += 1
        self.updates += 1

    def disagreeing(self, spacecraft: str) -> set[str]:
        """Parameters named as a pair by a rule that holds now (they disagree)."""
        return {
            p for (sc, _), (_, pair) in self.active_rules.items() if sc == spacecraft for p in pair
        }

    def _rule(self, line: AlertLine, details: Mapping[str, Any]) -> None:
        rule, sc = details.get("rule"), line.spacecraft
        if not isinstance(rule, str) or sc is None:
            return
        if line.type == EventType.RULE_CLEAR.value:
            self.active_rules.pop((sc, rule), None)
        elif line.type == EventType.RULE.value:
            pair = details.get("pair")
            names = tuple(str(p) for p in pair) if isinstance(pair, list) else ()
            self.active_rules[(sc, rule)] = (line, names)

    def on_log(self, time_ns: int, level: str, message: str) -> None:
        """A log record shown in the alert panel (never written through the live view).
        A record like the one just shown (same text but for its numbers) replaces it with a
        count, so a chatty library cannot push the alerts out of the panel."""
        severity = {"WARNING": "warning", "ERROR": "critical", "CRITICAL": "critical"}
        shape = _DIGITS.sub("#", message[:200])
        last = self.alerts[-1] if self.alerts else None
        if last is not None and last.type == "LOG" and self._log_shape == shape:
            self._log_repeats += 1
            self.alerts[-1] = replace(last, time_ns=time_ns,
                                      title=f"{message[:200]} (x{self._log_repeats})")  # fmt: skip
            self.updates += 1
            return
        self._log_shape, self._log_repeats = shape, 1
        self._log(AlertLine(time_ns, severity.get(level, "info"), "LOG", message[:200]))

    def on_event(self, event: Event) -> None:
        """A pipeline event (in-process). Updates link states and the alert log."""
        self._rule(
            AlertLine(event.time_ns, event.severity.label, event.type.value, event.title,
                      event.id, spacecraft=event.spacecraft),
            event.details,
        )  # fmt: skip
        self._log(
            AlertLine(
                event.time_ns,
                event.severity.label,
                event.type.value,
                event.title,
                event.id,
                "recovery" if event.recovery else "new",
                event.spacecraft,
                event.station,
            )
        )
        self._apply(event.type.value, event.spacecraft, event.station, event.time_ns, event.details)

    def _apply(
        self,
        type_: str,
        spacecraft: str | None,
        station: str | None,
        time_ns: int,
        details: Mapping[str, Any],
    ) -> None:
        """What an event says about link states and values."""
        if type_ in LOS_TYPES and spacecraft:
            for view in self._links_of(spacecraft, None):
                if view.state in ("AOS", "TRACKING") or view.station == station:
                    view.state, view.since_ns = "LOS", time_ns
            if station and (spacecraft, station) not in self.links:
                self.link(spacecraft, station).state = "LOS"
            last_good = parse_time(details.get("last_good_ns") or details.get("last_good_time"))
            if last_good is not None and station:
                view = self.link(spacecraft, station)
                if view.last_frame_ns is None or view.last_frame_ns < last_good:
                    view.last_frame_ns = last_good
            frames = details.get("station_frames")
            if isinstance(frames, Mapping):
                for st, n in frames.items():
                    if isinstance(n, int) and n > 0:
                        self.link(spacecraft, str(st)).last_pass_frames = n
            last_values = details.get("last_values")
            if isinstance(last_values, Mapping):
                self.on_values(spacecraft, last_values, parse_time(details.get("last_good_ns")))
        elif type_ == EventType.AOS.value and spacecraft and station:
            view = self.link(spacecraft, station)
            if view.state not in ("TRACKING",):
                view.state, view.since_ns = "TRACKING", time_ns
            if view.last_frame_ns is None or view.last_frame_ns < time_ns:
                view.last_frame_ns = time_ns
        elif type_ in (EventType.GROUND_PATH_DOWN.value, EventType.GROUND_PATH_UP.value):
            up = type_ == EventType.GROUND_PATH_UP.value
            for view in self.links.values():
                if station is None or view.station == station:
                    view.ground_path_up = up
        self.updates += 1

    def _links_of(self, spacecraft: str, station: str | None) -> list[LinkView]:
        return [
            v
            for (sc, st), v in self.links.items()
            if sc == spacecraft and (station is None or st == station)
        ]

    def on_alert_payload(self, payload: Mapping[str, Any]) -> None:
        """One alert JSON as the MQTT sink publishes it (``alerts/alert.py``)."""
        t = parse_time(payload.get("time_ns")) or parse_time(payload.get("time")) or 0
        notification = str(payload.get("notification", "new"))
        type_ = str(payload.get("type", "?"))
        title = str(payload.get("title") or type_)
        if notification == "ack":
            title = f"{title} acknowledged by {payload.get('acked_by')}"
        elif notification == "repeat":
            title = f"{title} (repeat {payload.get('repeat')}, unacknowledged)"
        elif notification == "escalation":
            title = f"{title} (escalated)"
        if payload.get("flaps"):
            title = f"{title} ({payload.get('flaps')} flaps folded)"
        self._log(
            AlertLine(
                t,
                str(payload.get("severity", "info")),
                type_,
                title,
                str(payload.get("id", "")),
                notification,
                payload.get("spacecraft"),
                payload.get("station"),
            )
        )
        if notification in ("new", "recovery", "escalation"):
            details = payload.get("details") or {}
            if isinstance(details, Mapping):
                self._rule(
                    AlertLine(t, str(payload.get("severity", "info")), type_, title,
                              str(payload.get("id", "")), spacecraft=payload.get("spacecraft")),
                    details,
                )  # fmt: skip
            self._apply(
                type_,
                payload.get("spacecraft"),
                payload.get("station"),
                t,
                details if isinstance(details, Mapping) else {},
            )

    def on_state_payload(self, topic: str, payload: Mapping[str, Any]) -> None:
        """A retained state message: ``<prefix>/<spacecraft>/<station>`` or
        ``<prefix>/ground/<station>`` (see ``alerts/mqtt.py``)."""
        parts = topic.split("/")
        if len(parts) >= 2 and parts[-2] == "ground":
            up = payload.get("state") != GROUND_DOWN
            ground = parts[-1]
            for view in self.links.values():
                if ground == "broker" or view.station == ground:
                    view.ground_path_up = up
            self.updates += 1
            return
        spacecraft = payload.get("spacecraft") or (parts[-2] if len(parts) >= 2 else None)
        station = payload.get("station") or (parts[-1] if parts else None)
        state = payload.get("state")
        if spacecraft and station and station != "all" and state:
            view = self.link(str(spacecraft), str(station))
            since = parse_time(payload.get("since"))
            if view.since_ns is None or since is None or since >= view.since_ns:
                view.state = "TRACKING" if state == "AOS" else str(state)
                view.since_ns = since
        last = payload.get("last")
        if isinstance(last, Mapping):
            self.on_alert_payload(last)
        self.updates += 1

    # --- footer --------------------------------------------------------------------------

    def on_counters(self, **counters: Any) -> None:
        """Footer figures by name (``frames``, ``frames_per_s``, ``points``, ...)."""
        for name, value in counters.items():
            if hasattr(self.footer, name) and name != "extra":
                setattr(self.footer, name, value)
            else:
                self.footer.extra[name] = str(value)
        self.updates += 1

    def on_status(self, status: Mapping[str, Any]) -> None:
        """``Pipeline.status()``: footer counters, and links/values from its snapshot."""
        frames = int(status.get("frames", 0))
        now = time.monotonic()
        rate = None
        if self._rate_ref is not None and now > self._rate_ref[1]:
            rate = (frames - self._rate_ref[0]) / (now - self._rate_ref[1])
        if self._rate_ref is None or now - self._rate_ref[1] >= 0.5:
            self._rate_ref = (frames, now)
        store = status.get("store", {}) or {}
        self.on_counters(
            frames=frames,
            packets=status.get("packets"),
            points=status.get("points"),
            written=store.get("sent"),
            rejected=sum((status.get("rejected") or {}).values()),
            spool_records=store.get("spool_records"),
            spool_points=store.get("spool_points"),
            db_up=store.get("db_up"),
            errors=status.get("errors"),
        )
        if rate is not None:
            self.footer.frames_per_s = rate
        links = status.get("links")
        if isinstance(links, Mapping):
            self.on_snapshot(links)


def key_parameters_of(params: Iterable[ParameterInfo]) -> list[KeyParameter]:
    return [KeyParameter(p.name, p.packet, p.unit, p.limits) for p in params if p.key]


def severity_rank(label: str) -> int:
    try:
        return int(Severity[label.upper()])
    except KeyError:
        return 0
