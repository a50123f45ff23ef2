"""docs/scenario.md is generated from the scenario schema and must not drift from it."""

from pathlib import Path

from optimizer.scenario import Scenario
from optimizer.schema_doc import scenario_markdown

DOC = Path(__file__).resolve().parent.parent / "docs" / "scenario.md"


def test_scenario_doc_is_up_to_date():
    assert DOC.read_text() == scenario_markdown(), (
        "docs/scenario.md is out of date: run `python -m optimizer.schema_doc > docs/scenario.md`"
    )


def test_every_key_is_documented_with_a_meaning():
    text = DOC.read_text()
    for name, field in Scenario.model_fields.items():
        assert f"`{name}`" in text or f"## [{name}]" in text
        sub = getattr(field.annotation, "model_fields", {})
        for key, subfield in sub.items():
            assert f"| `{key}` |" in text, f"{name}.{key} missing from docs/scenario.md"
            assert subfield.description, f"{name}.{key} has no description in the schema"
