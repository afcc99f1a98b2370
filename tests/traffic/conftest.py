"""Fixtures of the traffic tests: RouteLLM's GSM8K answers replayed by a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import csv
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from wayfare.mockllm.runner import ThreadedServer
from wayfare.traffic.replay import replay_app, routellm_answers

SHARED = Path(os.environ.get("WAYFARE_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))
GSM8K_CSV = SHARED / "routellm" / "gsm8k" / "gsm8k_responses.csv"


@pytest.fixture(scope="session")
def gsm8k_csv() -> Path:
    if not GSM8K_CSV.is_file():
        pytest.skip(f"RouteLLM GSM8K responses not found at {GSM8K_CSV}")
    return GSM8K_CSV


@pytest.fixture(scope="session")
def gsm8k_rows(gsm8k_csv: Path) -> list[dict[str, str]]:
    csv.field_size_limit(sys.maxsize)
    with open(gsm8k_csv, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="session")
def gsm8k_replay(gsm8k_csv: Path) -> Iterator[ThreadedServer]:
    with ThreadedServer(replay_app(routellm_answers(gsm8k_csv))) as srv:
        yield srv
