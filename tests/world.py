"""A tiny synthetic world for model tests: countries, a catalogue and a scenario built in code.

Everything the model needs from the data and catalogue layers, without files, so tests can pin
optima on hand-solvable instances and generate random ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from optimizer.catalogue import Catalogue, Component, ContextBounds, Metric
from optimizer.engine import Prepared, collect
from optimizer.impact import build_curves
from optimizer.inputs import model_inputs
from optimizer.model import build_model
from optimizer.result import Result
from optimizer.scenario import PolicySection, Scenario
from optimizer.solve import Solution, solve
from optimizer.vocabulary import SECTORS


def view(countries: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """A screening view: {iso3: {people, region, rl, cc, va, mig, sectors}} -> the columns the
    model reads (mig is the migration percentile)."""
    rows = []
    for iso, c in countries.items():
        rows.append(
            {
                "iso3": iso,
                "name": c.get("name", f"Country {iso}"),
                "region": c.get("region", "AF"),
                "people_in_modern_slavery": float(c.get("people", 100_000)),
                "rule_of_law_pct": float(c.get("rl", 50.0)),
                "control_of_corruption_pct": float(c.get("cc", 50.0)),
                "voice_accountability_pct": float(c.get("va", 50.0)),
                "migration_pct": float(c.get("mig", 5.0)),
                "eligible": True,
                "reasons": "",
            }
        )
    frame = pd.DataFrame(rows).set_index("iso3").sort_index()
    for sector in SECTORS:  # {"sectors": [...]}: goods of those sectors on the DOL list
        frame[f"sector_{sector}"] = [sector in countries[i].get("sectors", ()) for i in frame.index]
    return frame


def component(
    pillar: str = "protection",
    channel: str = "civil_society",
    metric: str = "m",
    cost: float = 1000.0,
    saturation: float = 0.01,
    context: str = "none",
    elasticity: float = 0.0,
    tags: tuple[str, ...] = (),
    sector: str = "none",
) -> dict[str, Any]:
    return {
        "label": "test component",
        "description": "synthetic",
        "pillar": pillar,
        "channel": channel,
        "target": "all",
        "sector": sector,
        "tags": list(tags),
        "metric": metric,
        "unit_cost_usd": {"low": cost, "mode": cost, "high": cost},
        "cost_basis_year": 2013,
        "cost_source": "assumption: synthetic test value",
        "evidence": "D",
        "saturation": {"low": saturation, "mode": saturation, "high": saturation},
        "saturation_source": "assumption: synthetic",
        "context": context,
        "elasticity": {"low": elasticity, "mode": elasticity, "high": elasticity},
        "elasticity_source": "assumption: synthetic",
    }


def catalogue(
    components: dict[str, dict[str, Any]],
    metrics: dict[str, float] | None = None,
    once: tuple[str, ...] = (),
) -> Catalogue:
    """A Catalogue from component dicts (see ``component``); metrics {key: weight}, default {"m": 1};
    metrics in ``once`` are counted once (stocks)."""
    metrics = metrics or {"m": 1.0}
    # Validate each part; skip only the catalogue-wide rule that an M&E component must exist,
    # so hand-solvable instances can be as small as one component.
    return Catalogue.model_construct(
        name="test",
        version="0",
        description="synthetic",
        context=ContextBounds(phi_min=0.25, phi_max=2.0, note="assumption: synthetic"),
        metrics={
            k: Metric(
                label=k,
                unit="persons",
                description="synthetic",
                weight={"low": w, "mode": w, "high": w},
                weight_source="assumption: synthetic",
                counted="once" if k in once else "per_year",
            )
            for k, w in metrics.items()
        },
        components={k: Component.model_validate(c) for k, c in components.items()},
    )


def scenario(**sections: dict[str, Any]) -> Scenario:
    """A Scenario with permissive defaults (no rules on) overridden by ``sections``."""
    base: dict[str, dict[str, Any]] = {
        "budget": {
            "total_usd": 10e6,
            "horizon_years": 3,
            "annual_cap_usd": None,
            "discount_rate": 0.0,
        },
        "selection": {
            "min_countries": 0,
            "max_countries": 50,
            "min_compact_usd": 0,
            "max_compact_usd": 1e12,
            "region_max": {},
            "absorptive_cap_usd": None,
        },
        "policy": {
            "pillar_floor_share": {},
            "earmark_share": {},
            "government_cap_share": None,
            "me_floor_share": 0.0,
            "ramp_up": None,
        },
        "objective": {"segments": 8, "readiness_strength": 0.0, "scale_exponent": 1.0},
        "tipping": {"durable_years": 0},
        "solver": {"mip_gap": 1e-9},
    }
    for name, values in sections.items():
        base[name] = {**base.get(name, {}), **values}
    return Scenario.model_validate({"name": "test", **base})


@dataclass
class World:
    scenario: Scenario
    view: pd.DataFrame
    catalogue: Catalogue
    countries: list[str] = field(default_factory=list)

    def prepare(self) -> Prepared:
        countries = self.countries or list(self.view.index)
        curves = build_curves(self.view, countries, self.catalogue, self.scenario.objective)
        model = build_model(
            model_inputs(self.scenario, self.view, countries, curves, self.catalogue)
        )
        from optimizer.screening import Screen

        return Prepared(
            scenario=self.scenario,
            screen=Screen(reference_year=2013, frame=self.view),
            catalogue=self.catalogue,
            curves=curves,
            countries=countries,
            model=model,
            build_seconds=0.0,
            inputs=[],
        )

    def solve(self, solver: str = "highs") -> tuple[Prepared, Solution]:
        prep = self.prepare()
        return prep, solve(prep.model, self.scenario.solver, solver)

    def result(self, solver: str = "highs") -> Result:
        prep, info = self.solve(solver)
        return collect(prep, info)


# ---------------------------------------------------------------------------- random rule sets

PILLARS = ("prevention", "prosecution", "protection", "partnership")
RULE_TAGS = ("child_protection", "labor", "me_data")


def random_instance(
    rng: np.random.Generator,
    max_countries: int = 6,
    max_components: int = 4,
    horizon: int = 3,
    rule_probability: float = 0.4,
    focus_rules: bool = False,
) -> World:
    """A random small world with every kind of rule switched on at random (oracle and properties).

    Money rules are sized against the world's own curves (their useful spend ``x_max``), so most
    instances are feasible and most rules can bind. Earmarks, pillar floors and the M&E floor only
    name tags and pillars some component carries (as ``diagnose.precheck`` demands).
    With ``focus_rules`` the focus-country mechanisms (readiness, sub-linear saturation, absorptive
    cap, component floors, aftercare link, once-counted metric, tipping point) are switched on at
    random too, from draws made after all the others (so the other rules are the same), and the
    tipping point only in worlds of at most four countries (the oracle enumerates 3^n sets).
    """
    n = int(rng.integers(2, max_countries + 1))
    k = int(rng.integers(1, max_components + 1))
    isos = [f"C{chr(65 + i)}{chr(90 - i)}" for i in range(n)]
    countries = {
        iso: {
            "people": float(rng.integers(5_000, 500_000)),
            "region": str(rng.choice(["AF", "EAP", "WHA"])),
            "rl": float(rng.uniform(5, 95)),
            "cc": float(rng.uniform(5, 95)),
            "va": float(rng.uniform(5, 95)),
            "mig": float(rng.uniform(0.5, 30)),
        }
        for iso in isos
    }
    comps = {
        f"k{j}": component(
            pillar=str(rng.choice(PILLARS)),
            channel=str(rng.choice(["government", "civil_society"])),
            metric=str(rng.choice(["m", "n"])),
            cost=float(rng.uniform(200, 5000)),
            saturation=float(rng.uniform(0.002, 0.05)),
            context=str(rng.choice(["none", "governance", "voice", "migration"])),
            elasticity=float(rng.uniform(0, 1)),
            tags=tuple(t for t in RULE_TAGS if rng.random() < 0.35),
        )
        for j in range(k)
    }
    cat = catalogue(comps, {"m": 1.0, "n": float(rng.uniform(0.2, 3.0))})
    v = view(countries)
    segments = int(rng.integers(2, 7))
    probe = scenario(objective={"segments": segments})
    curves = build_curves(v, isos, cat, probe.objective)
    per_country = curves.params["x_max"].groupby(level=0).sum().to_numpy() * horizon
    capacity = float(per_country.sum())

    def on() -> bool:
        return bool(rng.random() < rule_probability)

    budget: dict[str, Any] = {
        "total_usd": round(float(rng.uniform(0.05, 0.9)) * capacity),
        "horizon_years": horizon,
        "discount_rate": float(rng.uniform(0, 0.1)) if on() else 0.0,
    }
    if on():
        budget["annual_cap_usd"] = round(budget["total_usd"] * float(rng.uniform(0.2, 0.6)))
    selection: dict[str, Any] = {"min_countries": 0, "max_countries": 50}
    if on():
        selection["max_countries"] = int(rng.integers(1, n + 1))
    if on():
        selection["min_countries"] = int(rng.integers(0, min(2, selection["max_countries"]) + 1))
    typical = float(np.median(per_country))
    if on():
        selection["min_compact_usd"] = round(typical * float(rng.uniform(0.05, 0.6)))
    if on():
        low = selection.get("min_compact_usd", 0)
        selection["max_compact_usd"] = round(max(low, typical * float(rng.uniform(0.1, 1.0))))
    if on():
        selection["region_max"] = {str(rng.choice(["AF", "EAP", "WHA"])): int(rng.integers(0, 3))}
    if rng.random() < 0.15:
        selection["lock_in"] = [isos[int(rng.integers(n))]]
    if rng.random() < 0.15:
        out = isos[int(rng.integers(n))]
        if out not in selection.get("lock_in", []):
            selection["lock_out"] = [out]
    pillars = sorted({c["pillar"] for c in comps.values()})
    tags = sorted({t for c in comps.values() for t in c["tags"]})
    policy: dict[str, Any] = {}
    if on():
        chosen = [p for p in pillars if rng.random() < 0.6]
        policy["pillar_floor_share"] = {
            p: float(rng.uniform(0.05, 0.6 / len(pillars))) for p in chosen
        }
    if on():
        policy["earmark_share"] = {
            t: float(rng.uniform(0.05, 0.45)) for t in tags if t != "me_data" and rng.random() < 0.7
        }
    if on():
        policy["government_cap_share"] = float(rng.uniform(0.1, 0.9))
        policy["weak_corruption_pct"] = float(rng.uniform(20, 70))
    if "me_data" in tags and on():
        policy["me_floor_share"] = float(rng.uniform(0.05, 0.35))
    if on():
        policy["ramp_up"] = float(rng.uniform(0, 1.0))
    if on() and "ramp_down" in PolicySection.model_fields:
        policy["ramp_down"] = float(rng.uniform(0, 0.6))
    objective: dict[str, Any] = {"segments": segments}
    if rng.random() < 0.2:
        objective["tipping_bonus"] = float(rng.uniform(0, 50))
    tipping: dict[str, Any] = {}
    if focus_rules:
        v["readiness"] = rng.uniform(10, 90, size=len(v))
        if on():
            objective["readiness_strength"] = float(rng.uniform(0.5, 2.0))
        if on():
            objective["scale_exponent"] = float(rng.uniform(0.3, 1.0))
        if on():
            selection["absorptive_cap_usd"] = round(
                typical / horizon * float(rng.uniform(0.2, 1.2))
            )
        if on():
            key = f"k{int(rng.integers(k))}"
            policy["component_floor_share"] = {key: float(rng.uniform(0.05, 0.3))}
        if on():
            policy["aftercare_share"] = float(rng.uniform(0.1, 0.8))
        # a once-counted metric's spend can sit in any segment once its stock is full, so the
        # aftercare link (outcome units) is tested on per-year metrics only
        once = ("victims_identified",) if "aftercare_share" not in policy and on() else ()
        names = {"m": "victims_assisted", "n": "victims_identified"}
        for c in comps.values():
            c["metric"] = names[c["metric"]]
        cat = catalogue(comps, {"victims_assisted": 1.0, "victims_identified": 0.7}, once)
        if n <= 4 and rng.random() < 0.6:
            tipping = {
                "threshold_usd_per_person": float(rng.uniform(0, 30)),
                "pillar_years": int(rng.integers(0, horizon + 1)),
                "pillar_min_usd": round(typical / horizon * float(rng.uniform(0, 0.1))),
                "durable_share": float(rng.uniform(0.1, 0.9)),
                "durable_years": int(rng.integers(1, 6)),
                "decay": float(rng.uniform(0, 0.5)),
            }
    if focus_rules and on():
        tipping["systems_dividend"] = float(rng.uniform(5, 200))
        tipping["systems_dividend_cap"] = float(rng.uniform(0.05, 0.5))
        tipping["systems_components"] = [f"k{int(rng.integers(k))}"]
    sections: dict[str, Any] = {"tipping": tipping} if tipping else {}
    sc = scenario(
        budget=budget, selection=selection, policy=policy, objective=objective, **sections
    )
    return World(scenario=sc, view=v, catalogue=cat)
