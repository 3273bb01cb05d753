"""The derived-parameter expression language and the calibrations."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from groundwatch.decoders.calibration import (
    CalibrationError,
    PolynomialCalibration,
    TableCalibration,
)
from groundwatch.decoders.expr import UnsafeExpression, compile_expression

VALUES = {"a": 3, "b": 4.0, "flag": True, "samples": [1, 2, 3], "phase": "BRAKING"}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("a + b * 2", 11.0),
        ("(a - b) / 2", -0.5),
        ("a // 2 + a % 2", 2),
        ("a ** 2", 9),
        ("-a", -3),
        ("hypot(a, b)", 5.0),
        ("sqrt(b) + abs(-a)", 5.0),
        ("degrees(pi)", 180.0),
        ("max(a, b, 10)", 10),
        ("a < b <= 4", True),
        ("a > b or flag", True),
        ("not flag", False),
        ("a if flag else b", 3),
        ("samples[2] * 10", 30),
        ("a & 1 | 4", 5),
        ("a << 2", 12),
        ("phase == phase", True),
    ],
)
def test_expressions_evaluate(source: str, expected: object) -> None:
    assert compile_expression(source)(VALUES) == expected


def test_expression_names_are_the_parameters_it_reads() -> None:
    assert compile_expression("hypot(vx, vy) + pi").names == {"vx", "vy"}


@pytest.mark.parametrize(
    "source",
    [
        "__import__('os').system('true')",
        "open('/etc/passwd')",
        "a.__class__",
        "(lambda: 1)()",
        "[x for x in samples]",
        "samples[a]",
        "samples[1:2]",
        "'text'",
        "eval('1')",
        "getattr(a, 'real')",
        "_hidden + 1",
        "f'{a}'",
        "a := 3",
        "abs(*samples)",
        "round(a, ndigits=2)",
        "{1: 2}",
        "a +",
        "x" * 2001,
    ],
)
def test_unsafe_expressions_are_rejected(source: str) -> None:
    with pytest.raises(UnsafeExpression):
        compile_expression(source)


def test_huge_powers_and_shifts_are_refused_at_evaluation() -> None:
    with pytest.raises(ArithmeticError):
        compile_expression("a ** b")({"a": 9, "b": 1000})
    with pytest.raises(ArithmeticError):
        compile_expression("1 << a")({"a": 10**6})


def test_linear_polynomial_inverts_exactly() -> None:
    cal = PolynomialCalibration((-40.0, 0.125))
    for raw in range(-2000, 2000, 7):
        assert round(cal.to_raw(cal.to_eng(raw))) == raw


def test_cubic_polynomial_inverts_on_its_monotonic_range() -> None:
    cal = PolynomialCalibration((1.0, 0.5, 0.001, 1e-6), 0.0, 4095.0)
    for raw in range(0, 4096, 13):
        assert round(cal.to_raw(cal.to_eng(raw))) == raw


def test_non_monotonic_polynomial_is_rejected() -> None:
    with pytest.raises(CalibrationError, match="monotonic"):
        PolynomialCalibration((0.0, -1.0, 0.001), 0.0, 4095.0)
    with pytest.raises(CalibrationError, match="constant"):
        PolynomialCalibration((5.0,))


def test_table_interpolates_and_extrapolates() -> None:
    table = TableCalibration.from_points([[100, 10.0], [0, 0.0], [200, 40.0]])
    assert table.to_eng(50) == 5.0
    assert table.to_eng(150) == 25.0
    assert table.to_eng(300) == 70.0  # the last segment extends
    assert table.to_eng(-100) == -10.0
    assert table.to_raw(25.0) == 150.0


@given(st.integers(0, 65535))
def test_table_inverse_round_trips(raw: int) -> None:
    table = TableCalibration.from_points(
        [[0, -100.0], [8000, 0.0], [40000, 900.0], [65535, 1500.0]]
    )
    assert round(table.to_raw(table.to_eng(raw))) == raw


def test_decreasing_table_inverts() -> None:
    table = TableCalibration.from_points([[0, 100.0], [1000, 0.0]])
    assert math.isclose(table.to_raw(25.0), 750.0)


def test_table_errors() -> None:
    with pytest.raises(CalibrationError):
        TableCalibration.from_points([[0, 1.0]])
    with pytest.raises(CalibrationError):
        TableCalibration.from_points([[0, 1.0], [0, 2.0]])
    with pytest.raises(CalibrationError, match="monotonic"):
        TableCalibration.from_points([[0, 0.0], [1, 5.0], [2, 0.0]]).to_raw(1.0)
