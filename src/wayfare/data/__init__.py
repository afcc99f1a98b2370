"""Results tables (prompts x models -> score) and the loaders that read public benchmark formats into them."""

from wayfare.data.table import ResultsTable

__all__ = ["ResultsTable"]
