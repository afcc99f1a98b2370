"""``wayfare serve`` (the gateway) and ``wayfare mock-upstream`` (the mock LLM server for tests and benchmarks)."""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import typer
import uvicorn
from rich.console import Console
from rich.markup import escape

from wayfare.gateway.config import ConfigError, GatewayConfig, load_config, quickstart_config

_ENV_CONFIG = "WAYFARE_GATEWAY_CONFIG_JSON"
console = Console(stderr=True)


def _fail(message: str) -> typer.Exit:
    console.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True, highlight=False)
    return typer.Exit(code=2)


def per_worker_counts(cfg: GatewayConfig, workers: int, master_key: str | None) -> str | None:
    """What ``--workers N`` without ``redis_url`` would count in each worker on its own (so up to N times the
    configured limit), as one warning line; None when nothing would (one worker, Redis, or no limits)."""
    if workers <= 1 or cfg.redis_url:
        return None
    gov = cfg.governance
    counted = []
    if gov.model_limits:
        counted.append("model rate limits (governance.model_limits)")
    if gov.teams:
        counted.append("team budgets")
    if master_key:
        counted.append("virtual keys' rate limits and budgets")
    if any(m.rpm is not None or m.tpm is not None for m in cfg.models):
        counted.append("deployment quotas (rpm/tpm)")
    if not counted:
        return None
    return (
        f"--workers {workers} without redis_url: {', '.join(counted)} are counted by each worker on its own, so up "
        f"to {workers}x the configured limits are let through; set redis_url (docs/DEPLOY.md) or use --workers 1"
    )


def app_from_env() -> object:
    """uvicorn factory for ``--workers N``: each worker rebuilds the app from the validated config in the env."""
    from wayfare.gateway.app import create_app

    return create_app(GatewayConfig.model_validate(orjson.loads(os.environ[_ENV_CONFIG])))


def serve_command(
    config: Path | None = typer.Option(None, "--config", "-c", help="Gateway config (YAML)."),
    base_url: str | None = typer.Option(None, help="Quick start: one OpenAI-compatible upstream base URL (…/v1)."),
    api_key: str | None = typer.Option(None, help="Quick start: upstream API key (or os.environ/NAME)."),
    strong_model: str | None = typer.Option(None, help="Quick start: the strong (expensive) model."),
    weak_model: str | None = typer.Option(None, help="Quick start: the weak (cheap) model."),
    threshold: float | None = typer.Option(
        None,
        min=0.0,
        max=1.0,
        help="Quick start: route `auto`'s threshold (default: the router's calibrated 50%-strong threshold, "
        "0.5 if it has none).",
    ),
    router: str = typer.Option("default", help="Quick start: router of route `auto`."),
    database_url: str | None = typer.Option(
        None,
        help="Request log: sqlite:///path or postgresql://… (quick start default sqlite:///wayfare.db; none = off).",
    ),
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    workers: int = typer.Option(1, min=1, help="Worker processes."),
    log_level: str = typer.Option("warning", help="uvicorn log level."),
) -> None:
    """Serve the OpenAI-compatible gateway from --config, or the quick start (--base-url, --strong-model, ...)."""
    quick = [base_url, strong_model, weak_model]
    try:
        if config is not None:
            if any(v is not None for v in quick):
                raise _fail("use either --config or the quick-start flags (--base-url/--strong-model/--weak-model)")
            cfg = load_config(config)
            if database_url is not None:
                cfg = cfg.model_copy(update={"database_url": database_url})
        elif all(v is not None for v in quick):
            if threshold is None:
                threshold, why = calibrated_threshold(router)
                console.print(
                    f"route auto: threshold {threshold:g} ({why}; set --threshold to change)", highlight=False
                )
            cfg = quickstart_config(
                str(base_url), str(strong_model), str(weak_model), api_key=api_key, threshold=threshold,
                router=router, database_url=database_url or "sqlite:///wayfare.db",
            )  # fmt: skip
        else:
            raise _fail("give --config FILE, or all of --base-url, --strong-model and --weak-model")
        for m in cfg.models:
            m.resolved_api_key()
    except ConfigError as exc:
        raise _fail(str(exc).replace("\n", "; ")) from None
    except ValueError as exc:  # pydantic errors from the quick-start flags
        raise _fail(str(exc).splitlines()[0] if str(exc) else repr(exc)) from None
    routes = ", ".join(r.name for r in cfg.routes) or "none"
    names = dict.fromkeys(m.name for m in cfg.models)
    models = ", ".join(
        n if len(cfg.deployments(n)) == 1 else f"{n} ({len(cfg.deployments(n))} deployments)" for n in names
    )
    banner = (
        f"wayfare gateway on http://{host}:{port}/v1  models: {models}  routes: {routes}"
        f"  log: {cfg.database_url or 'sqlite:///wayfare.db'}"
    )
    kwargs: dict[str, object] = {"host": host, "port": port, "log_level": log_level, "access_log": False}
    if workers > 1:
        console.print(banner, highlight=False)
        warning = per_worker_counts(cfg, workers, os.environ.get("WAYFARE_MASTER_KEY"))
        if warning is not None:
            console.print(f"[yellow]warning:[/yellow] {escape(warning)}", soft_wrap=True, highlight=False)
        os.environ[_ENV_CONFIG] = cfg.model_dump_json()
        uvicorn.run("wayfare.gateway.cli:app_from_env", factory=True, workers=workers, **kwargs)  # type: ignore[arg-type]
        return
    from wayfare.gateway.app import create_app

    try:
        app = create_app(cfg)
    except Exception as exc:  # e.g. the store cannot be opened, a provider's credentials cannot be loaded
        raise _fail(f"{type(exc).__name__}: {exc}") from None
    console.print(banner, highlight=False)
    uvicorn.run(app, **kwargs)  # type: ignore[arg-type]


def calibrated_threshold(router: str) -> tuple[float, str]:
    """The threshold stored in a router artifact's calibration (``wayfare calibrate`` / ``make train-default``) and
    where it came from; 0.5 when the artifact has none or cannot be read (loading the router reports that)."""
    from wayfare.routers.artifact import read_meta
    from wayfare.routers.registry import SHIPPED, shipped_router_path

    if router in ("strong", "weak", "random"):
        return 0.5, f"router {router} has no calibration"
    try:
        cal = read_meta(shipped_router_path(router) if router in SHIPPED else router).get("calibration") or {}
        value = float(cal["threshold"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0.5, f"router {router} has no calibrated threshold"
    share = cal.get("strong_share")
    where = cal.get("measured_on", "a prompt sample")
    return value, f"calibrated: {share:.0%} strong on {where}" if isinstance(share, float) else f"calibrated on {where}"


def mock_upstream_command(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(9100, help="Port to listen on."),
    latency_ms: float = typer.Option(0.0, min=0.0, help="Delay before each response starts."),
    chunk_delay_ms: float = typer.Option(0.0, min=0.0, help="Delay between streamed chunks."),
    retry_after_ms: float = typer.Option(50.0, min=0.0, help="What an injected 429 asks the client to wait."),
    hang_s: float = typer.Option(30.0, min=0.0, help="How long an injected timeout stalls."),
    azure_api_key: str | None = typer.Option(None, help="Azure dialect: the key it requires (api-key or Bearer)."),
    gemini_api_key: str | None = typer.Option(None, help="Gemini API dialect: the key it requires."),
    google_public_key: list[str] = typer.Option(
        [], help="Vertex AI dialect: KEY_ID=PEM_FILE, a service account's public key its /token endpoint trusts."
    ),
    bedrock_credentials: str | None = typer.Option(
        None, help="Bedrock dialect: ACCESS_KEY_ID:SECRET_ACCESS_KEY whose SigV4 signatures it accepts."
    ),
) -> None:
    """Serve the mock upstream: OpenAI-compatible, Anthropic Messages, Azure OpenAI, Gemini / Vertex AI and Bedrock
    Converse dialects (faults via POST /_mock/faults)."""
    from wayfare.mockllm.server import MockApp

    keys: dict[str, str] = {}
    for item in google_public_key:
        kid, sep, path = item.partition("=")
        if not sep or not kid or not path:
            raise _fail(f"--google-public-key must be KEY_ID=PEM_FILE, got {item!r}")
        try:
            keys[kid] = Path(path).read_text()
        except OSError as exc:
            raise _fail(f"--google-public-key {kid}: cannot read {path}: {exc.strerror}") from None
    aws: tuple[str, str] | None = None
    if bedrock_credentials is not None:
        key_id, sep, secret = bedrock_credentials.partition(":")
        if not sep or not key_id or not secret:
            raise _fail("--bedrock-credentials must be ACCESS_KEY_ID:SECRET_ACCESS_KEY")
        aws = (key_id, secret)
    app = MockApp(latency_ms=latency_ms, chunk_delay_ms=chunk_delay_ms, retry_after_ms=retry_after_ms, hang_s=hang_s,
                  azure_api_key=azure_api_key, gemini_api_key=gemini_api_key, google_public_keys=keys or None,
                  bedrock_credentials=aws)  # fmt: skip
    console.print(f"mock upstream on http://{host}:{port}/v1", highlight=False)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
