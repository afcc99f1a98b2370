"""A real LiteLLM proxy, installed from PyPI into its own cached venv (never into Wayfare's), with Wayfare on top."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import platformdirs
import pytest

LITELLM_VERSION = "1.108.7"
REPO = Path(__file__).resolve().parents[2]


def litellm_venv() -> Path:
    """``<user cache>/wayfare/litellm-<version>``: LiteLLM's proxy and Wayfare's dependencies, installed once
    (with an editable Wayfare of the checkout that built it; the proxy is started with this checkout's ``src`` on
    PYTHONPATH, so that checkout may be gone)."""
    venv = Path(os.environ.get("WAYFARE_LITELLM_VENV") or
                Path(platformdirs.user_cache_dir("wayfare")) / f"litellm-{LITELLM_VERSION}")  # fmt: skip
    marker = venv / ".wayfare-ready"
    if marker.exists():
        return venv
    pip = venv / "bin" / "pip"
    try:
        if not (venv / "bin" / "python").exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, text=True)
        subprocess.run([str(pip), "install", "-q", f"litellm[proxy]=={LITELLM_VERSION}", "-e", str(REPO)],
                       check=True, capture_output=True, text=True, timeout=1800)  # fmt: skip
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        pytest.skip(f"cannot install litellm[proxy]=={LITELLM_VERSION} into {venv}: {str(detail).strip()[-300:]}")
    marker.write_text(LITELLM_VERSION)
    return venv


@pytest.fixture(scope="session")
def litellm_bin() -> Path:
    return litellm_venv() / "bin" / "litellm"
