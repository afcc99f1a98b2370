"""deploy/: the docker-compose file and the Kubernetes manifests parse, fit together, and carry a gateway config
that Wayfare itself accepts (docker and kubectl cannot run here)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from wayfare.gateway.config import parse_config

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def _docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def test_compose_runs_replicas_on_shared_postgres_and_redis() -> None:
    compose = _docs(DEPLOY / "docker-compose.yml")[0]
    services = compose["services"]
    assert {"postgres", "redis", "wayfare", "lb"} <= set(services)
    gw = services["wayfare"]
    assert gw["deploy"]["replicas"] >= 2 and "ports" not in gw  # only the load balancer is published
    assert set(gw["depends_on"]) == {"postgres", "redis"}
    assert "WAYFARE_MASTER_KEY" in gw["environment"]
    assert gw["build"]["dockerfile"] == "deploy/Dockerfile" and (DEPLOY / "Dockerfile").is_file()
    db_url = gw["command"][gw["command"].index("--database-url") + 1]
    assert db_url.startswith("postgresql://") and "@postgres:5432/" in db_url
    mounted = {v.split(":")[0] for v in gw["volumes"]}
    assert "./wayfare.yaml" in mounted and (DEPLOY / "nginx.conf").is_file()
    config = parse_config((DEPLOY / "wayfare.yaml").read_text(), "deploy/wayfare.yaml")
    assert config.redis_url == "redis://redis:6379/0" and (config.database_url or "").startswith("postgresql://")


def test_kubernetes_manifests_fit_together() -> None:
    by_kind: dict[str, dict[str, Any]] = {}
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        for doc in _docs(path):
            by_kind[doc["kind"]] = doc
    assert {"Deployment", "Service", "ConfigMap", "HorizontalPodAutoscaler", "Secret", "Kustomization"} <= set(by_kind)
    listed = set(by_kind["Kustomization"]["resources"])
    assert {"configmap.yaml", "deployment.yaml", "service.yaml", "hpa.yaml"} <= listed
    dep, svc, hpa, cm = (by_kind[k] for k in ("Deployment", "Service", "HorizontalPodAutoscaler", "ConfigMap"))
    labels = dep["spec"]["template"]["metadata"]["labels"]
    assert dep["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert svc["spec"]["selector"].items() <= labels.items()
    container = dep["spec"]["template"]["spec"]["containers"][0]
    port_names = {p["name"] for p in container["ports"]}
    assert svc["spec"]["ports"][0]["targetPort"] in port_names
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert container["envFrom"][0]["secretRef"]["name"] == by_kind["Secret"]["metadata"]["name"]
    assert "WAYFARE_MASTER_KEY" in by_kind["Secret"]["stringData"]
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": dep["metadata"]["name"],
    }
    assert hpa["spec"]["minReplicas"] >= 2 and hpa["spec"]["maxReplicas"] > hpa["spec"]["minReplicas"]
    volume = dep["spec"]["template"]["spec"]["volumes"][0]
    assert volume["configMap"]["name"] == cm["metadata"]["name"]
    mount = container["volumeMounts"][0]["mountPath"]
    config_arg = container["args"][container["args"].index("--config") + 1]
    assert config_arg == f"{mount}/wayfare.yaml" and "wayfare.yaml" in cm["data"]
    config = parse_config(cm["data"]["wayfare.yaml"], "deploy/k8s/configmap.yaml")
    assert config.redis_url and (config.database_url or "").startswith("postgresql://")
