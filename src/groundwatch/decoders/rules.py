"""Consistency rules of a telemetry dictionary: parsed and checked once, at load.

A spacecraft entry may carry ``rules:``, each a condition over its parameters that a flight
controller wants raised as one alert (the link monitor evaluates them, see
``groundwatch.link.rules``)::

    spacecraft:
      - name: demo-lander
        rules:
          - name: ALTITUDE_DISAGREEMENT
            condition: "abs(altitude_estimate - rangefinder_altitude) > 500"
            when: rangefinder_lock            # optional gate: rule judged only while true
            persistence: 2                    # seconds of pass time the condition must hold
            severity: critical                # warning (default) or critical
            message: "estimate {altitude_estimate:.0f} m, rangefinder {rangefinder_altitude:.0f} m"
            recovery: "abs(altitude_estimate - rangefinder_altitude) < 200"  # default: not cond.
            pair: [altitude_estimate, rangefinder_altitude]  # shown side by side on the console

Conditions use the safe expression language of derived parameters (``decoders.expr``) plus
time functions, rewritten here to plain names the evaluator supplies:

- ``age(x)``: seconds of pass time since ``x`` was last received;
- ``rate(x, window)``: change of ``x`` per second over the last ``window`` seconds, timed by
  the packets' on-board time when they carry one (a physical rate whatever the replay or
  simulator speed), else by pass time.

Problems raise ``DictionaryError`` naming the file, the rule and the problem: a syntax error,
an unknown parameter, a division by a constant zero, a negative persistence, a message field
that is not one of the rule's values.
"""

from __future__ import annotations

import ast
import dataclasses
import re
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from groundwatch.decoders.api import DictionaryError
from groundwatch.decoders.expr import CompiledExpression, UnsafeExpression, compile_expression

if TYPE_CHECKING:  # pydantic loads when a dictionary has rules to validate
    from groundwatch.decoders.schema import RuleModel

TIME_FUNCTIONS = ("age", "rate")
MAX_WINDOW_S = 3600.0
MAX_RULES = 200  # per spacecraft: each is evaluated for every packet that carries its inputs
MAX_FORMAT_WIDTH = 64  # digits of a message field's width or precision


@dataclass(slots=True, frozen=True)
class TimeInput:
    """A time function of one parameter, supplied to the expression under ``alias``."""

    alias: str
    function: str  # "age" | "rate"
    parameter: str
    window_s: float = 0.0


@dataclass(slots=True, frozen=True)
class RuleDef:
    """One compiled rule of one spacecraft."""

    spacecraft: str
    name: str
    condition: CompiledExpression
    when: CompiledExpression | None
    recovery: CompiledExpression | None
    persistence_s: float
    recovery_persistence_s: float
    critical: bool
    message: str
    description: str
    parameters: frozenset[str]  # every parameter it reads (directly or through a function)
    time_inputs: tuple[TimeInput, ...]
    pair: tuple[str, ...]
    packets: frozenset[str] = frozenset()  # the packets carrying them (empty: not known)

    def message_fields(self) -> frozenset[str]:
        return frozenset(f for _, f, _, _ in string.Formatter().parse(self.message) if f)


def compile_rules(
    file: str,
    spacecraft_rules: Mapping[str, Sequence[Any]],
    known: Mapping[str, str] | Iterable[str],
) -> dict[str, tuple[RuleDef, ...]]:
    """Rules per spacecraft name, every one checked against the dictionary's parameters
    (``known``: their names, or a mapping of name to the packet carrying it)."""
    parameters = frozenset(known)
    carriers = dict(known) if isinstance(known, Mapping) else {}
    out: dict[str, tuple[RuleDef, ...]] = {}
    for craft, raw_rules in spacecraft_rules.items():
        if not raw_rules:
            continue
        if len(raw_rules) > MAX_RULES:
            raise DictionaryError(file, f"spacecraft {craft}: more than {MAX_RULES} rules")
        names: set[str] = set()
        rules = []
        for i, raw in enumerate(raw_rules):
            label = str(raw.get("name", f"#{i}")) if isinstance(raw, Mapping) else f"#{i}"
            from pydantic import ValidationError

            from groundwatch.decoders.schema import RuleModel

            try:
                model = RuleModel.model_validate(raw)
            except ValidationError as exc:
                err = exc.errors()[0]
                where = ".".join(str(p) for p in err["loc"]) or "rule"
                raise _error(file, craft, label, f"{where}: {err['msg']}") from None
            if model.name in names:
                raise _error(file, craft, model.name, "rule name used twice")
            names.add(model.name)
            rule = _compile_rule(file, craft, model, parameters)
            if carriers:
                packets = frozenset(carriers[p] for p in rule.parameters)
                rule = dataclasses.replace(rule, packets=packets)
            rules.append(rule)
        out[craft] = tuple(rules)
    return out


def _error(file: str, craft: str, rule: str, problem: str) -> DictionaryError:
    return DictionaryError(file, f"spacecraft {craft}: rule {rule}: {problem}")


def _compile_rule(file: str, craft: str, m: RuleModel, known: frozenset[str]) -> RuleDef:
    def fail(problem: str) -> DictionaryError:
        return _error(file, craft, m.name, problem)

    if m.persistence < 0:
        raise fail(f"persistence {m.persistence:g} is negative")
    if m.recovery_persistence is not None and m.recovery_persistence < 0:
        raise fail(f"recovery_persistence {m.recovery_persistence:g} is negative")
    inputs: dict[str, TimeInput] = {}
    compiled = {}
    for key, source in (("condition", m.condition), ("when", m.when), ("recovery", m.recovery)):
        if source is None:
            continue
        try:
            compiled[key] = _compile_condition(source, inputs)
        except UnsafeExpression as exc:
            raise fail(f"{key} {source!r}: {exc}") from None
    params = {t.parameter for t in inputs.values()}
    aliases = set(inputs)
    for expr in compiled.values():
        params |= expr.names - aliases
    unknown = sorted((params | set(m.pair)) - known)
    if unknown:
        raise fail(f"unknown parameters {unknown}")
    message = _check_message(m.message, params | aliases, inputs, fail)
    unknown = sorted({t.parameter for t in inputs.values()} - known)
    if unknown:
        raise fail(f"message: unknown parameters {unknown}")
    return RuleDef(
        spacecraft=craft,
        name=m.name,
        condition=compiled["condition"],
        when=compiled.get("when"),
        recovery=compiled.get("recovery"),
        persistence_s=m.persistence,
        recovery_persistence_s=(
            m.recovery_persistence if m.recovery_persistence is not None else m.persistence
        ),
        critical=m.severity == "critical",
        message=message,
        description=m.description,
        parameters=frozenset(params),
        time_inputs=tuple(inputs.values()),
        pair=tuple(m.pair),
    )


def _check_message(message: str, names: set[str], inputs: dict[str, TimeInput], fail: Any) -> str:
    """Only ``{value}`` or ``{value:spec}`` fields, a value being one of the rule's
    parameters or time functions (``{rate(x, 5):.2f}``): a template is configuration, and
    attribute or index lookups in it would reach into objects. Returns the template with
    the time functions' fields renamed to the names the evaluator supplies."""
    try:
        fields = list(string.Formatter().parse(message))
    except ValueError as exc:
        raise fail(f"message: {exc}") from None
    out = []
    for literal, name, spec, conversion in fields:
        out.append(literal.replace("{", "{{").replace("}", "}}"))
        if name is None:
            continue
        field = name
        if name not in names:
            try:
                tree = ast.parse(name.strip(), mode="eval")
                node = _TimeFunctions(inputs).visit(tree).body
            except (SyntaxError, UnsafeExpression, RecursionError, MemoryError):
                node = None
            if not isinstance(node, ast.Name):
                raise fail(f"message names {name!r}, not a value of this rule")
            field = node.id
        if conversion is not None or (spec and "{" in spec):
            raise fail(f"message field {name!r}: only a format spec is allowed")
        if any(int(n) > MAX_FORMAT_WIDTH for n in re.findall(r"\d+", spec or "")):
            # {x:999999999} would make (and check) a string of a gigabyte per alert
            raise fail(f"message field {name!r}: width or precision over {MAX_FORMAT_WIDTH}")
        try:
            format(0.0, spec or "")
        except ValueError as exc:
            raise fail(f"message field {name!r}: {exc}") from None
        out.append("{" + field + (":" + spec if spec else "") + "}")
    return "".join(out)


class _TimeFunctions(ast.NodeTransformer):
    """``rate(x, 5)`` -> the name ``rate__x__5``, recorded in ``inputs``."""

    def __init__(self, inputs: dict[str, TimeInput]) -> None:
        self.inputs = inputs

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        if not isinstance(node.func, ast.Name) or node.func.id not in TIME_FUNCTIONS:
            return node
        fn = node.func.id
        want = 1 if fn == "age" else 2
        if len(node.args) != want or node.keywords or not isinstance(node.args[0], ast.Name):
            shape = "age(parameter)" if fn == "age" else "rate(parameter, window_seconds)"
            raise UnsafeExpression(f"{fn}() takes {shape}")
        parameter = node.args[0].id
        window = 0.0
        if fn == "rate":
            arg = node.args[1]
            if not isinstance(arg, ast.Constant) or not isinstance(arg.value, int | float):
                raise UnsafeExpression("rate() window must be a constant number of seconds")
            window = float(arg.value)
            if not 0 < window <= MAX_WINDOW_S:
                raise UnsafeExpression(f"rate() window must be in (0, {MAX_WINDOW_S:g}] s")
        alias = f"{fn}__{parameter}" + (f"__{window:g}".replace(".", "_") if fn == "rate" else "")
        self.inputs[alias] = TimeInput(alias, fn, parameter, window)
        return ast.copy_location(ast.Name(id=alias, ctx=ast.Load()), node)

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.op, ast.Div | ast.FloorDiv | ast.Mod):
            constant = _constant_value(node.right)
            if constant is not None and constant == 0:
                raise UnsafeExpression("division by a constant zero")
        return node


def _constant_value(node: ast.expr) -> Any:
    """The value of a sub-expression that names nothing (None when it names something)."""
    if any(isinstance(n, ast.Name) for n in ast.walk(node)):
        return None
    try:
        return compile_expression(ast.unparse(node))({})
    except (UnsafeExpression, ArithmeticError, ValueError, TypeError):
        return None


def _compile_condition(source: str, inputs: dict[str, TimeInput]) -> CompiledExpression:
    try:
        tree = ast.parse(source.strip(), mode="eval")
        tree = ast.fix_missing_locations(_TimeFunctions(inputs).visit(tree))
        text = ast.unparse(tree)
    except SyntaxError as exc:
        raise UnsafeExpression(f"does not parse: {exc.msg}") from None
    except (RecursionError, MemoryError):  # parsed, rewritten or unparsed recursively
        raise UnsafeExpression("nested too deeply") from None
    compiled = compile_expression(text)
    compiled.source = source  # errors and views show what the dictionary says
    return compiled
