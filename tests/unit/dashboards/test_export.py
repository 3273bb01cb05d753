"""``groundwatch dashboards export|push``: the committed dashboards/ is what the generator makes."""

from __future__ import annotations

from pathlib import Path

import typer
from typer.testing import CliRunner

from groundwatch.dashboards import export, link_overview
from groundwatch.dashboards.commands import register

REPO = Path(__file__).resolve().parents[3]
MISSIONS = sorted((REPO / "missions").glob("*.yaml"))


def app() -> typer.Typer:
    root = typer.Typer()

    @root.callback()
    def main() -> None:
        """groundwatch (test root)."""

    register(root)
    return root


def tree(base: Path) -> dict[str, str]:
    return {
        str(f.relative_to(base)): f.read_text(encoding="utf-8")
        for f in sorted(base.rglob("*"))
        if f.is_file()
    }


def test_committed_dashboards_are_not_stale(tmp_path: Path) -> None:
    args = ["dashboards", "export", "--out", str(tmp_path)]
    for m in MISSIONS:
        args += ["--dictionary", str(m)]
    result = CliRunner().invoke(app(), args)
    assert result.exit_code == 0, result.output
    fresh, committed = tree(tmp_path), tree(REPO / "dashboards")
    stale = sorted(k for k in fresh.keys() | committed.keys() if fresh.get(k) != committed.get(k))
    assert not stale, (
        f"dashboards/ is stale in {stale}: run `groundwatch dashboards export "
        + " ".join(f"--dictionary {m.relative_to(REPO)}" for m in MISSIONS)
        + " --out dashboards/`"
    )


def test_export_removes_dashboards_no_longer_generated(tmp_path: Path) -> None:
    (tmp_path / "json").mkdir()
    (tmp_path / "json" / "spacecraft-gone.json").write_text("{}")
    export.export([], tmp_path)
    assert sorted(p.name for p in (tmp_path / "json").iterdir()) == ["link-overview.json"]


def test_push_needs_a_token() -> None:
    result = CliRunner().invoke(
        app(),
        ["dashboards", "push", "--grafana", "http://127.0.0.1:9", "--dictionary", str(MISSIONS[0])],
        env={"GRAFANA_TOKEN": ""},
    )
    assert result.exit_code == 1
    assert "GRAFANA_TOKEN" in result.output


def test_link_states_match_the_link_monitor() -> None:
    from groundwatch.link.state import LinkState

    assert {s.value: s.name for s in LinkState} == {
        k: text.replace(" ", "_") for k, (text, _) in link_overview.LINK_STATES.items()
    }
