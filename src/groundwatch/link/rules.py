"""Evaluating the dictionary's consistency rules on decoded packets, on pass time.

Each rule of a spacecraft (``decoders.rules.RuleDef``) is judged whenever a packet brings a
new value of one of its parameters, against the latest value of every parameter it reads
(so a rule may compare parameters of different packets). Its state:

- *clear*: the condition is true (and the ``when`` gate is true) -> pending since that
  packet's pass time; still true ``persistence`` seconds later -> *active*: one ``RULE``
  event (severity of the rule) at that packet's time. False in between -> pending dropped.
- *active*: the recovery condition (default: not the condition) holds for
  ``recovery_persistence`` seconds -> *clear*: one ``RULE_CLEAR`` recovery event.
- while the gate is false nothing is judged (a pending change is dropped, an active rule
  stays active: the gate says the inputs cannot be trusted, not that things are well).

A rule whose value cannot be computed for a packet (a parameter not received yet, a rate
with one sample, a division by zero at run time, a value of the wrong type) is skipped for
that packet and counted in ``counters``; it never raises. Every time used is a packet's
(pass time; on-board time for rates), so a replay raises the same events at the same times.
"""

from __future__ import annotations

import string
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from groundwatch.decoders.rules import RuleDef, TimeInput
from groundwatch.link.events import make_event
from groundwatch.model import DecodeResult, Event, EventType, PacketColumns, Severity

S = 1_000_000_000
MAX_HISTORY = 4096  # samples kept per parameter for rate(): bounds memory at any rate
_UNCOMPUTABLE = (KeyError, ArithmeticError, TypeError, ValueError, IndexError)


@dataclass(slots=True)
class RuleState:
    rule: RuleDef
    active: bool = False
    pending_since: int | None = None  # condition (or recovery) true since, pass time
    since_ns: int | None = None  # active since
    skipped: int = 0
    last_values: dict[str, Any] = field(default_factory=dict)


class _Craft:
    """Latest values, their times and rate histories of one spacecraft's rule inputs."""

    def __init__(self, rules: Sequence[RuleDef]) -> None:
        self.states = [RuleState(r) for r in rules]
        self.values: dict[str, Any] = {}
        self.updated_ns: dict[str, int] = {}
        self.windows: dict[str, float] = {}  # parameter -> longest rate() window, seconds
        for r in rules:
            for ti in r.time_inputs:
                if ti.function == "rate":
                    self.windows[ti.parameter] = max(self.windows.get(ti.parameter, 0.0),
                                                     ti.window_s)  # fmt: skip
        self.history: dict[str, deque[tuple[float, float]]] = {
            name: deque(maxlen=MAX_HISTORY) for name in self.windows
        }
        self.watched = frozenset(p for r in rules for p in r.parameters)
        # packet schema id -> (schema kept alive, (column index, name), rule states to judge)
        self.plans: dict[int, tuple[object, tuple[tuple[int, str], ...], tuple[RuleState, ...]]]
        self.plans = {}
        self.by_packet: dict[tuple[str | None, frozenset[str]], tuple[RuleState, ...]] = {}

    def affected(self, names: Iterable[str]) -> tuple[RuleState, ...]:
        got = set(names)
        # a rule reading an age is judged on every packet: the age grows without its input
        return tuple(
            s
            for s in self.states
            if s.rule.parameters & got or any(ti.function == "age" for ti in s.rule.time_inputs)
        )


class RuleEngine:
    """The rules of every spacecraft; ``observe`` returns the rule events of one frame."""

    def __init__(self, rules: Mapping[str, Sequence[RuleDef]], source: str = "live") -> None:
        self.source = source
        self._crafts = {sc: _Craft(rs) for sc, rs in rules.items() if rs}
        self.counters = {"evaluated": 0, "skipped": 0, "raised": 0, "cleared": 0}

    def __bool__(self) -> bool:
        return bool(self._crafts)

    def states(self, spacecraft: str) -> list[RuleState]:
        craft = self._crafts.get(spacecraft)
        return list(craft.states) if craft is not None else []

    def observe(self, result: DecodeResult) -> list[Event]:
        craft = self._crafts.get(result.spacecraft or "")
        if craft is None:
            return []
        events: list[Event] = []
        for pkt in result.packets:
            t = pkt.time_ns
            clock_s = (pkt.obt_ns if pkt.obt_ns is not None else t) / S
            params = pkt.params
            if type(params) is PacketColumns:
                schema = params.schema
                plan = craft.plans.get(id(schema))
                if plan is None:
                    cols = tuple((i, n) for i, n in enumerate(schema.names) if n in craft.watched)
                    plan = (schema, cols, craft.affected(n for _, n in cols))
                    craft.plans[id(schema)] = plan
                if not plan[2]:
                    continue
                eng = params.eng
                for i, name in plan[1]:
                    self._update(craft, name, eng[i], t, clock_s)
                judged = plan[2]
            else:
                present = frozenset(n for n in craft.watched if n in params)
                for name in present:
                    self._update(craft, name, params[name].eng, t, clock_s)
                key = (pkt.name, present)
                judged = craft.by_packet.get(key) or ()
                if key not in craft.by_packet:
                    judged = craft.by_packet[key] = craft.affected(present)
            for state in judged:
                ev = self._judge(craft, state, t, clock_s, result.frame.station)
                if ev is not None:
                    events.append(ev)
        return events

    def _update(self, craft: _Craft, name: str, value: Any, t: int, clock_s: float) -> None:
        if value is None:  # a derived value that could not be computed: keep the last one
            return
        craft.values[name] = value
        craft.updated_ns[name] = t
        hist = craft.history.get(name)
        if hist is not None and isinstance(value, int | float):
            hist.append((clock_s, float(value)))
            edge = clock_s - craft.windows[name]
            # keep one sample at or before the window's start, so the rate spans it whole
            while len(hist) > 2 and hist[1][0] <= edge:
                hist.popleft()

    def _time_value(self, craft: _Craft, ti: TimeInput, t: int) -> float | None:
        if ti.function == "age":
            last = craft.updated_ns.get(ti.parameter)
            return None if last is None else (t - last) / S
        hist = craft.history.get(ti.parameter)
        if not hist or len(hist) < 2:
            return None
        t1, v1 = hist[-1]
        edge = t1 - ti.window_s
        # the oldest sample inside the window
        t0, v0 = next((sample for sample in hist if sample[0] >= edge), hist[-1])
        if t1 - t0 <= 0:
            return None
        return (v1 - v0) / (t1 - t0)

    def _judge(
        self, craft: _Craft, state: RuleState, t: int, clock_s: float, station: str
    ) -> Event | None:
        rule = state.rule
        values = craft.values
        self.counters["evaluated"] += 1
        try:
            for ti in rule.time_inputs:
                tv = self._time_value(craft, ti, t)
                if tv is None:
                    values.pop(ti.alias, None)  # an expression reading it is skipped
                else:
                    values[ti.alias] = tv
            if rule.when is not None and not rule.when(values):
                state.pending_since = None
                return None
            if state.active:
                recovered = (
                    rule.recovery(values) if rule.recovery is not None
                    else not rule.condition(values)
                )  # fmt: skip
                changing = bool(recovered)
            else:
                changing = bool(rule.condition(values))
        except _UNCOMPUTABLE:
            state.skipped += 1
            self.counters["skipped"] += 1
            return None
        if not changing:
            state.pending_since = None
            return None
        if state.pending_since is None:
            state.pending_since = t
        hold = rule.recovery_persistence_s if state.active else rule.persistence_s
        if t - state.pending_since < int(hold * S):
            return None
        state.pending_since = None
        state.last_values = {p: values.get(p) for p in sorted(rule.parameters)}
        if state.active:
            state.active, state.since_ns = False, None
            self.counters["cleared"] += 1
            return self._event(rule, state, t, station, clear=True)
        state.active, state.since_ns = True, t
        self.counters["raised"] += 1
        return self._event(rule, state, t, station, clear=False)

    def _event(self, rule: RuleDef, state: RuleState, t: int, station: str, clear: bool) -> Event:
        sc = rule.spacecraft
        values = dict(state.last_values)
        for ti in rule.time_inputs:
            values[ti.alias] = self._crafts[sc].values.get(ti.alias)
        text = render(rule.message, values) if rule.message else rule.condition.source
        details: dict[str, Any] = {
            "rule": rule.name,
            "values": state.last_values,
            "condition": rule.condition.source,
        }
        if rule.pair:
            details["pair"] = list(rule.pair)
        if clear:
            return make_event(
                EventType.RULE_CLEAR, Severity.INFO, t, sc, station,
                f"{rule.name} cleared on {sc}", f"{sc}: {rule.name} no longer holds: {text}",
                f"RULE/{sc}/{rule.name}", self.source, recovery=True, details=details,
            )  # fmt: skip
        sev = Severity.CRITICAL if rule.critical else Severity.WARNING
        return make_event(
            EventType.RULE, sev, t, sc, station, f"{rule.name} on {sc}", f"{sc}: {text}",
            f"RULE/{sc}/{rule.name}", self.source, details=details,
        )  # fmt: skip


def render(template: str, values: Mapping[str, Any]) -> str:
    """The message with the rule's values; a value its format spec does not fit (a string
    where a number was expected) is shown as it is rather than failing the event."""
    out = []
    for literal, name, spec, _ in string.Formatter().parse(template):
        out.append(literal)
        if name is None:
            continue
        value = values.get(name)
        try:
            out.append(format(value, spec or ""))
        except (TypeError, ValueError):
            out.append(str(value))
    return "".join(out)
