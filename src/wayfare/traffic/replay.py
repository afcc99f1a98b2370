"""A replay upstream: an OpenAI-compatible server that answers each prompt with a model's *recorded* answer.

It lets ``wayfare share`` run on real model behaviour offline, e.g. RouteLLM's GSM8K file, which holds GPT-4's
and Mixtral's actual answers to 1,319 questions. Run it with
``python -m wayfare.traffic.replay --routellm-csv gsm8k_responses.csv --port 9100``.
A prompt with no recording gets a 404 (so a wrong setup fails loudly instead of scoring a placeholder).
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

Answers = Mapping[str, Mapping[str, str]]
JudgeHook = Callable[[dict[str, Any]], str]


def routellm_answers(path: str | Path) -> dict[str, dict[str, str]]:
    """``{model: {prompt: recorded response}}`` from a RouteLLM ``*_responses.csv`` (``<model>_response`` columns)."""
    csv.field_size_limit(sys.maxsize)
    out: dict[str, dict[str, str]] = {}
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            for col, value in row.items():
                if col.endswith("_response"):
                    out.setdefault(col.removesuffix("_response"), {})[row["prompt"]] = value
    return out


def write_routellm_prompts(csv_path: str | Path, out: str | Path, strong: str, weak: str) -> int:
    """Write a ``wayfare share`` prompt file from a RouteLLM GSM8K-style CSV; returns the row count.

    GSM8K's gold answers are not in the CSV, but a response the CSV marks correct ends with the gold number (that is
    how RouteLLM graded it), so the reference is the last number of the strong model's correct answer, else of the
    weak model's. Questions neither model got right have no recoverable gold and get no reference.
    """
    from wayfare.traffic.labels import last_number

    csv.field_size_limit(sys.maxsize)
    n = 0
    with open(csv_path, newline="", encoding="utf-8") as f, open(out, "wb") as dst:
        for i, r in enumerate(csv.DictReader(f)):
            ref = None
            for model in (strong, weak):
                if r.get(model) == "True":
                    ref = last_number(r[f"{model}_response"])
                    break
            row: dict[str, Any] = {"id": f"gsm8k-{i}", "prompt": r["prompt"]}
            if ref is not None:
                row["reference"] = f"{ref:g}"
            dst.write(orjson.dumps(row) + b"\n")
            n += 1
    return n


def _last_user(body: dict[str, Any]) -> str:
    for m in reversed(body.get("messages") or []):
        if isinstance(m, dict) and m.get("role") == "user" and isinstance(m.get("content"), str):
            return str(m["content"])
    return ""


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": "invalid_request_error", "code": None}}, status)


def replay_app(answers: Answers, judges: Mapping[str, JudgeHook] | None = None) -> Starlette:
    """``answers[model][prompt]`` is returned for a chat request of ``model`` whose last user message is ``prompt``;
    ``judges[model](body)`` answers for models that act as judges. ``GET /_replay/count`` gives requests served."""
    judges = judges or {}
    served = {"count": 0}

    async def chat(request: Request) -> JSONResponse:
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "body is not JSON")
        model = str(body.get("model", ""))
        prompt = _last_user(body)
        if model in judges:
            text = judges[model](body)
        elif model not in answers:
            return _error(404, f"no recorded answers for model {model!r}")
        elif prompt not in answers[model]:
            return _error(404, f"no recorded answer of {model!r} for this prompt")
        else:
            text = answers[model][prompt]
        served["count"] += 1
        p, c = max(1, len(prompt) // 4), max(1, len(text) // 4)
        return JSONResponse(
            {
                "id": f"chatcmpl-replay-{served['count']}",
                "object": "chat.completion",
                "created": 0,
                "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c},
            }
        )

    async def count(request: Request) -> JSONResponse:
        return JSONResponse(served)

    return Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"]), Route("/_replay/count", count)])


def main() -> None:  # pragma: no cover - exercised by the docs walk-through
    import argparse

    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--routellm-csv", required=True, type=Path)
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--write-prompts", type=Path, help="write a prompt file with references, then exit")
    parser.add_argument("--strong", default="gpt-4-1106-preview")
    parser.add_argument("--weak", default="mistralai/Mixtral-8x7B-Instruct-v0.1")
    args = parser.parse_args()
    if args.write_prompts:
        n = write_routellm_prompts(args.routellm_csv, args.write_prompts, args.strong, args.weak)
        print(f"wrote {n} prompts to {args.write_prompts}")
        return
    uvicorn.run(replay_app(routellm_answers(args.routellm_csv)), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
