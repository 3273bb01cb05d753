"""A small, safe, bounded expression language for derived parameters.

Derived parameters (e.g. ``total_current: "bus_a_current + bus_b_current"``) come from
dictionary files, which are configuration, not code: they are parsed with :mod:`ast` and
compiled to a tree of closures over a whitelist of node types. Nothing is ever passed to
``eval``/``exec``; attribute access, subscripts other than constant array indices,
comprehensions, lambdas and calls of anything but the functions below are rejected when
the dictionary loads.

A careless or hostile dictionary must not stall or crash the decoder, so the language is
bounded (the limits are the ``MAX_*`` constants below):

* at load, where it can be decided: the length and nesting depth of the expression, the
  size of integer constants, the degree of nested powers (``(x**8)**9`` is ``x**72``), a
  division by a literal zero; sub-expressions without parameters are computed once, at
  load, under the same bounds (``9**9**9`` is refused there);
* at each evaluation, where it cannot: exponents, shift counts and the size of every
  integer result of ``**``, ``<<`` and ``*``; ``*`` and ``%`` need numbers, so a label or an
  array cannot be repeated or formatted into a huge string; text and arrays joined by ``+``
  stay within ``MAX_SEQUENCE``. With these, the work of one evaluation is bounded by the
  length of the expression.

A value that cannot be computed raises (``ArithmeticError``, ``ValueError``, ``TypeError``,
``KeyError``, ``IndexError``); the decoder stores no sample for it and counts it per
parameter and reason in ``CompiledExpression.failures``.
"""

from __future__ import annotations

import ast
import math
import operator
import struct
from collections.abc import Callable, Mapping
from typing import Any

from groundwatch.decoders.expr_ops import (
    MAX_EXPONENT,
    MAX_INT_BITS,
    MAX_SEQUENCE,
    MAX_SHIFT,
    Evaluator,
    bounded_int,
    bounded_max,
    bounded_min,
    bounded_round,
    check_length,
    constant_power,
    constant_shift,
    failure_reason,
    is_number,
    joined,
    lshift,
    mod,
    mul,
    power,
    product,
)

__all__ = [
    "MAX_DEPTH",
    "MAX_EXPONENT",
    "MAX_INT_BITS",
    "MAX_LENGTH",
    "MAX_SEQUENCE",
    "MAX_SHIFT",
    "RAW_PREFIX",
    "CompiledExpression",
    "UnsafeExpression",
    "compile_expression",
]

# ``raw(name)`` reads the raw value of ``name``: the caller passes it under this prefix.
RAW_PREFIX = "raw:"


class UnsafeExpression(ValueError):
    """The expression uses something outside the whitelist (or does not parse)."""


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "abs": abs,
    "min": bounded_min,
    "max": bounded_max,
    "round": bounded_round,
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
    "int": bounded_int,
    "float": float,
    # Reinterpret the bits of an unsigned integer as an IEEE 754 float (big-endian bits).
    "float32": lambda bits: struct.unpack(">f", (bits & 0xFFFFFFFF).to_bytes(4, "big"))[0],
    "float64": lambda bits: struct.unpack(">d", (bits & (1 << 64) - 1).to_bytes(8, "big"))[0],
}
CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e}

MAX_LENGTH = 2000  # characters of one expression (documented in the README)
MAX_DEPTH = 200  # nested operations (a+b+c nests too): keeps off the recursion limit
MAX_DEGREE = 64  # of nested powers and products of powers of parameters

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: mod,
    ast.Pow: power,
    ast.BitAnd: operator.and_,
    ast.BitOr: operator.or_,
    ast.BitXor: operator.xor,
    ast.LShift: lshift,
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
_DIVISIONS = (ast.Div, ast.FloorDiv, ast.Mod)


class CompiledExpression:
    """An expression compiled once; ``names`` are the parameters it reads.

    ``failures`` counts the evaluations that gave no value, by reason (see ``failed``).
    """

    __slots__ = ("_evaluate", "failures", "names", "reads_raw", "source")

    def __init__(
        self, source: str, evaluate: Evaluator, names: frozenset[str], reads_raw: bool = False
    ) -> None:
        self.source = source
        self.names = names
        self.reads_raw = reads_raw  # uses raw(name): the caller must pass raw values too
        self._evaluate = evaluate
        self.failures: dict[str, int] = {}

    def __call__(self, values: Mapping[str, Any]) -> Any:
        return self._evaluate(values)

    def failed(self, exc: BaseException) -> str:
        """Count one evaluation that raised ``exc``; returns the reason counted."""
        reason = failure_reason(exc)
        self.failures[reason] = self.failures.get(reason, 0) + 1
        return reason

    @property
    def not_computed(self) -> int:
        return sum(self.failures.values())

    def __repr__(self) -> str:
        return f"CompiledExpression({self.source!r})"


def compile_expression(source: str) -> CompiledExpression:
    """Parse ``source`` and build its evaluator; raises UnsafeExpression when not allowed."""
    if len(source) > MAX_LENGTH:
        raise UnsafeExpression(f"expression longer than {MAX_LENGTH} characters")
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except (SyntaxError, RecursionError, MemoryError) as exc:
        raise UnsafeExpression(f"does not parse: {getattr(exc, 'msg', exc)}") from None
    names: set[str] = set()
    node = _compile(tree.body, names, 0)
    raw_names = {n for n in names if n.startswith(RAW_PREFIX)}
    plain = (names - raw_names) | {n[len(RAW_PREFIX) :] for n in raw_names}
    return CompiledExpression(source, node.evaluate, frozenset(plain), bool(raw_names))


class _Node:
    """A compiled sub-expression: its evaluator, its value when it reads no parameter,
    and its degree in the parameters (for the load-time bound on nested powers)."""

    __slots__ = ("constant", "degree", "evaluate", "is_constant")

    def __init__(
        self, evaluate: Evaluator, *, degree: int = 1, constant: Any = None, known: bool = False
    ) -> None:
        self.evaluate = evaluate
        self.degree = degree
        self.constant = constant
        self.is_constant = known


def _const(value: Any) -> _Node:
    return _Node(lambda _v: value, degree=0, constant=value, known=True)


def _fold(node: ast.expr, evaluate: Evaluator, degree: int, parts: list[_Node]) -> _Node:
    """Compute a sub-expression without parameters once, now, under the same bounds."""
    if not all(p.is_constant for p in parts):
        if degree > MAX_DEGREE:
            raise UnsafeExpression(
                f"{ast.unparse(node)!r} is a power of degree {degree}, more than {MAX_DEGREE}"
            )
        return _Node(evaluate, degree=degree)
    try:
        return _const(evaluate({}))
    except (ArithmeticError, ValueError, TypeError, IndexError) as exc:
        raise UnsafeExpression(f"{ast.unparse(node)!r} cannot be computed: {exc}") from None


def _compile(node: ast.expr, names: set[str], depth: int) -> _Node:
    if depth > MAX_DEPTH:
        raise UnsafeExpression(f"nested deeper than {MAX_DEPTH} operations")
    depth += 1
    if isinstance(node, ast.Constant):
        value = node.value
        if not isinstance(value, int | float):
            raise UnsafeExpression(f"constant {value!r} is not a number")
        if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
            raise UnsafeExpression(f"integer constant larger than {MAX_INT_BITS} bits")
        return _const(value)
    if isinstance(node, ast.Name):
        return _compile_name(node.id, names)
    if isinstance(node, ast.BinOp):
        return _compile_binary(node, names, depth)
    if isinstance(node, ast.UnaryOp):
        if type(node.op) not in _UNARY:
            raise UnsafeExpression(f"operator {type(node.op).__name__} not allowed")
        ufn, operand = _UNARY[type(node.op)], _compile(node.operand, names, depth)
        one = operand.evaluate
        return _fold(node, lambda v: ufn(one(v)), operand.degree, [operand])
    if isinstance(node, ast.BoolOp):
        parts = [_compile(value, names, depth) for value in node.values]
        evals = [p.evaluate for p in parts]
        if isinstance(node.op, ast.And):
            return _fold(node, lambda v: all(e(v) for e in evals), 1, parts)
        return _fold(node, lambda v: any(e(v) for e in evals), 1, parts)
    if isinstance(node, ast.Compare):
        return _compile_compare(node, names, depth)
    if isinstance(node, ast.IfExp):
        test, body, orelse = (
            _compile(n, names, depth) for n in (node.test, node.body, node.orelse)
        )
        t, b, o = test.evaluate, body.evaluate, orelse.evaluate
        degree = max(body.degree, orelse.degree)
        return _fold(node, lambda v: b(v) if t(v) else o(v), degree, [test, body, orelse])
    if isinstance(node, ast.Call):
        return _compile_call(node, names, depth)
    if isinstance(node, ast.Subscript):
        return _compile_subscript(node, names)
    raise UnsafeExpression(f"{type(node).__name__} not allowed")


def _compile_binary(node: ast.BinOp, names: set[str], depth: int) -> _Node:
    op_type = type(node.op)
    if op_type not in _BINARY:
        raise UnsafeExpression(f"operator {op_type.__name__} not allowed")
    left, right = _compile(node.left, names, depth), _compile(node.right, names, depth)
    if op_type in _DIVISIONS and right.is_constant and right.constant == 0:
        raise UnsafeExpression(f"{ast.unparse(node)!r} divides by zero")
    fn = _BINARY[op_type]
    if fn is mul and float in (type(left.constant), type(right.constant)):
        fn = operator.mul  # times a float constant: a float or a TypeError, never large
    degree = max(left.degree, right.degree)
    if op_type is ast.Mult:
        degree = left.degree + right.degree
    elif op_type is ast.Pow:
        exponent = right.constant if right.is_constant and is_number(right.constant) else 1
        if left.degree and not abs(exponent) <= MAX_DEGREE:  # also NaN and infinity
            raise UnsafeExpression(f"exponent of {ast.unparse(node)!r} larger than {MAX_DEGREE}")
        degree = left.degree * math.ceil(abs(exponent))
    lf, rf = left.evaluate, right.evaluate
    if fn is power and type(right.constant) is int and abs(right.constant) <= MAX_EXPONENT:
        return _fold(node, constant_power(lf, right.constant), degree, [left, right])
    if fn is lshift and type(right.constant) is int and 0 <= right.constant <= MAX_SHIFT:
        return _fold(node, constant_shift(lf, right.constant), degree, [left, right])
    if fn is mul:
        return _fold(node, product(lf, rf), degree, [left, right])
    if fn is operator.add and not (left.is_constant or right.is_constant):
        # Text and arrays concatenate: bounded, or "s + s + s ..." grows quadratically.
        return _fold(node, joined(lf, rf), degree, [left, right])
    if right.is_constant and not left.is_constant:  # "x * 0.001": one call fewer
        c = right.constant
        return _fold(node, lambda v: fn(lf(v), c), degree, [left, right])
    return _fold(node, lambda v: fn(lf(v), rf(v)), degree, [left, right])


def _compile_name(name: str, names: set[str]) -> _Node:
    if name in CONSTANTS:
        return _const(CONSTANTS[name])
    if name.startswith("_"):
        raise UnsafeExpression(f"name {name!r} not allowed")
    names.add(name)
    return _Node(lambda v: v[name])


def _compile_compare(node: ast.Compare, names: set[str], depth: int) -> _Node:
    first = _compile(node.left, names, depth)
    parts = [first]
    steps: list[tuple[Callable[[Any, Any], Any], Evaluator]] = []
    for op, comparator in zip(node.ops, node.comparators, strict=True):
        if type(op) not in _COMPARE:
            raise UnsafeExpression(f"comparison {type(op).__name__} not allowed")
        part = _compile(comparator, names, depth)
        parts.append(part)
        steps.append((_COMPARE[type(op)], part.evaluate))
    first_eval = first.evaluate

    def compare(v: Mapping[str, Any]) -> bool:
        left = first_eval(v)
        for fn, right_eval in steps:
            right = right_eval(v)
            # compared element by element (a ListContainer of the Construct path is a list)
            if isinstance(left, list) or isinstance(right, list):
                check_length(left)
                check_length(right)
            if not fn(left, right):
                return False
            left = right
        return True

    return _fold(node, compare, 1, parts)


def _compile_call(node: ast.Call, names: set[str], depth: int) -> _Node:
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
    parts = [_compile(arg, names, depth) for arg in node.args]
    degree = max((p.degree for p in parts), default=0)
    if len(parts) == 1:
        one = parts[0].evaluate
        return _fold(node, lambda v: fn(one(v)), degree, parts)
    args = [p.evaluate for p in parts]
    return _fold(node, lambda v: fn(*[arg(v) for arg in args]), degree, parts)


def _compile_subscript(node: ast.Subscript, names: set[str]) -> _Node:
    """``samples[3]``: a constant index into an array parameter, nothing else."""
    index = node.slice
    if not isinstance(node.value, ast.Name):
        raise UnsafeExpression("only array parameters can be indexed")
    if not (isinstance(index, ast.Constant) and type(index.value) is int):
        raise UnsafeExpression("array index must be a constant integer")
    array, position = _compile_name(node.value.id, names).evaluate, index.value
    return _Node(lambda v: array(v)[position])
