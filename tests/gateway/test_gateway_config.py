from __future__ import annotations

from pathlib import Path

import pytest

from wayfare.gateway.config import ConfigError, load_config, parse_config, quickstart_config

GOOD = """\
models:
  - name: big
    base_url: http://127.0.0.1:9/v1
    api_key: os.environ/WAYFARE_TEST_KEY
  - name: small
    provider: anthropic
    model: claude-x
    base_url: https://api.example.invalid/v1
routes:
  - name: auto
    strong: big
    weak: small
fallbacks:
  big: [small]
"""


def test_valid_config_and_env_key(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = parse_config(GOOD)
    assert [m.name for m in cfg.models] == ["big", "small"]
    assert cfg.model("small").upstream_model == "claude-x" and cfg.model("big").upstream_model == "big"
    monkeypatch.setenv("WAYFARE_TEST_KEY", "sk-from-env")
    assert cfg.model("big").resolved_api_key() == "sk-from-env"
    monkeypatch.delenv("WAYFARE_TEST_KEY")
    with pytest.raises(ConfigError, match="WAYFARE_TEST_KEY"):
        cfg.model("big").resolved_api_key()


def test_errors_name_line_and_field() -> None:
    bad = GOOD.replace("    base_url: http://127.0.0.1:9/v1", "    base_url: ftp://nope").replace(
        "    strong: big", "    strong: big\n    threshold: 3"
    )
    with pytest.raises(ConfigError) as info:
        parse_config(bad, "wayfare.yaml")
    lines = str(info.value).splitlines()
    assert "wayfare.yaml:3: models.0.base_url: Value error, must start with http:// or https://" in lines[0]
    assert lines[1].startswith("wayfare.yaml:12: routes.0.threshold:")


def test_unknown_field_and_bad_reference() -> None:
    with pytest.raises(ConfigError, match=r"<config>:4: models\.0\.prise: Extra inputs are not permitted"):
        parse_config("models:\n  - name: a\n    base_url: http://x\n    prise: 3\n")
    with pytest.raises(ConfigError, match="fallbacks: 'ghost' is not a configured model"):
        parse_config(GOOD.replace("big: [small]", "big: [ghost]"))
    with pytest.raises(ConfigError, match=r"<config>:3: invalid YAML"):
        parse_config("models:\n  - [unclosed\n")


def test_load_config_file(tmp_path: Path) -> None:
    path = tmp_path / "w.yaml"
    path.write_text(GOOD)
    assert load_config(path).routes[0].name == "auto"
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "missing.yaml")


def test_quickstart_config() -> None:
    cfg = quickstart_config("http://127.0.0.1:1/v1", "gpt-big", "gpt-small", api_key="k", threshold=0.3)
    assert [m.name for m in cfg.models] == ["gpt-big", "gpt-small"]
    assert cfg.routes[0].name == "auto" and cfg.routes[0].threshold == 0.3 and cfg.routes[0].router == "default"
