"""Reports: read plain-data results and screens, never solve."""
