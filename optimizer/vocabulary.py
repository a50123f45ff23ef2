"""The project's words, defined once: pillars, channels, regions, tiers, mission types, tags,
sectors, and the words shown for them. Scenario and catalogue schemas, the data tables'
layouts, screening and the reports import them from here (``Literal[PILLARS]`` for a schema).
"""

from __future__ import annotations

from typing import Literal

# The 3P+1 paradigm of the TIP Report: every catalogue component belongs to one pillar.
PILLARS = ("prevention", "prosecution", "protection", "partnership")
# Who receives the money: the host government or civil society organisations.
GOVERNMENT = "government"  # the channel a government-channel cap limits
CHANNELS = (GOVERNMENT, "civil_society")
# State Department regional bureaus (data/countries.csv, selection.region_max).
REGIONS = ("AF", "EAP", "EUR", "NEA", "SCA", "WHA")

# TIP Report tiers as data/tip_tiers.csv writes them, and as a reader sees them.
TIERS = ("1", "2", "2WL", "3", "special_case", "not_rated")
TIER_LABEL = {
    "1": "Tier 1",
    "2": "Tier 2",
    "2WL": "Tier 2 Watch List",
    "3": "Tier 3",
    "special_case": "Special Case",
    "not_rated": "not rated",
}

# USAID presence (data/usaid_missions.csv), in words and in a five-letter column.
MISSION_TYPES = ("bilateral", "regional_mission", "regional_program", "none_known")
MISSION_LABEL = {
    "bilateral": "bilateral mission",
    "regional_mission": "covered by a regional mission",
    "regional_program": "covered by a regional program",
    "none_known": "no mission known",
}
MISSION_SHORT = {
    "bilateral": "bilat",
    "regional_mission": "region",
    "regional_program": "progr",
    "none_known": "none",
}

# Component tags: portfolio earmarks name the first three; M&E components carry ME_TAG.
ME_TAG = "me_data"
EARMARK_TAGS = ("child_protection", "labor", "migrants")
TAGS = ("child_protection", "labor", ME_TAG, "migrants")
# Whom a component reaches.
TARGETS = ("children", "labor", "sex", "migrants", "all")
# Economic sectors of the goods on the DOL List of Goods (data/dol_good_sectors.csv maps each good
# to one); catalogue components name the same words (or "none") in their ``sector``.
SECTORS = (
    "agriculture",
    "sugar",
    "seafood",
    "forestry",
    "mining",
    "bricks",
    "garments",
    "manufacturing",
    "sexual_exploitation",
)

Pillar = Literal[PILLARS]
Channel = Literal[CHANNELS]
Region = Literal[REGIONS]
Tier = Literal[TIERS]
MissionType = Literal[MISSION_TYPES]
Tag = Literal[TAGS]
EarmarkTag = Literal[EARMARK_TAGS]
Target = Literal[TARGETS]
