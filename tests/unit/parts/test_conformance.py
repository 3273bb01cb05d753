"""Every registered part of every role keeps its role's contract (``groundwatch.parts``).

The parts come from the registry the ``run`` command uses (built-in parts plus any installed
through entry points), so a new part is checked the moment it is registered: its class has an
``<Part>Options`` model and ``from_config``; the part built from example options has every
member its role's Protocol names, with coroutine methods where the contract awaits them.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from groundwatch.parts import ROLES, ConfigError, PartClass, PartEntry, Registry
from groundwatch.plugins import BUILTIN_PARTS, default_registry

# Options for parts whose options have required keys; every other part is built from {}.
EXAMPLES: dict[tuple[str, str], dict[str, Any]] = {
    ("source", "kiss_tcp"): {"station": "gs1"},
    ("source", "udp"): {"station": "gs1", "port": 0},
    ("alert", "command"): {"command": "true"},
    ("alert", "webhook"): {"url": "http://127.0.0.1:9/hook"},
}

REGISTRY = default_registry()
ENTRIES = REGISTRY.entries()


def protocol_members(protocol: type) -> dict[str, Any]:
    """The members a Protocol declares (annotations and functions), not object's."""
    members: dict[str, Any] = dict.fromkeys(getattr(protocol, "__annotations__", {}))
    for name, value in vars(protocol).items():
        if inspect.isfunction(value) or isinstance(value, classmethod | staticmethod):
            members[name] = value
    return {n: v for n, v in members.items() if not n.startswith("_")}


def build(entry: PartEntry, tmp: Path) -> Any:
    options = dict(EXAMPLES.get((entry.role, entry.name), {}))
    if entry.role == "sink":
        options |= {"spool_dir": tmp / "spool", "dead_letter": tmp / "dead.lp"}
    return REGISTRY.create(entry.role, entry.name, options, f"{entry.role}s[0]")


def test_every_builtin_part_is_registered_under_its_role() -> None:
    for role, parts in BUILTIN_PARTS.items():
        assert set(parts) <= set(REGISTRY.names(role)), role
    assert set(BUILTIN_PARTS) == set(ROLES)


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: f"{e.role}:{e.name}")
def test_part_class_has_options_model_and_from_config(entry: PartEntry) -> None:
    cls = REGISTRY.part_class(entry.role, entry.name, "test")
    for member in protocol_members(PartClass):
        assert hasattr(cls, member), f"{cls.__name__} has no {member}"
    assert issubclass(cls.Options, BaseModel)
    assert cls.Options.__name__.endswith("Options") or cls.Options.__name__ == "StoreConfig"
    assert inspect.ismethod(cls.from_config), "from_config must be a classmethod"


def check_contract(role: str, part: Any) -> None:
    """AssertionError naming the first member ``part`` lacks of its role's Protocol."""
    _, protocol = ROLES[role]
    for member, declared in protocol_members(protocol).items():
        assert hasattr(part, member), f"{role} {part.name}: no {member}"
        if inspect.isfunction(declared):
            actual = getattr(part, member)
            assert callable(actual), f"{role} {part.name}: {member} is not callable"
            is_async = inspect.iscoroutinefunction(declared)
            assert inspect.iscoroutinefunction(actual) == is_async, (
                f"{role} {part.name}: {member} must be {'async def' if is_async else 'def'}"
            )
    assert isinstance(part, protocol)
    assert isinstance(part.name, str) and part.name
    if hasattr(part, "counters"):
        assert set(part.counters.as_dict()) >= {"received", "sent", "dropped", "errors"}


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: f"{e.role}:{e.name}")
def test_part_keeps_its_role_contract(entry: PartEntry, tmp_path: Path) -> None:
    check_contract(entry.role, build(entry, tmp_path))


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: f"{e.role}:{e.name}")
def test_unknown_option_is_named_in_the_error(entry: PartEntry) -> None:
    options = {**EXAMPLES.get((entry.role, entry.name), {}), "no_such_option": 1}
    with pytest.raises(ConfigError, match=r"x\[3\]\.no_such_option"):
        REGISTRY.create(entry.role, entry.name, options, "x[3]")


@pytest.mark.parametrize("member", ["start", "run", "stop"])
def test_a_part_missing_a_method_fails_the_contract(member: str) -> None:
    """The check can fail: a source with a lifecycle method taken away is refused."""
    from groundwatch.ingest.udp import UdpSource

    check_contract("source", UdpSource.from_config({"station": "gs1"}, "sources[0]"))
    broken = type("Broken", (UdpSource,), {member: None})
    with pytest.raises(AssertionError, match=member):
        check_contract("source", broken.from_config({"station": "gs1"}, "sources[0]"))


def test_a_sync_method_where_the_contract_awaits_fails() -> None:
    from groundwatch.alerts.sinks import LogSink

    broken = type("Broken", (LogSink,), {"start": lambda self: None})
    with pytest.raises(AssertionError, match="start must be async def"):
        check_contract("alert", broken.from_config({}, "alerts[0]"))


def test_registry_names_the_known_types_and_refuses_a_second_registration() -> None:
    reg = Registry()
    reg.register("alert", "log", lambda: object)
    with pytest.raises(ValueError, match="registered twice"):
        reg.register("alert", "log", lambda: object)
    with pytest.raises(ValueError, match="unknown role"):
        reg.register("alerts", "x", lambda: object)
    with pytest.raises(ConfigError, match=r"alerts\[0\]\.type: unknown alert type 'pager'"):
        reg.create("alert", "pager", {}, "alerts[0]")


def test_a_plugin_that_cannot_be_imported_is_named() -> None:
    reg = Registry()

    def broken() -> Any:
        raise ImportError("No module named 'zmq'")

    reg.register("source", "zmq", broken, origin="groundwatch-zmq")
    with pytest.raises(ConfigError, match=r"sources\[1\]\.type: .*groundwatch-zmq.*zmq"):
        reg.create("source", "zmq", {}, "sources[1]")
    reg.register("source", "odd", lambda: print, origin="odd-package")
    with pytest.raises(ConfigError, match=r"sources\[2\]\.type: source 'odd' .* not a part"):
        reg.create("source", "odd", {}, "sources[2]")


def test_plugins_command_lists_every_part_by_role_and_origin() -> None:
    from typer.testing import CliRunner

    from groundwatch.cli import app

    result = CliRunner().invoke(app, ["plugins"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    for role, parts in BUILTIN_PARTS.items():
        group = ROLES[role][0]
        header = next(i for i, ln in enumerate(lines) if ln.endswith(f"group {group}):"))
        for name in parts:
            assert any(ln.split()[:2] == [name, "groundwatch"] for ln in lines[header + 1 :]), (
                f"{role} {name} not listed"
            )


def test_the_replay_source_keeps_the_source_contract() -> None:
    """Not chosen by configuration (``groundwatch replay`` builds it), but the pipeline runs
    it like any source."""
    from groundwatch.clock import ReplayClock
    from groundwatch.replay.recording import TimeLine
    from groundwatch.replay.source import ReplaySource

    source = ReplaySource(
        iter([]), session="s", clock=ReplayClock(0, None), timeline=TimeLine(1_000, 0)
    )
    check_contract("source", source)
