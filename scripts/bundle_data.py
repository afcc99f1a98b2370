"""Build the benchmarks bundled in the package (src/wayfare/data/bundled/) from ../shared/data.

    .venv/bin/python scripts/bundle_data.py [--data ../shared/data] [--out src/wayfare/data/bundled]

Each benchmark is read with its loader (contaminated RouteLLM prompts dropped; LLMRouter test rows that leak from
train dropped, GPQA rows left out) and written in Wayfare's gzip JSONL format with token counts but without costs:
costs are computed at load time from wayfare/data/prices.json. Output is deterministic (gzip mtime 0).
"""

from __future__ import annotations

import argparse
import gzip
import io
import os
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from wayfare.data import ResultsTable, load_llmrouter, load_routellm_gsm8k, load_routellm_mmlu, save_jsonl

ROUTELLM_ORIGIN = (
    "github.com/lm-sys/RouteLLM commit 0b64fdafe049e596a3f5657c219329f24af24198, routellm/evals/; Apache-2.0"
)
LLMROUTER_ORIGIN = (
    "github.com/ulab-uiuc/LLMRouter commit 4e7a796942ce26e9d5f2b93191c7c2585c99c2e3, data/dcrouter_preprocessed + "
    "data/example_data/query_data; MIT, Copyright (c) 2024 U Lab @UIUC"
)
EXCLUDED_TASKS = ("gpqa",)


def write_deterministic(table: ResultsTable, path: Path) -> int:
    """Write ``table`` as gzip JSONL with a fixed gzip header (so rebuilding gives identical bytes)."""
    with tempfile.TemporaryDirectory() as tmp:
        plain = save_jsonl(table, Path(tmp) / "table.jsonl", costs=False)
        raw = plain.read_bytes()
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, compresslevel=9, mtime=0) as gz:
        gz.write(raw)
    path.write_bytes(buf.getvalue())
    return len(buf.getvalue())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    here = Path(__file__).resolve().parent.parent
    parser.add_argument("--data", type=Path, default=here.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=here / "src" / "wayfare" / "data" / "bundled")
    args = parser.parse_args(argv)
    data: Path = args.data
    if not data.is_dir():
        print(f"error: data directory {data} not found", file=sys.stderr)
        return 2
    tables = {
        "mmlu": (load_routellm_mmlu(data / "routellm" / "mmlu"), ROUTELLM_ORIGIN),
        "gsm8k": (load_routellm_gsm8k(data / "routellm" / "gsm8k"), ROUTELLM_ORIGIN),
        "llmrouter": (load_llmrouter(data / "llmrouter", exclude_tasks=EXCLUDED_TASKS), LLMROUTER_ORIGIN),
    }
    os.makedirs(args.out, exist_ok=True)
    for name, (table, origin) in tables.items():
        if table.categories is not None and any(c in EXCLUDED_TASKS for c in table.categories):
            raise SystemExit(f"{name}: excluded task rows would be bundled")
        meta = {k: v for k, v in table.meta.items() if k != "source"}
        meta["origin"] = origin
        table = replace(table, meta=meta, costs=None)
        size = write_deterministic(table, args.out / f"{name}.jsonl.gz")
        print(f"{name}: {len(table)} prompts x {len(table.models)} models -> {name}.jsonl.gz ({size:,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
