"""Gateway configuration: YAML validated by pydantic, with errors that name the file, line and field."""

from __future__ import annotations

import os
import re
from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from wayfare.gateway.route_settings import QualityConfig, ShadowConfig
from wayfare.governance.config import GovernanceConfig
from wayfare.observability.config import ObservabilityConfig

_ENV_REF = re.compile(r"^os\.environ/([A-Za-z_][A-Za-z0-9_]*)$")
_AWS_FIELDS = ("aws_access_key_id", "aws_secret_access_key", "aws_session_token", "aws_profile_name", "aws_region_name")


class ConfigError(ValueError):
    """An invalid configuration; the message is one line per problem, each naming where it is."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelConfig(_Strict):
    """One deployment of a model the gateway serves. Several entries with the same ``name`` are several deployments
    of one logical model (two regions, two keys, three replicas): :mod:`wayfare.gateway.deployments` picks one."""

    name: str = Field(min_length=1)
    provider: Literal["openai", "anthropic", "azure", "bedrock", "gemini", "vertex"] = "openai"
    model: str | None = None
    """Name at the upstream (defaults to ``name``)."""
    base_url: str | None = None
    """Required, except for ``gemini`` / ``vertex`` (Google's endpoints) and ``bedrock``
    (``https://bedrock-runtime.{region}.amazonaws.com``)."""
    api_key: str | None = None
    """``os.environ/NAME`` reads the key from the environment at startup; never taken from requests."""
    input_price: float | None = Field(default=None, ge=0)
    """USD per 1M input tokens (wins over the bundled price table)."""
    output_price: float | None = Field(default=None, ge=0)
    context_window: int | None = Field(default=None, gt=0)
    timeout: float = Field(default=600.0, gt=0)
    """Seconds without progress before an attempt counts as timed out."""
    api_version: str | None = None
    """Azure: the ``api-version`` query parameter (e.g. ``2024-10-21``); required for ``provider: azure``."""
    deployment: str | None = None
    """Azure: the deployment name in the URL (default: ``model``, else ``name``)."""
    auth: Literal["api-key", "bearer"] = "api-key"
    """Azure: send ``api_key`` as the ``api-key`` header, or as ``Authorization: Bearer`` (a Microsoft Entra ID
    token, e.g. ``os.environ/AZURE_OPENAI_AD_TOKEN``)."""
    id: str | None = Field(default=None, min_length=1)
    """The deployment's id in ``x-wayfare-deployment``, the log and /metrics (default: ``name`` for a model with one
    deployment, ``name#1``, ``name#2``... in config order for several)."""
    weight: float = Field(default=1.0, gt=0)
    """Share of requests under the ``weighted`` strategy, relative to the model's other deployments."""
    rpm: int | None = Field(default=None, gt=0)
    """Requests per minute this deployment may take (its quota); at the limit it is passed over until the minute
    ends, and the ``usage`` strategy prefers the deployment with the most room left."""
    tpm: int | None = Field(default=None, gt=0)
    """Tokens (input + output) per minute, like ``rpm``."""
    vertex_project: str | None = None
    """Vertex AI: the Google Cloud project (default: the credentials' project)."""
    vertex_location: str | None = None
    """Vertex AI: the region (default ``us-central1``; ``global`` too) of ``https://{location}-aiplatform...``."""
    vertex_credentials: str | None = None
    """Vertex AI: path of a service-account JSON file (default: Application Default Credentials)."""
    aws_access_key_id: str | None = None
    """Bedrock (LiteLLM's names): keys (each may be ``os.environ/NAME``), else the standard AWS credential chain."""
    aws_secret_access_key: str | None = None
    aws_session_token: str | None = None
    aws_profile_name: str | None = None
    aws_region_name: str | None = None

    @field_validator("api_version", mode="before")
    @classmethod
    def _version_text(cls, v: Any) -> Any:
        return v.isoformat() if isinstance(v, date) else v  # YAML reads an unquoted 2024-10-21 as a date

    @model_validator(mode="after")
    def _provider_settings(self) -> ModelConfig:
        if self.provider == "azure" and not self.api_version:
            raise ValueError("provider azure needs api_version (e.g. 2024-10-21)")
        if self.provider != "azure" and (self.api_version or self.deployment or self.auth != "api-key"):
            raise ValueError("api_version, deployment and auth apply to provider azure only")
        if not self.base_url and self.provider not in ("gemini", "vertex", "bedrock"):
            raise ValueError(
                f"provider {self.provider} needs base_url (only bedrock, gemini and vertex have a default)"
            )
        if self.provider != "vertex" and (self.vertex_project or self.vertex_location or self.vertex_credentials):
            raise ValueError("vertex_project, vertex_location and vertex_credentials apply to provider vertex only")
        aws = [f for f in _AWS_FIELDS if getattr(self, f) is not None]
        if aws and self.provider != "bedrock":
            raise ValueError(f"{', '.join(aws)} apply to provider bedrock only")
        if self.provider == "bedrock" and self.api_key is not None:
            raise ValueError(
                "provider bedrock signs with AWS credentials (aws_* settings or the AWS chain), not api_key"
            )
        if self.aws_profile_name and (self.aws_access_key_id or self.aws_secret_access_key):
            raise ValueError("give either aws_profile_name or aws_access_key_id/aws_secret_access_key, not both")
        return self

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, v: str | None) -> str | None:
        if v is None:
            return v
        if not v.startswith(("http://", "https://")):
            raise ValueError(f"must start with http:// or https://, got {v!r}")
        return v.rstrip("/")

    @property
    def upstream_model(self) -> str:
        return self.model or self.name

    def resolved_api_key(self) -> str | None:
        return self.resolved("api_key")

    def resolved(self, field: str) -> str | None:
        """The value of a secret setting (``api_key``, ``aws_*``), ``os.environ/NAME`` read from the environment."""
        raw: str | None = getattr(self, field)
        if raw is None:
            return None
        m = _ENV_REF.match(raw)
        if m is None:
            return raw
        value = os.environ.get(m.group(1))
        if value is None:
            raise ConfigError(f"model {self.name!r}: {field} names environment variable {m.group(1)} which is not set")
        return value

    def aws_settings(self) -> dict[str, str | None]:
        """Bedrock: the ``aws_*`` settings, resolved, by their names without the ``aws_`` prefix."""
        return {f.removeprefix("aws_"): self.resolved(f) for f in _AWS_FIELDS}


class RouteConfig(_Strict):
    """A routed model name. Pair route: a router scores each prompt and picks ``strong`` or ``weak``. N-model route
    (``models`` set): the router predicts each candidate's score and ``policy`` picks one."""

    name: str = Field(min_length=1)
    router: str = "default"
    """Router name for :func:`wayfare.routers.load_router`, or a baseline: ``random``, ``strong``, ``weak``."""
    strong: str
    """Pair: the strong model. N-model: default ``models[0]``; it answers whenever the router cannot decide."""
    weak: str
    """Pair: the weak model. N-model: default ``models[-1]``."""
    threshold: float = Field(default=0.5, ge=0, le=1)
    """Prompts whose score (P(strong needed)) is at least this go to ``strong``."""
    models: list[str] = []
    """N-model route: the candidate models (served names), at least two."""
    router_models: dict[str, str] = {}
    """N-model route: served name -> the router's name for that model (default: the same name)."""
    policy: dict[str, float] = {}
    """N-model route: ``{tolerance: t}`` (cheapest model predicted within t of the best) or ``{lam: l}`` (argmax of
    predicted score - l x price, price = mean of input and output USD per 1M tokens)."""
    context: Literal["last_user", "all_user", "conversation"] = "last_user"
    pin_tools: str | None = None
    """Requests with ``tools`` always go to this model (skipping the router)."""
    pin_images: str | None = None
    session_affinity: bool = True
    shadow: ShadowConfig | None = None
    """Pair route: also call the other model for a sample of requests, off the request path (docs/YOUR_TRAFFIC.md)."""
    quality: QualityConfig | None = None
    """Pair route: pick the threshold that keeps ``quality_target`` of the strong model's quality, certified on the
    route's labelled shadow pairs (docs/YOUR_TRAFFIC.md, Quality target); ``threshold`` is then not used."""

    @model_validator(mode="before")
    @classmethod
    def _n_model_defaults(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("models"), list) and data["models"]:
            data = {"strong": data["models"][0], "weak": data["models"][-1], **data}
        return data

    @model_validator(mode="after")
    def _n_model_route(self) -> RouteConfig:
        if not self.models:
            if self.policy or self.router_models:
                raise ValueError("policy and router_models apply to N-model routes only (set models)")
            if self.quality is not None and self.shadow is None:
                raise ValueError("quality needs evidence: add shadow: {sample: ...} to the route (labelled pairs)")
            return self
        if self.quality is not None:
            raise ValueError("quality applies to pair routes only (strong/weak, no models list)")
        if self.shadow is not None:
            raise ValueError("shadow applies to pair routes only (strong/weak, no models list)")
        if len(self.models) < 2 or len(set(self.models)) != len(self.models):
            raise ValueError("models must list at least two distinct models")
        if len(self.policy) != 1 or next(iter(self.policy)) not in ("tolerance", "lam"):
            raise ValueError("an N-model route needs policy: {tolerance: T} or {lam: L}")
        if next(iter(self.policy.values())) < 0:
            raise ValueError("policy value must be >= 0")
        unknown = sorted(set(self.router_models) - set(self.models))
        if unknown:
            raise ValueError(f"router_models names models that are not candidates: {', '.join(unknown)}")
        return self

    @property
    def candidates(self) -> list[str]:
        """The models this route chooses among (pair: weak, strong)."""
        return list(self.models) if self.models else [self.weak, self.strong]


class RetryConfig(_Strict):
    max_retries: int = Field(default=2, ge=0, le=10)
    """Extra attempts on the same deployment before falling back."""
    backoff_base: float = Field(default=0.2, ge=0)
    backoff_max: float = Field(default=8.0, ge=0)
    max_retry_after: float = Field(default=10.0, ge=0)
    """A Retry-After longer than this moves on to the fallback instead of waiting."""
    deadline: float = Field(default=120.0, gt=0)
    """Total seconds for all attempts and fallbacks of one request."""
    cooldown_failures: int = Field(default=3, ge=1)
    """Consecutive failed requests that put a deployment in cooldown."""
    cooldown_seconds: float = Field(default=30.0, ge=0)


Strategy = Literal["weighted", "least-busy", "latency", "usage"]


class LoadBalancingConfig(_Strict):
    """How a model with several deployments picks the one that answers (docs/GATEWAY.md, Deployments)."""

    strategy: Strategy = "weighted"
    """``weighted`` (random in proportion to ``weight``), ``least-busy`` (fewest requests in flight), ``latency``
    (lowest moving average of time to first byte; untried deployments first) or ``usage`` (most rpm/tpm room left,
    shared across replicas through ``redis_url``)."""
    models: dict[str, Strategy] = {}
    """Per-model strategy, overriding ``strategy``."""
    latency_alpha: float = Field(default=0.3, gt=0, le=1)
    """Weight of the newest sample in the ``latency`` moving average."""
    seed: int | None = None
    """Seed of the ``weighted`` choice (repeatable order, for tests and benchmarks)."""


class GatewayConfig(_Strict):
    models: list[ModelConfig] = Field(min_length=1)
    routes: list[RouteConfig] = []
    fallbacks: dict[str, list[str]] = {}
    retry: RetryConfig = RetryConfig()
    database_url: str | None = None
    """``sqlite:///path`` (default ``sqlite:///wayfare.db``) or a PostgreSQL URL; ``none`` disables the log."""
    price_table: str | None = None
    """Path of a JSON price table; default: the bundled one (config prices win over either)."""
    session_cache_size: int = Field(default=100_000, gt=0)
    redis_url: str | None = None
    """Redis shared by all replicas for rate limits, budgets and the response cache (in-process when unset)."""
    governance: GovernanceConfig = GovernanceConfig()
    """Model rate limits, team budgets, response cache (docs/GOVERNANCE.md)."""
    observability: ObservabilityConfig = ObservabilityConfig()
    """Prometheus metrics, prompt previews and the /ui dashboard (docs/OBSERVABILITY.md)."""
    registry_poll_seconds: float = Field(default=5.0, ge=0)
    """How often the gateway checks the store for routers promoted with ``wayfare promote`` (0: never)."""
    load_balancing: LoadBalancingConfig = LoadBalancingConfig()
    """The choice among a model's deployments (several ``models:`` entries with one name)."""

    @model_validator(mode="after")
    def _references(self) -> GatewayConfig:
        names = list(dict.fromkeys(m.name for m in self.models))
        ids = [d for m in names for d in self.deployment_ids(m)]
        dupes = sorted({d for d in ids if ids.count(d) > 1})
        if dupes:
            raise ValueError(f"deployment ids must be unique: {', '.join(dupes)} (set id: on the models: entries)")
        route_names = [r.name for r in self.routes]
        clash = sorted(set(route_names) & set(names) | {n for n in route_names if route_names.count(n) > 1})
        if clash:
            raise ValueError(f"route names must be unique and differ from model names: {', '.join(clash)}")
        known = set(names)
        for r in self.routes:
            for target in r.models:
                if target not in known:
                    raise ValueError(f"route {r.name!r}: models: {target!r} is not a configured model")
            for field in ("strong", "weak", "pin_tools", "pin_images"):
                target = getattr(r, field)
                if target is not None and target not in known:
                    raise ValueError(f"route {r.name!r}: {field} {target!r} is not a configured model")
            if r.quality is not None and r.quality.judge is not None and r.quality.judge not in known:
                raise ValueError(f"route {r.name!r}: quality.judge {r.quality.judge!r} is not a configured model")
        for src, chain in self.fallbacks.items():
            for target in [src, *chain]:
                if target not in known:
                    raise ValueError(f"fallbacks: {target!r} is not a configured model")
        unknown = sorted(set(self.load_balancing.models) - known)
        if unknown:
            raise ValueError(f"load_balancing.models: {', '.join(unknown)} is not a configured model")
        for target in self.governance.cache.semantic.routes:
            if target not in known and target not in route_names:
                raise ValueError(f"governance.cache.semantic.routes: {target!r} is not a configured model or route")
        return self

    def model(self, name: str) -> ModelConfig:
        """The model's first deployment (its settings stand for the model where one is needed, e.g. prices)."""
        for m in self.models:
            if m.name == name:
                return m
        raise KeyError(name)

    def deployments(self, name: str) -> list[ModelConfig]:
        """Every ``models:`` entry serving ``name``, in config order."""
        return [m for m in self.models if m.name == name]

    def deployment_ids(self, name: str) -> list[str]:
        entries = self.deployments(name)
        if len(entries) == 1:
            return [entries[0].id or name]
        return [m.id or f"{name}#{k}" for k, m in enumerate(entries, 1)]

    @property
    def shares_vectors(self) -> bool:
        """Whether routers and the semantic cache share prompt vectors (the cache is on)."""
        return bool(self.governance.cache.semantic.routes)

    def strategy(self, name: str) -> Strategy:
        return self.load_balancing.models.get(name, self.load_balancing.strategy)


def _line_of(node: yaml.Node | None, loc: tuple[str | int, ...]) -> int | None:
    """1-based line of the YAML node at ``loc`` (or of its nearest existing parent)."""
    line = node.start_mark.line + 1 if node is not None else None
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            nxt = next((v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == key), None)
            if nxt is None:
                key_node = next((k for k, _ in node.value if isinstance(k, yaml.ScalarNode) and k.value == key), None)
                return key_node.start_mark.line + 1 if key_node is not None else line
            node = nxt
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            return line
        line = node.start_mark.line + 1
    return line


def parse_config(text: str, source: str = "<config>") -> GatewayConfig:
    """Validate YAML text; :class:`ConfigError` names ``source:line`` and the dotted field of each problem."""
    try:
        root = yaml.compose(text)
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        problem = getattr(exc, "problem", None) or " ".join(str(exc).split())  # one line (ReaderError has none)
        raise ConfigError(f"{where}: invalid YAML: {problem}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping with a 'models' list at the top level")
    try:
        return GatewayConfig.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            field = ".".join(str(p) if str(p).isprintable() else repr(str(p)) for p in loc) or "(top level)"
            line = _line_of(root, loc)
            where = f"{source}:{line}" if line else source
            lines.append(f"{where}: {field}: {err['msg']}")
        raise ConfigError("\n".join(lines)) from None


def load_config(path: str | Path) -> GatewayConfig:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror}") from None
    return parse_config(text, str(path))


def quickstart_config(
    base_url: str,
    strong_model: str,
    weak_model: str,
    api_key: str | None = None,
    threshold: float = 0.5,
    router: str = "default",
    database_url: str | None = "sqlite:///wayfare.db",
) -> GatewayConfig:
    """The config of ``wayfare serve --base-url ... --strong-model ... --weak-model ...``: both models from one
    OpenAI-compatible upstream and route ``auto`` (also reachable as ``router-<router>-<threshold>``)."""
    models = [
        ModelConfig(name=m, base_url=base_url, api_key=api_key) for m in dict.fromkeys([strong_model, weak_model])
    ]
    route = RouteConfig(name="auto", router=router, strong=strong_model, weak=weak_model, threshold=threshold)
    return GatewayConfig(models=models, routes=[route], database_url=database_url)
