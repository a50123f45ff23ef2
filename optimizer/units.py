"""The model's money unit, shared by every module that builds rows (no imports, so no cycles)."""

UNIT = 1e6  # model money unit: US$ million
