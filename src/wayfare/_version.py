"""The package version: one place, read by ``pyproject.toml`` and by every module that records it (artifacts,
reports, traces), so that no module has to import the ``wayfare`` package root (which re-exports the SDK)."""

__version__ = "0.1.0"
