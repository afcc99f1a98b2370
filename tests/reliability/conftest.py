"""Helpers of the reliability suites: load a bench/ script as a module (the tests run the short version of it)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load_bench(name: str) -> ModuleType:
    """``bench/<name>.py`` imported as module ``wayfare_bench_<name>`` (once)."""
    modname = f"wayfare_bench_{name}"
    if modname in sys.modules:
        return sys.modules[modname]
    spec = importlib.util.spec_from_file_location(modname, ROOT / "bench" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[modname] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def chaos() -> ModuleType:
    """bench/chaos.py"""
    return load_bench("chaos")


@pytest.fixture(scope="session")
def soak() -> ModuleType:
    """bench/soak.py"""
    return load_bench("soak")
