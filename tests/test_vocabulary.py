"""The project's words are defined once (optimizer/vocabulary.py) and its paths once
(optimizer/paths.py): schemas, tables, screening and reports use them, none lists them again."""

from __future__ import annotations

import re
import typing
from pathlib import Path

import pytest

from optimizer import importers, paths, vocabulary
from optimizer.catalogue import VOCABULARIES
from optimizer.report.charts import PILLAR_COLOURS
from optimizer.scenario import PolicySection, Scenario, StreamSection
from optimizer.tables import TABLES

PACKAGE = Path(vocabulary.__file__).parent

# Three words of a vocabulary side by side in a literal (both, for a pair): a list written again.
# (A default such as tiers = ["2", "2WL"] is a choice among the words, not the vocabulary.)
RELISTED = [
    re.escape(", ".join(f'"{w}"' for w in words[i : i + 3]))
    for words in (
        vocabulary.PILLARS,
        vocabulary.REGIONS,
        vocabulary.TIERS,
        vocabulary.MISSION_TYPES,
        vocabulary.TAGS,
        vocabulary.EARMARK_TAGS,
        vocabulary.CHANNELS,
        vocabulary.TARGETS,
        vocabulary.SECTORS,
    )
    for i in range(max(1, len(words) - 2))
]


@pytest.mark.parametrize(
    "source",
    sorted(p for p in PACKAGE.rglob("*.py") if p.name != "vocabulary.py"),
    ids=lambda p: p.relative_to(PACKAGE).as_posix(),
)
def test_no_module_lists_a_vocabulary_again(source):
    text = source.read_text(encoding="utf-8")
    found = [pattern for pattern in RELISTED if re.search(pattern, text)]
    assert not found, (
        f"{source.name} lists vocabulary words again: {found}; import optimizer.vocabulary"
    )


def test_schemas_and_tables_take_their_words_from_the_vocabulary():
    region_max = Scenario.model_fields["selection"].annotation.model_fields["region_max"]
    assert typing.get_args(typing.get_args(region_max.annotation)[0]) == vocabulary.REGIONS
    earmarks = PolicySection.model_fields["earmark_share"].annotation
    assert typing.get_args(typing.get_args(earmarks)[0]) == vocabulary.EARMARK_TAGS
    tags = StreamSection.model_fields["tags"].annotation
    assert typing.get_args(typing.get_args(tags)[0]) == vocabulary.TAGS
    assert VOCABULARIES["pillar"] == vocabulary.PILLARS
    assert VOCABULARIES["channel"] == vocabulary.CHANNELS
    assert TABLES["countries"].allowed["region"] == vocabulary.REGIONS
    assert TABLES["tip_tiers"].allowed["tier"] == vocabulary.TIERS
    assert TABLES["missions"].allowed["mission_type"] == vocabulary.MISSION_TYPES


def test_every_word_has_its_label_and_colour():
    assert set(vocabulary.TIER_LABEL) == set(vocabulary.TIERS)
    assert set(vocabulary.MISSION_LABEL) == set(vocabulary.MISSION_TYPES)
    assert set(vocabulary.MISSION_SHORT) == set(vocabulary.MISSION_TYPES)
    assert tuple(PILLAR_COLOURS) == vocabulary.PILLARS
    # the importers translate the publishers' words into these words and no others
    assert set(importers.TIER_LABELS.values()) <= set(vocabulary.TIERS)
    assert set(importers.MISSION_TYPES.values()) <= set(vocabulary.MISSION_TYPES)


def test_project_paths_are_the_bundled_files():
    assert (paths.PROJECT_DIR / "pyproject.toml").is_file()
    assert paths.DEFAULT_SCENARIO.is_file() and paths.DEFAULT_CATALOGUE.is_file()
    assert (paths.DATA_DIR / "countries.csv").is_file()
