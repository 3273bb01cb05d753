"""The operators of the expression language (``expr``), each with its evaluation-time bound.

What ``expr`` cannot decide when a dictionary loads is checked here, on each evaluation:
exponents (``MAX_EXPONENT``), shift counts (``MAX_SHIFT``), the size of every integer result
of ``**``, ``<<`` and ``*`` (``MAX_INT_BITS``), text and arrays joined by ``+`` and arrays
read by min, max and comparisons (``MAX_SEQUENCE``); ``*`` and ``%`` need numbers. The
closures below inline the check for the usual operands (floats, small ints), keeping derived
parameters cheap on the decode path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

Evaluator = Callable[[Mapping[str, Any]], Any]

MAX_EXPONENT = 64
MAX_SHIFT = 256
# Any integer a result of **, << or * may have: far above any field, and far below the
# 4,300-digit limit of int-to-text conversion that would crash writing the value.
MAX_INT_BITS = 1024
# Characters or elements of text or an array that ``+`` joins, and elements of an array that
# min, max or a comparison reads (each is a loop over them: 64 Ki elements, many times over).
MAX_SEQUENCE = 4096


def is_number(x: Any) -> bool:
    return isinstance(x, int | float)  # bool is an int


def _needs_numbers(op: str, a: Any, b: Any) -> TypeError:
    return TypeError(f"{op} needs numbers, not {type(a).__name__} and {type(b).__name__}")


def power(a: Any, b: Any) -> Any:
    if type(b) is int and -MAX_EXPONENT <= b <= MAX_EXPONENT:  # the usual case, quickly
        if type(a) is float or (type(a) is int and a.bit_length() * b <= MAX_INT_BITS):
            return a**b
    if not (is_number(a) and is_number(b)):
        raise _needs_numbers("**", a, b)
    if abs(b) > MAX_EXPONENT:
        raise OverflowError(f"exponent {b} larger than {MAX_EXPONENT}")
    if isinstance(a, int) and isinstance(b, int) and b > 0 and a.bit_length() * b > MAX_INT_BITS:
        raise OverflowError(f"{a.bit_length()}-bit number ** {b} exceeds {MAX_INT_BITS} bits")
    result = a**b
    if isinstance(result, complex):
        raise ValueError(f"{a} ** {b} is not a real number")
    return result


def lshift(a: Any, b: Any) -> Any:
    if isinstance(b, int) and b > MAX_SHIFT:
        raise OverflowError(f"shift {b} larger than {MAX_SHIFT}")
    if isinstance(a, int) and isinstance(b, int) and a.bit_length() + b > MAX_INT_BITS:
        raise OverflowError(f"{a.bit_length()}-bit number << {b} exceeds {MAX_INT_BITS} bits")
    return a << b


def mul(a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if ta is float or tb is float:  # a float result, or TypeError for text and arrays
        return a * b
    if ta is int and tb is int:
        if a.bit_length() + b.bit_length() > MAX_INT_BITS:
            raise OverflowError(f"product exceeds {MAX_INT_BITS} bits")
        return a * b
    if not (is_number(a) and is_number(b)):  # "label * 10**8" would build a huge text
        raise _needs_numbers("*", a, b)
    return a * b


def mod(a: Any, b: Any) -> Any:
    if isinstance(a, str | bytes | bytearray):  # "%0999999999d" % x would format a huge text
        raise _needs_numbers("%", a, b)
    return a % b


def failure_reason(exc: BaseException) -> str:
    """The counter name of a value that could not be computed."""
    if isinstance(exc, ZeroDivisionError):
        return "division_by_zero"
    if isinstance(exc, ArithmeticError):
        return "overflow"
    if isinstance(exc, TypeError):
        return "type"
    if isinstance(exc, KeyError):
        return "missing_input"  # a parameter it reads has no value in this packet
    if isinstance(exc, IndexError):
        return "index"
    return "domain"  # ValueError: sqrt(-1), log(0), a negative shift


def joined(lf: Evaluator, rf: Evaluator) -> Evaluator:
    def total(v: Mapping[str, Any]) -> Any:
        result = lf(v) + rf(v)
        if type(result) is float or type(result) is int:
            return result
        if isinstance(result, str | list | tuple) and len(result) > MAX_SEQUENCE:
            raise OverflowError(f"joined text or array longer than {MAX_SEQUENCE}")
        return result

    return total


def product(lf: Evaluator, rf: Evaluator) -> Evaluator:
    """``a * b`` with the check of ``mul`` inlined for floats, the usual operands."""

    def multiplied(v: Mapping[str, Any]) -> Any:
        a, b = lf(v), rf(v)
        ta, tb = type(a), type(b)
        if ta is float or tb is float:
            return a * b
        if ta is int and tb is int and a.bit_length() + b.bit_length() <= MAX_INT_BITS:
            return a * b
        return mul(a, b)

    return multiplied


def constant_power(lf: Evaluator, exponent: int) -> Evaluator:
    """``x ** 2``: a float base needs no check (a float result or OverflowError)."""

    def raised(v: Mapping[str, Any]) -> Any:
        a = lf(v)
        return a**exponent if type(a) is float else power(a, exponent)

    return raised


def constant_shift(lf: Evaluator, shift: int) -> Evaluator:
    """``x << 2``: the size check of ``lshift`` inlined for an int, the usual operand."""
    room = MAX_INT_BITS - shift

    def shifted(v: Mapping[str, Any]) -> Any:
        a = lf(v)
        return a << shift if type(a) is int and a.bit_length() <= room else lshift(a, shift)

    return shifted


def check_length(value: Any) -> None:
    """An array longer than ``MAX_SEQUENCE`` is refused where it would be looped over."""
    if isinstance(value, list | tuple) and len(value) > MAX_SEQUENCE:
        raise OverflowError(f"array of {len(value)} values longer than {MAX_SEQUENCE}")


def bounded_min(*args: Any) -> Any:
    if len(args) == 1:
        check_length(args[0])
    return min(*args)


def bounded_max(*args: Any) -> Any:
    if len(args) == 1:
        check_length(args[0])
    return max(*args)


def bounded_int(*args: Any) -> int:
    """``int(text, 16)`` reads a number of any length: its result is held to ``MAX_INT_BITS``
    like the results of the operators."""
    result = int(*args)
    if result.bit_length() > MAX_INT_BITS:
        raise OverflowError(f"int() of {result.bit_length()} bits exceeds {MAX_INT_BITS} bits")
    return result


# round(x, n) of an int computes 10 ** -n: its digits must stay within what a value can have.
MAX_ROUND_DIGITS = 400


def bounded_round(number: Any, *ndigits: Any) -> Any:
    if ndigits and isinstance(ndigits[0], int) and abs(ndigits[0]) > MAX_ROUND_DIGITS:
        raise OverflowError(f"round to {ndigits[0]} digits: more than {MAX_ROUND_DIGITS}")
    return round(number, *ndigits)
