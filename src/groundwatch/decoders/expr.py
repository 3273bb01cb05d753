"""A small, safe expression language for derived parameters.

Derived parameters (e.g. ``total_current: "bus_a_current + bus_b_current"``) come from
dictionary files, which are configuration, not code: they are parsed with :mod:`ast` and
compiled to a tree of closures over a whitelist of node types. Nothing is ever passed to
``eval``/``exec``; attribute access, subscripts other than constant array indices,
comprehensions, lambdas and calls of anything but the functions below are rejected when
the dictionary loads.
"""

from __future__ import annotations

import ast
import math
import operator
import struct
from collections.abc import Callable, Mapping
from typing import Any

Evaluator = Callable[[Mapping[str, Any]], Any]
# ``raw(name)`` reads the raw value of ``name``: the caller passes it under this prefix.
RAW_PREFIX = "raw:"


class UnsafeExpression(ValueError):
    """The expression uses something outside the whitelist (or does not parse)."""


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "abs": abs,
    "min": min,
    "max": max,
    "round": round,
    "sqrt": math.sqrt,
    "exp": math.exp,
    "log": math.log,
    "log10": math.log10,
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "asin": math.asin,
    "acos": math.acos,
    "atan": math.atan,
    "atan2": math.atan2,
    "hypot": math.hypot,
    "degrees": math.degrees,
    "radians": math.radians,
    "floor": math.floor,
    "ceil": math.ceil,
    "int": int,
    "float": float,
    # Reinterpret the bits of an unsigned integer as an IEEE 754 float (big-endian bits).
    "float32": lambda bits: struct.unpack(">f", (bits & 0xFFFFFFFF).to_bytes(4, "big"))[0],
    "float64": lambda bits: struct.unpack(">d", (bits & (1 << 64) - 1).to_bytes(8, "big"))[0],
}
CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e}

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.BitAnd: operator.and_,
    ast.BitOr: operator.or_,
    ast.BitXor: operator.xor,
    ast.LShift: operator.lshift,
    ast.RShift: operator.rshift,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
    ast.Not: operator.not_,
    ast.Invert: operator.invert,
}
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
# Keeps "2 ** 10 ** 10" or "1 << 10 ** 9" from stalling the decoder.
MAX_EXPONENT = 64
MAX_SHIFT = 256
MAX_LENGTH = 2000  # characters of one expression (documented in the README)


def _power(a: Any, b: Any) -> Any:
    if isinstance(b, (int, float)) and abs(b) > MAX_EXPONENT:
        raise ArithmeticError(f"exponent {b} larger than {MAX_EXPONENT}")
    return operator.pow(a, b)


def _lshift(a: Any, b: Any) -> Any:
    if b > MAX_SHIFT:
        raise ArithmeticError(f"shift {b} larger than {MAX_SHIFT}")
    return operator.lshift(a, b)


class CompiledExpression:
    """An expression compiled once; ``names`` are the parameters it reads."""

    def __init__(
        self, source: str, evaluate: Evaluator, names: frozenset[str], reads_raw: bool = False
    ) -> None:
        self.source = source
        self.names = names
        self.reads_raw = reads_raw  # uses raw(name): the caller must pass raw values too
        self._evaluate = evaluate

    def __call__(self, values: Mapping[str, Any]) -> Any:
        return self._evaluate(values)

    def __repr__(self) -> str:
        return f"CompiledExpression({self.source!r})"


def compile_expression(source: str) -> CompiledExpression:
    """Parse ``source`` and build its evaluator; raises UnsafeExpression when not allowed."""
    if len(source) > MAX_LENGTH:
        raise UnsafeExpression(f"expression longer than {MAX_LENGTH} characters")
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError as exc:
        raise UnsafeExpression(f"does not parse: {exc.msg}") from None
    names: set[str] = set()
    evaluate = _compile(tree.body, names)
    raw_names = {n for n in names if n.startswith(RAW_PREFIX)}
    plain = (names - raw_names) | {n[len(RAW_PREFIX) :] for n in raw_names}
    return CompiledExpression(source, evaluate, frozenset(plain), bool(raw_names))


def _compile(node: ast.expr, names: set[str]) -> Evaluator:
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or isinstance(node.value, (int, float)):
            value = node.value
            return lambda _v: value
        raise UnsafeExpression(f"constant {node.value!r} is not a number")
    if isinstance(node, ast.Name):
        return _compile_name(node.id, names)
    if isinstance(node, ast.BinOp):
        left, right = _compile(node.left, names), _compile(node.right, names)
        op_type = type(node.op)
        if op_type is ast.Pow:
            return lambda v: _power(left(v), right(v))
        if op_type is ast.LShift:
            return lambda v: _lshift(left(v), right(v))
        if op_type not in _BINARY:
            raise UnsafeExpression(f"operator {op_type.__name__} not allowed")
        fn = _BINARY[op_type]
        return lambda v: fn(left(v), right(v))
    if isinstance(node, ast.UnaryOp):
        if type(node.op) not in _UNARY:
            raise UnsafeExpression(f"operator {type(node.op).__name__} not allowed")
        ufn, operand = _UNARY[type(node.op)], _compile(node.operand, names)
        return lambda v: ufn(operand(v))
    if isinstance(node, ast.BoolOp):
        parts = [_compile(value, names) for value in node.values]
        if isinstance(node.op, ast.And):
            return lambda v: all(part(v) for part in parts)
        return lambda v: any(part(v) for part in parts)
    if isinstance(node, ast.Compare):
        return _compile_compare(node, names)
    if isinstance(node, ast.IfExp):
        test, body, orelse = (_compile(n, names) for n in (node.test, node.body, node.orelse))
        return lambda v: body(v) if test(v) else orelse(v)
    if isinstance(node, ast.Call):
        return _compile_call(node, names)
    if isinstance(node, ast.Subscript):
        return _compile_subscript(node, names)
    raise UnsafeExpression(f"{type(node).__name__} not allowed")


def _compile_name(name: str, names: set[str]) -> Evaluator:
    if name in CONSTANTS:
        constant = CONSTANTS[name]
        return lambda _v: constant
    if name.startswith("_"):
        raise UnsafeExpression(f"name {name!r} not allowed")
    names.add(name)
    return lambda v: v[name]


def _compile_compare(node: ast.Compare, names: set[str]) -> Evaluator:
    first = _compile(node.left, names)
    steps: list[tuple[Callable[[Any, Any], Any], Evaluator]] = []
    for op, comparator in zip(node.ops, node.comparators, strict=True):
        if type(op) not in _COMPARE:
            raise UnsafeExpression(f"comparison {type(op).__name__} not allowed")
        steps.append((_COMPARE[type(op)], _compile(comparator, names)))

    def compare(v: Mapping[str, Any]) -> bool:
        left = first(v)
        for fn, right_eval in steps:
            right = right_eval(v)
            if not fn(left, right):
                return False
            left = right
        return True

    return compare


def _compile_call(node: ast.Call, names: set[str]) -> Evaluator:
    if isinstance(node.func, ast.Name) and node.func.id == "raw":
        # raw(name): the parameter's raw value, before calibration or enumeration.
        if len(node.args) != 1 or not isinstance(node.args[0], ast.Name) or node.keywords:
            raise UnsafeExpression("raw() takes one parameter name")
        return _compile_name(RAW_PREFIX + node.args[0].id, names)
    if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
        what = node.func.id if isinstance(node.func, ast.Name) else type(node.func).__name__
        raise UnsafeExpression(f"call of {what} not allowed (allowed: {sorted(FUNCTIONS)})")
    if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
        raise UnsafeExpression("keyword or starred arguments not allowed")
    fn = FUNCTIONS[node.func.id]
    args = [_compile(arg, names) for arg in node.args]
    return lambda v: fn(*(arg(v) for arg in args))


def _compile_subscript(node: ast.Subscript, names: set[str]) -> Evaluator:
    """``samples[3]``: a constant index into an array parameter, nothing else."""
    index = node.slice
    if not isinstance(node.value, ast.Name):
        raise UnsafeExpression("only array parameters can be indexed")
    if not (isinstance(index, ast.Constant) and type(index.value) is int):
        raise UnsafeExpression("array index must be a constant integer")
    array, position = _compile_name(node.value.id, names), index.value
    return lambda v: array(v)[position]
