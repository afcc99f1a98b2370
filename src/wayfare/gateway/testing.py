"""A gateway and a mock upstream served together on 127.0.0.1 in threads: for tests, examples and benchmarks."""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any

from wayfare.gateway.app import create_app
from wayfare.gateway.config import GatewayConfig, parse_config
from wayfare.gateway.core import Gateway
from wayfare.gateway.reqlog import LogSink, MemorySink
from wayfare.gateway.routing import Router, Scorer
from wayfare.mockllm.runner import MockUpstream, ThreadedServer


class GatewayStack:
    """``with GatewayStack(config_template) as s:`` serves the mock upstream, then the gateway with
    ``config_template.format(url=<mock base url>)`` (YAML) or ``config_template(url)`` (a callable returning a
    :class:`GatewayConfig`). ``s.base_url`` is the gateway's ``/v1`` URL; ``s.sink`` the request log.
    ``routers`` maps router names of the config to already fitted routers (instead of loading them by name)."""

    def __init__(
        self,
        config_template: Any,
        sink: LogSink | None = None,
        routers: Mapping[str, Scorer] | None = None,
        **mock_settings: Any,
    ) -> None:
        self.template = config_template
        self.routers = routers
        self.mock = MockUpstream(**mock_settings)
        self.sink: Any = sink if sink is not None else MemorySink()
        self.server: ThreadedServer | None = None

    @property
    def base_url(self) -> str:
        assert self.server is not None, "not started"
        return self.server.url + "/v1"

    @property
    def url(self) -> str:
        assert self.server is not None, "not started"
        return self.server.url

    def upstream_bodies(self) -> list[dict[str, Any]]:
        return [r["body"] for r in self.mock.mock.requests]

    def start(self) -> GatewayStack:
        self.mock.start()
        try:
            if callable(self.template):
                config: GatewayConfig = self.template(self.mock.base_url)
            else:
                config = parse_config(str(self.template).format(url=self.mock.base_url))
            gateway = None
            if self.routers is not None:
                gateway = Gateway(config, sink=self.sink, router=Router(config, self.routers))
            self.server = ThreadedServer(create_app(config, sink=self.sink, gateway=gateway)).start()
        except BaseException:
            self.mock.stop()
            raise
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
        self.mock.stop()

    def __enter__(self) -> GatewayStack:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
