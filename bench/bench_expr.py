"""Cost of the bounded expression language against plain Python doing the same arithmetic.

    .venv/bin/python bench/bench_expr.py [--rounds 7]

Derived parameters are evaluated once per packet, so their checks (operand types, integer
sizes) are on the decode path. Each ordinary expression below is timed compiled by
``groundwatch.decoders.expr`` and as the equivalent hand-written Python function over the
same mapping, in one process, best of ``--rounds``; the ratio is compiled / hand-written.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable, Mapping
from typing import Any

from groundwatch.decoders.expr import compile_expression

VALUES: dict[str, Any] = {"a": 3, "b": 7, "v": 28.1, "i": 1.5, "x": 3.0, "y": 4.0, "z": 12.0}

CASES: list[tuple[str, Callable[[Mapping[str, Any]], Any]]] = [
    ("v * i", lambda m: m["v"] * m["i"]),
    ("a * b + 3", lambda m: m["a"] * m["b"] + 3),
    ("a * 0.001", lambda m: m["a"] * 0.001),
    ("v + i", lambda m: m["v"] + m["i"]),
    ("(a << 2) | b", lambda m: (m["a"] << 2) | m["b"]),
    ("(a - 32) * 5 / 9", lambda m: (m["a"] - 32) * 5 / 9),
    ("hypot(x, y)", lambda m: math.hypot(m["x"], m["y"])),
    ("sqrt(x**2 + y**2 + z**2)", lambda m: math.sqrt(m["x"] ** 2 + m["y"] ** 2 + m["z"] ** 2)),
    ("a if v > 20 else b", lambda m: m["a"] if m["v"] > 20 else m["b"]),
]


def best_ns(fn: Callable[[Mapping[str, Any]], Any], rounds: int, n: int = 50_000) -> float:
    best = math.inf
    for _ in range(rounds):
        started = time.process_time()
        for _ in range(n):
            fn(VALUES)
        best = min(best, time.process_time() - started)
    return best / n * 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    print(f"{'expression':28} {'compiled ns':>12} {'python ns':>10} {'ratio':>6}")
    for source, plain in CASES:
        compiled = compile_expression(source)
        assert compiled(VALUES) == plain(VALUES), source
        c, p = best_ns(compiled, args.rounds), best_ns(plain, args.rounds)
        print(f"{source:28} {c:12.0f} {p:10.0f} {c / p:6.2f}")


if __name__ == "__main__":
    main()
