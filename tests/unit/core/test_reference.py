"""docs/configuration.md is what the generator makes from the models, and says what every
key does."""

from __future__ import annotations

from pathlib import Path

from groundwatch.config import Settings
from groundwatch.plugins import BUILTIN_PARTS
from groundwatch.reference import configuration_reference, missing_descriptions

REPO = Path(__file__).resolve().parents[3]
COMMITTED = REPO / "docs" / "configuration.md"


def test_committed_reference_is_not_stale() -> None:
    assert COMMITTED.read_text(encoding="utf-8") == configuration_reference(), (
        "docs/configuration.md is stale: run "
        "`python -m groundwatch.reference docs/configuration.md` and commit it"
    )


def test_every_key_has_a_description() -> None:
    assert missing_descriptions() == []


def test_every_section_key_and_part_is_in_it() -> None:
    text = configuration_reference()
    for section, info in Settings.model_fields.items():
        model = info.annotation
        if section in ("sources", "alerts"):
            continue  # lists of parts: one section per part type below
        assert f"## [{section}]" in text
        for key in getattr(model, "model_fields", {}):
            assert f"| `{key}` |" in text, f"{section}.{key}"
    for name in BUILTIN_PARTS["source"]:
        assert f'## [[sources]] type = "{name}"' in text
    for name in BUILTIN_PARTS["alert"]:
        assert f'## [[alerts]] type = "{name}"' in text
    assert '| `backoff` | `float` | `0.5` |' in text  # the webhook's, once missing by hand
