from __future__ import annotations

from collections.abc import Iterator

import pytest

from wayfare.gateway.testing import GatewayStack

CONFIG = """
models:
  - {{name: strong, model: up-strong, base_url: {url}, input_price: 10, output_price: 30}}
  - {{name: weak, model: up-weak, base_url: {url}, input_price: 0.5, output_price: 1.5}}
  - {{name: primary, model: up-primary, base_url: {url}, timeout: 0.5, input_price: 1, output_price: 2}}
  - {{name: backup, model: up-backup, base_url: {url}, input_price: 1, output_price: 2}}
routes:
  - {{name: auto, router: random, strong: strong, weak: weak, threshold: 0.5}}
  - {{name: pinned, router: weak, strong: strong, weak: weak, pin_tools: strong, pin_images: strong}}
  - {{name: broken, router: no-such-router-xyz, strong: strong, weak: weak}}
fallbacks:
  primary: [backup]
retry:
  max_retries: 1
  backoff_base: 0.01
  max_retry_after: 1
  deadline: 10
  cooldown_failures: 1000
database_url: none
"""


@pytest.fixture(scope="module")
def stack() -> Iterator[GatewayStack]:
    with GatewayStack(CONFIG, retry_after_ms=30, hang_s=2) as s:
        yield s
