"""Uncertainty: draws of the impact model's ranges, Monte Carlo, robust allocation, sensitivity."""
