"""The bundled impact-model catalogue loads and is honest; bad catalogues fail with clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from optimizer.catalogue import DEFAULT_CATALOGUE, Catalogue, load_catalogue
from optimizer.errors import CatalogueError

# --- the bundled catalogue -------------------------------------------------------------------


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


def test_default_path_points_into_models() -> None:
    assert DEFAULT_CATALOGUE.name == "components.toml"
    assert DEFAULT_CATALOGUE.parent.name == "models"
    assert DEFAULT_CATALOGUE.is_file()


def test_bundled_catalogue_loads_with_expected_size(catalogue: Catalogue) -> None:
    assert catalogue.version == "2026.1"
    assert 4 <= len(catalogue.metrics) <= 7
    assert 14 <= len(catalogue.components) <= 18
    assert 0 < catalogue.context.phi_min <= 1 <= catalogue.context.phi_max


def test_file_order_is_kept(catalogue: Catalogue) -> None:
    assert next(iter(catalogue.components)) == "police_anti_trafficking_units"
    assert next(iter(catalogue.metrics)) == "victims_identified"


def _sourced(text: str) -> bool:
    low = text.lower()
    return "http" in low or "assumption:" in low or low.startswith("definition:")


def test_every_number_has_a_source_or_an_assumption(catalogue: Catalogue) -> None:
    assert _sourced(catalogue.context.note)
    for key, metric in catalogue.metrics.items():
        assert _sourced(metric.weight_source), f"metrics.{key}.weight_source"
    for key, comp in catalogue.components.items():
        for field in ("cost_source", "saturation_source", "elasticity_source"):
            assert _sourced(getattr(comp, field)), f"components.{key}.{field}"
        assert comp.evidence in {"A", "B", "C", "D"}


def test_grade_d_iff_cost_is_an_assumption(catalogue: Catalogue) -> None:
    for key, comp in catalogue.components.items():
        assumed = comp.cost_source.lower().startswith("assumption:")
        assert (comp.evidence == "D") == assumed, key
        assert comp.cost_is_assumption == assumed
        if not assumed:
            assert "http" in comp.cost_source, f"{key}: a cited cost needs a URL"


def test_coverage_of_pillars_channels_and_me_data(catalogue: Catalogue) -> None:
    comps = catalogue.components.values()
    assert {c.pillar for c in comps} == {"prevention", "prosecution", "protection", "partnership"}
    assert {c.channel for c in comps} == {"government", "civil_society"}
    assert any("me_data" in c.tags for c in comps)
    assert {"sugar", "seafood", "agriculture"} <= {c.sector for c in comps}


def test_every_metric_is_used_and_every_component_metric_exists(catalogue: Catalogue) -> None:
    used = {c.metric for c in catalogue.components.values()}
    assert used == set(catalogue.metrics)


def test_spend_scale_is_in_the_concave_range_for_a_mid_size_country(catalogue: Catalogue) -> None:
    """u * r * N for N = 500,000 should be ~$0.5M-$10M a year (not saturated by a few $M)."""
    for key, comp in catalogue.components.items():
        scale = comp.unit_cost_usd.mode * comp.saturation.mode * 500_000
        assert 0.5e6 <= scale <= 10e6, f"{key}: spend scale {scale:,.0f}"


def test_models_are_frozen(catalogue: Catalogue) -> None:
    comp = next(iter(catalogue.components.values()))
    with pytest.raises(ValidationError):
        comp.evidence = "A"  # type: ignore[misc]


# --- bad catalogues --------------------------------------------------------------------------

HEAD = """
[catalogue]
name = "test"
version = "0"
description = "tiny"

[catalogue.context]
phi_min = 0.25
phi_max = 2.0
note = "assumption: test"

[metrics.victims_assisted]
label = "Assisted"
unit = "persons"
description = "d"
weight = { low = 1, mode = 1, high = 1 }
weight_source = "definition: numeraire"
"""


def component(key: str = "shelter", **override: str) -> str:
    fields = {
        "label": '"Shelter"',
        "description": '"d"',
        "pillar": '"protection"',
        "channel": '"civil_society"',
        "target": '"all"',
        "sector": '"none"',
        "tags": '["me_data"]',
        "metric": '"victims_assisted"',
        "unit_cost_usd": "{ low = 100, mode = 300, high = 900 }",
        "cost_basis_year": "2013",
        "cost_source": '"Report X, https://example.org: $300 per survivor"',
        "evidence": '"B"',
        "saturation": "{ low = 0.001, mode = 0.002, high = 0.004 }",
        "saturation_source": '"assumption: test"',
        "context": '"none"',
        "elasticity": "{ low = 0, mode = 0, high = 0 }",
        "elasticity_source": '"assumption: test"',
    }
    fields.update(override)
    body = "\n".join(f"{k} = {v}" for k, v in fields.items() if v is not None and v != "OMIT")
    return f"\n[components.{key}]\n{body}\n"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cat.toml"
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(path: Path) -> list[str]:
    with pytest.raises(CatalogueError) as info:
        load_catalogue(path)
    assert info.value.where == str(path)
    return info.value.problems


def test_minimal_valid_catalogue_loads(tmp_path: Path) -> None:
    cat = load_catalogue(write(tmp_path, HEAD + component()))
    assert list(cat.components) == ["shelter"]
    assert cat.components["shelter"].unit_cost_usd.mode == 300


def test_triangle_out_of_order_names_the_key(tmp_path: Path) -> None:
    path = write(tmp_path, HEAD + component(unit_cost_usd="{ low = 500, mode = 300, high = 900 }"))
    (problem,) = problems_of(path)
    assert (
        problem == "components.shelter.unit_cost_usd: low 500 is above mode 300; fix the triangle"
    )


def test_non_positive_cost_and_negative_elasticity(tmp_path: Path) -> None:
    text = HEAD + component(
        unit_cost_usd="{ low = 0, mode = 300, high = 900 }",
        elasticity="{ low = -0.1, mode = 0, high = 0 }",
    )
    problems = problems_of(write(tmp_path, text))
    assert any(
        p.startswith("components.shelter.unit_cost_usd: low must be above 0") for p in problems
    )
    assert any(
        p.startswith("components.shelter.elasticity: low must be 0 or more") for p in problems
    )


def test_unknown_key_suggests_the_closest(tmp_path: Path) -> None:
    text = HEAD + component().replace("cost_basis_year", "cost_basis_yr")
    problems = problems_of(write(tmp_path, text))
    assert (
        "components.shelter.cost_basis_yr: unknown key; did you mean 'cost_basis_year'?" in problems
    )
    assert "components.shelter.cost_basis_year: missing; add this key" in problems


def test_unknown_key_in_triangle_and_header(tmp_path: Path) -> None:
    text = HEAD.replace('version = "0"', 'verson = "0"') + component(
        saturation="{ low = 0.001, mod = 0.002, high = 0.004 }"
    )
    problems = problems_of(write(tmp_path, text))
    assert "catalogue.verson: unknown key; did you mean 'version'?" in problems
    assert "components.shelter.saturation.mod: unknown key; did you mean 'mode'?" in problems


def test_vocabulary_errors_suggest_a_word(tmp_path: Path) -> None:
    text = HEAD + component(pillar='"protecton"', tags='["me_data", "migrant"]')
    problems = problems_of(write(tmp_path, text))
    assert any(
        p.startswith("components.shelter.pillar: 'protecton' is not one of")
        and p.endswith("did you mean 'protection'?")
        for p in problems
    )
    assert any(p.startswith("components.shelter.tags: 'migrant'") for p in problems)


def test_unknown_metric_and_missing_me_data(tmp_path: Path) -> None:
    text = HEAD + component(metric='"victims_asisted"', tags="[]")
    problems = problems_of(write(tmp_path, text))
    assert (
        "components.shelter.metric: 'victims_asisted' is not a key of [metrics]; "
        "did you mean 'victims_assisted'?"
    ) in problems
    assert any(p.startswith("components: no component has tag 'me_data'") for p in problems)


def test_grade_and_assumption_must_agree(tmp_path: Path) -> None:
    text = (
        HEAD
        + component("cited_as_d", evidence='"D"')
        + component("assumed_as_b", cost_source='"assumption: guess"', evidence='"B"')
    )
    problems = problems_of(write(tmp_path, text))
    assert any(p.startswith("components.cited_as_d: evidence is D") for p in problems)
    assert any(
        p.startswith("components.assumed_as_b: cost_source is an assumption") for p in problems
    )


def test_all_problems_are_reported_at_once(tmp_path: Path) -> None:
    text = HEAD + component(
        unit_cost_usd="{ low = 500, mode = 300, high = 900 }",
        channel='"ngo"',
        saturation="{ low = 0.001, mode = 0.002 }",
    )
    problems = problems_of(write(tmp_path, text))
    assert len(problems) >= 3
    joined = "\n".join(problems)
    assert "components.shelter.unit_cost_usd" in joined
    assert "components.shelter.channel" in joined
    assert "components.shelter.saturation.high: missing" in joined


def test_context_bounds_must_bracket_one(tmp_path: Path) -> None:
    text = HEAD.replace("phi_min = 0.25", "phi_min = 1.5") + component()
    (problem,) = problems_of(write(tmp_path, text))
    assert problem.startswith("catalogue.context: need phi_min <= 1 <= phi_max")


def test_malformed_toml_reports_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, HEAD + "\n[components.shelter]\nlabel = \n")
    (problem,) = problems_of(path)
    assert problem.startswith("malformed TOML:")
    assert "line" in problem and "column" in problem


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    (problem,) = problems_of(path)
    assert problem.startswith("file not found")


def test_empty_file_names_the_missing_tables(tmp_path: Path) -> None:
    problems = problems_of(write(tmp_path, ""))
    joined = "\n".join(problems)
    assert "catalogue: missing [catalogue] table" in joined
    assert "metrics: no [metrics.<key>] tables" in joined
    assert "components: no [components.<key>] tables" in joined


def test_error_message_renders_with_the_path(tmp_path: Path) -> None:
    path = write(tmp_path, HEAD + component(unit_cost_usd="{ low = 500, mode = 300, high = 900 }"))
    with pytest.raises(CatalogueError) as info:
        load_catalogue(path)
    assert str(info.value).startswith(f"{path}: components.shelter.unit_cost_usd")
    assert info.value.exit_code == 2


def test_sections_that_are_not_tables(tmp_path: Path) -> None:
    text = HEAD.replace("[metrics.victims_assisted]", "[metrics_old.victims_assisted]")
    text = "metrics = 3\ncomponents = 4\n" + text
    problems = problems_of(write(tmp_path, text))
    joined = "\n".join(problems)
    assert "metrics_old: unknown key" in joined
    assert "metrics: Input should be a valid dictionary" in joined
    assert "components: Input should be a valid dictionary" in joined
