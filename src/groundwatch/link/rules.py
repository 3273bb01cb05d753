"""Evaluating the dictionary's consistency rules on decoded packets, on pass time.

Each rule of a spacecraft (``decoders.rules.RuleDef``) is judged against the latest value
of every parameter it reads (so a rule may compare parameters of different packets), at
most every ``interval`` of pass time and only when one of its inputs came since (see
``RuleEngine``). Its state:

- *clear*: the condition is true (and the ``when`` gate is true) -> pending since that
  judgement's pass time; still true ``persistence`` seconds later -> *active*: one ``RULE``
  event (severity of the rule) at that time. False in between -> pending dropped.
- *active*: the recovery condition (default: not the condition) holds for
  ``recovery_persistence`` seconds -> *clear*: one ``RULE_CLEAR`` recovery event.
- while the gate is false nothing is judged (a pending change is dropped, an active rule
  stays active: the gate says the inputs cannot be trusted, not that things are well).

A rule whose value cannot be computed when judged (a parameter not received yet, a rate
with one sample, a division by zero at run time, a value of the wrong type) is skipped
that time and counted in ``counters``; it never raises. Every time used is a frame's or a
packet's (pass time; on-board time for rates), never the processing clock, so a replay
raises the same events at the same times as live.
"""

from __future__ import annotations

import string
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from groundwatch.decoders.rules import RuleDef, TimeInput
from groundwatch.link.events import make_event
from groundwatch.model import (
    ColumnSchema,
    DecodedPacket,
    DecodeResult,
    Event,
    EventType,
    PacketColumns,
    Severity,
)

S = 1_000_000_000
MAX_HISTORY = 4096  # samples kept per parameter for rate(): bounds memory at any rate
MAX_PENDING_FRAMES = 4096  # frames noted between two judgements, at any frame rate
NO_EVENTS: tuple[Event, ...] = ()
_UNCOMPUTABLE = (KeyError, ArithmeticError, TypeError, ValueError, IndexError)


@dataclass(slots=True)
class RuleState:
    rule: RuleDef
    active: bool = False
    pending_since: int | None = None  # condition (or recovery) true since, pass time
    since_ns: int | None = None  # active since
    skipped: int = 0
    last_values: dict[str, Any] = field(default_factory=dict)
    dirty: bool = False  # an input arrived since it was last judged


class _Craft:
    """Latest values, their times and rate histories of one spacecraft's rule inputs."""

    def __init__(self, rules: Sequence[RuleDef]) -> None:
        self.states = [RuleState(r) for r in rules]
        self.values: dict[str, Any] = {}
        self.updated_ns: dict[str, int] = {}  # only parameters some age() reads
        self.windows: dict[str, float] = {}  # parameter -> longest rate() window, seconds
        aged = set()
        for r in rules:
            for ti in r.time_inputs:
                if ti.function == "rate":
                    self.windows[ti.parameter] = max(self.windows.get(ti.parameter, 0.0),
                                                     ti.window_s)  # fmt: skip
                else:
                    aged.add(ti.parameter)
        self.aged = frozenset(aged)
        self.history: dict[str, deque[tuple[float, float]]] = {
            name: deque(maxlen=MAX_HISTORY) for name in self.windows
        }
        self.watched = frozenset(p for r in rules for p in r.parameters)
        self.plans: dict[int, _Plan] = {}  # packet column schema id -> its plan
        # the packets of the frames since the last judgement (bounded: the oldest go first)
        self.pending: deque[list[DecodedPacket]] = deque(maxlen=MAX_PENDING_FRAMES)
        # the packets carrying the rules' inputs (None: not known, every frame is read)
        self.carriers: frozenset[str | None] | None = (
            frozenset(p for r in rules for p in r.packets)
            if rules and all(r.packets for r in rules)
            else None
        )
        self.next_ns = 0  # rules are judged again no sooner than this (pass time)
        self.by_packet: dict[tuple[str | None, frozenset[str]], tuple[RuleState, ...]] = {}

    def affected(self, names: Iterable[str]) -> tuple[RuleState, ...]:
        got = set(names)
        # a rule reading an age is judged on every packet: the age grows without its input
        return tuple(
            s
            for s in self.states
            if s.rule.parameters & got or any(ti.function == "age" for ti in s.rule.time_inputs)
        )

    def plan(self, schema: ColumnSchema) -> _Plan:
        """What a packet of this schema brings: decided once per schema, so a packet costs
        one tuple lookup and one dict update."""
        cols = tuple((i, n) for i, n in enumerate(schema.names) if n in self.watched)
        names = tuple(n for _, n in cols)
        indices = tuple(i for i, _ in cols)
        plan = _Plan(
            schema,
            indices,
            # a tuple of the watched values in one C call (itemgetter of one index gives
            # the value itself, hence the wrapper)
            itemgetter(*indices) if len(indices) > 1 else _one(indices[0] if indices else 0),
            names,
            tuple((i, n) for i, n in cols if n in self.history),
            tuple(n for n in names if n in self.aged),
            self.affected(names),
        )
        self.plans[id(schema)] = plan
        return plan


def _one(index: int) -> Callable[[tuple[Any, ...]], tuple[Any, ...]]:
    return lambda eng: (eng[index],)


@dataclass(slots=True, frozen=True)
class _Plan:
    schema: ColumnSchema  # kept so its id stays unique
    indices: tuple[int, ...]
    get: Callable[[tuple[Any, ...]], tuple[Any, ...]]
    names: tuple[str, ...]
    rated: tuple[tuple[int, str], ...]  # columns some rate() reads
    aged: tuple[str, ...]  # columns some age() reads
    states: tuple[RuleState, ...]  # rules to judge after such a packet


class RuleEngine:
    """The rules of every spacecraft; ``observe`` returns the rule events of one frame.

    Rules are judged at most every ``interval`` seconds of pass time (``[link]
    rule_interval``, default 0.1 s), at the first frame due, on the latest packet of each
    kind received (a frame only notes its packets until then, which keeps the rules' cost
    per frame small at any frame rate); a rule is judged when one of its inputs came since.
    A condition shorter than the interval may pass unseen: give such rules a persistence
    of at least the interval. Rates are sampled at these judgements.
    """

    def __init__(
        self, rules: Mapping[str, Sequence[RuleDef]], source: str = "live", interval: float = 0.1
    ) -> None:
        self.source = source
        self.interval_ns = int(interval * S)
        self._crafts = {sc: _Craft(rs) for sc, rs in rules.items() if rs}
        self.counters = {"evaluated": 0, "skipped": 0, "raised": 0, "cleared": 0}

    def __bool__(self) -> bool:
        return bool(self._crafts)

    def states(self, spacecraft: str) -> list[RuleState]:
        craft = self._crafts.get(spacecraft)
        return list(craft.states) if craft is not None else []

    def observe(self, result: DecodeResult) -> Sequence[Event]:
        craft = self._crafts.get(result.spacecraft)  # type: ignore[arg-type]
        packets = result.packets
        if craft is None or not packets:
            return NO_EVENTS
        craft.pending.append(packets)  # the hot path: all a frame costs between judgements
        t = result.frame.ert_ns
        # judged again no sooner than the interval; a frame earlier than the last judgement
        # (that one stamped ahead by a station clock glitch) is judged at once
        if craft.next_ns - self.interval_ns <= t < craft.next_ns:
            return NO_EVENTS
        craft.next_ns = t + self.interval_ns
        self._ingest(craft)
        events: list[Event] = []
        for state in craft.states:
            if state.dirty:
                state.dirty = False
                ev = self._judge(craft, state, t, result.frame.station)
                if ev is not None:
                    events.append(ev)
        return events

    def _ingest(self, craft: _Craft) -> None:
        """The latest packet of each kind received since the last judgement: its values,
        rate samples and receipt times; the rules reading them are to be judged."""
        latest: dict[str | None, DecodedPacket] = {}
        carriers = craft.carriers
        for packets in reversed(craft.pending):
            for pkt in reversed(packets):
                name = pkt.name
                if name not in latest and (carriers is None or name in carriers):
                    latest[name] = pkt
            if carriers is not None and len(latest) == len(carriers):
                break  # every packet the rules read is here: older frames are older news
        craft.pending.clear()
        values = craft.values
        for pkt in reversed(latest.values()):  # oldest first, so the newest value wins
            params = pkt.params
            if type(params) is PacketColumns:
                plan = craft.plans.get(id(params.schema)) or craft.plan(params.schema)
                if not plan.states:
                    continue
                eng = params.eng
                got = plan.get(eng)
                if None in got:  # a derived value that could not be computed: keep the last
                    values.update((n, v) for n, v in zip(plan.names, got, strict=True)
                                  if v is not None)  # fmt: skip
                else:
                    values.update(zip(plan.names, got, strict=True))
                if plan.rated:
                    clock_s = (pkt.obt_ns if pkt.obt_ns is not None else pkt.time_ns) / S
                    for i, n in plan.rated:
                        self._rate_sample(craft, n, eng[i], clock_s)
                for n in plan.aged:
                    craft.updated_ns[n] = pkt.time_ns
                states = plan.states
            else:
                states = self._dict_packet(craft, pkt.name, params, pkt.obt_ns, pkt.time_ns)
            for state in states:
                state.dirty = True

    def _dict_packet(
        self,
        craft: _Craft,
        packet: str | None,
        params: Mapping[str, Any],
        obt_ns: int | None,
        t: int,
    ) -> tuple[RuleState, ...]:
        present = frozenset(n for n in craft.watched if n in params)
        got = {n: params[n].eng for n in present}
        craft.values.update((n, v) for n, v in got.items() if v is not None)
        clock_s = (obt_ns if obt_ns is not None else t) / S
        for name, value in got.items():
            if name in craft.history:
                self._rate_sample(craft, name, value, clock_s)
        for name in present & craft.aged:
            craft.updated_ns[name] = t
        key = (packet, present)
        states = craft.by_packet.get(key)
        if states is None:
            states = craft.by_packet[key] = craft.affected(present)
        return states

    @staticmethod
    def _rate_sample(craft: _Craft, name: str, value: Any, clock_s: float) -> None:
        if not isinstance(value, int | float):
            return
        hist = craft.history[name]
        if hist and clock_s < hist[-1][0]:
            # the clock went back (an on-board clock reset): the older samples, later by
            # that clock, would keep every rate out of reach until they aged out
            hist.clear()
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

    def _judge(self, craft: _Craft, state: RuleState, t: int, station: str) -> Event | None:
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
        if state.pending_since is None or t < state.pending_since:
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
