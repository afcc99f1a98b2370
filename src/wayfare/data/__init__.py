"""Results tables (prompts x models -> score) and the loaders that read public benchmark formats into them."""

from wayfare.data.arena_hard import load_arena_hard
from wayfare.data.errors import DataFormatError
from wayfare.data.jsonl import load_jsonl, save_jsonl
from wayfare.data.llmrouter import load_llmrouter
from wayfare.data.loaders import BENCHMARKS, FORMATS, bundled_path, load_benchmark, load_table
from wayfare.data.mtbench import load_mt_bench
from wayfare.data.prices import ModelPrice, PriceTable, estimate_tokens, fill_costs
from wayfare.data.routellm import load_routellm_gsm8k, load_routellm_mmlu
from wayfare.data.routerarena import load_routerarena
from wayfare.data.table import ResultsTable

__all__ = [
    "BENCHMARKS",
    "FORMATS",
    "DataFormatError",
    "ModelPrice",
    "PriceTable",
    "ResultsTable",
    "bundled_path",
    "estimate_tokens",
    "fill_costs",
    "load_arena_hard",
    "load_benchmark",
    "load_jsonl",
    "load_llmrouter",
    "load_mt_bench",
    "load_routellm_gsm8k",
    "load_routellm_mmlu",
    "load_routerarena",
    "load_table",
    "save_jsonl",
]
