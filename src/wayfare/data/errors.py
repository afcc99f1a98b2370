"""Errors raised by the loaders."""

from __future__ import annotations


class DataFormatError(ValueError):
    """A results file is missing or not in the expected format; the message names the file (and line)."""
