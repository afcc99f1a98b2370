"""``wayfare models show NAME``: the router card (what a router was trained on, with which label, and how it holds on
sources it never saw), or an embedding model's catalogue entry.

The card is read from the artifact's ``router.json``: ``training`` (table, sources, label), ``metrics`` (held-out
numbers with their CIs and what they were measured on) and ``calibration`` (the shipped threshold and the share of
each source's prompts it sends to the strong model).
"""

from __future__ import annotations

from typing import Any

import typer
from rich.console import Console

from wayfare.embed.cli import models_app

console = Console()
err_console = Console(stderr=True)


def _ci(entry: dict[str, Any]) -> str:
    value = entry.get("apgr")
    if value is None:
        return "–"
    ci = entry.get("apgr_ci") or [None, None]
    return f"{value:.3f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci[0] is not None and ci[1] is not None else "")


def _label(label: str | None, pair: bool) -> str:
    if label is None:
        label = "strong-wins" if pair else "scores"
    return "scores (each model’s own score)" if label == "scores" else label


def _nested(key: str, value: Any, indent: str) -> list[str]:
    """``key: value``, a dict as an indented block (``{"mean", "interval"}`` as ``mean [lo, hi]``), lists joined."""
    if isinstance(value, dict):
        if set(value) >= {"mean", "interval"} and len(value["interval"]) == 2:
            lo, hi = value["interval"]
            rest = "".join(f", {k} {v}" for k, v in value.items() if k not in ("mean", "interval"))
            return [f"{indent}{key}: {value['mean']} [{lo}, {hi}]{rest}"]
        lines = [f"{indent}{key}:"]
        for k, v in value.items():
            lines.extend(_nested(str(k), v, indent + "  "))
        return lines
    if isinstance(value, list):
        return [f"{indent}{key}: {', '.join(map(str, value))}"]
    return [f"{indent}{key}: {value}"]


def card_lines(meta: dict[str, Any]) -> list[str]:
    """The router card as lines of text (also what the tests read)."""
    training = meta.get("training") or {}
    metrics = meta.get("metrics") or {}
    calibration = meta.get("calibration") or {}
    embedder = (meta.get("embedder") or {}).get("name", "none")
    params = ", ".join(f"{k}={v}" for k, v in (meta.get("params") or {}).items())
    lines = [
        f"router: {meta.get('kind')} ({params}); embedder {embedder}",
        f"models: {', '.join(meta.get('models', []))}"
        + (f" (strong {meta['strong']}, weak {meta['weak']})" if meta.get("strong") else ""),
        f"label: {_label(training.get('label'), bool(meta.get('strong')))}",
        f"trained on: {training.get('table', '?')}, {training.get('n_prompts', '?')} prompts",
    ]
    for name, text in (training.get("sources") or {}).items():
        lines.append(f"  {name}: {text}")
    if training.get("gate_share"):
        shares = ", ".join(f"{name} {share:.1%}" for name, share in training["gate_share"].items())
        lines.append(f"gate: share of each source's prompts it gives to the domain expert (P >= 0.5): {shares}")
    transfer = metrics.get("transfer")
    if transfer:
        lines.append("held-out-source APGR (trained on the other sources, 95% CI):")
        for name, entry in transfer.items():
            lines.append(f"  {name}: {_ci(entry)} on {entry.get('n', '?')} prompts")
        if metrics.get("transfer_mean"):
            lines.append(f"  mean: {_ci(metrics['transfer_mean'])}")
    chat = metrics.get("chat_difficulty")
    if chat:
        lines.append(
            f"chat difficulty: Spearman {chat['spearman']:.3f} [{chat['spearman_ci'][0]:.3f}, "
            f"{chat['spearman_ci'][1]:.3f}] between its score and {chat['what']}"
        )
    kfold = metrics.get("chat_kfold")
    if kfold:
        lines.append(
            f"chat it was trained on: APGR {kfold['apgr']:.3f} [{kfold['apgr_ci'][0]:.3f}, {kfold['apgr_ci'][1]:.3f}], "
            f"Spearman {kfold['spearman']:.3f} [{kfold['spearman_ci'][0]:.3f}, {kfold['spearman_ci'][1]:.3f}]: "
            f"{kfold['what']}"
        )
    for key, value in metrics.items():
        if key not in ("transfer", "transfer_mean", "chat_difficulty", "chat_kfold", "measured_on"):
            lines.extend(_nested(key, value, ""))
    if metrics.get("measured_on"):
        lines.append(f"measured on: {metrics['measured_on']}")
    if calibration.get("threshold") is not None:
        lines.append(
            f"threshold: {calibration['threshold']} ({calibration.get('strong_share', 0):.0%} to strong on "
            f"{calibration.get('measured_on', '?')})"
        )
    for name, share in (calibration.get("strong_share_by_source") or {}).items():
        lines.append(f"  strong share at that threshold on {name}: {share:.1%}")
    return lines


@models_app.command("show")
def show_cmd(
    name: str = typer.Argument(
        ..., help="A router folder, a shipped router (default, default-n) or an embedding model name."
    ),
) -> None:
    """Show a router's card (training data, label, held-out numbers) or an embedding model's entry."""
    from wayfare.embed.catalogue import CATALOGUE
    from wayfare.routers.artifact import ArtifactError, read_meta
    from wayfare.routers.registry import SHIPPED, shipped_router_path

    if name in CATALOGUE and name not in SHIPPED:
        spec = CATALOGUE[name]
        console.print(f"embedding model {spec.name} ({spec.kind}): {spec.description}", highlight=False)
        return
    try:
        meta = read_meta(shipped_router_path(name) if name in SHIPPED else name)
    except (ArtifactError, OSError, ValueError) as exc:
        err_console.print(f"error: {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    for line in card_lines(meta):
        console.print(line, highlight=False, soft_wrap=True)
