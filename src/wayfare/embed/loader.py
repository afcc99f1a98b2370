"""`open_embedder(name)`: verify an installed model's files and open it (building one is :mod:`install`'s job;
`load_embedder`, which builds on first use, is there too)."""

from __future__ import annotations

from wayfare.embed.base import Embedder
from wayfare.embed.catalogue import ONNX_FILE, TOKENIZER, resolve
from wayfare.embed.store import ModelError, model_path, verify


def open_embedder(
    name: str = "default",
    *,
    max_tokens: int = 128,
    threads: int | None = None,
    workers: int = 1,
    spinning: bool = False,
) -> Embedder:
    """Open embedding model `name` ("default" = catalogue.DEFAULT_MODEL), checking every file's sha256.

    `threads` is onnxruntime's intra-op thread count per call (None: all cores; 1 for a serving process pinned to a
    core). `workers` > 1 embeds the batches of one `embed()` call concurrently (for bulk work, with `threads=1`
    and `workers=os.cpu_count()`); it does not change any vector. `spinning=True` lets idle onnxruntime threads
    busy-wait instead of sleeping (matters only with `threads` > 1; it was slower on a shared machine).
    A model that is not built yet is a `ModelError` naming the command that builds it. Never imports torch. A
    "package" model (e5-small) comes whole from its optional package; without it a `ModelError` names the extra to
    install.
    """
    try:
        spec = resolve(name)
    except KeyError as err:
        raise ModelError(str(err.args[0])) from err
    if spec.kind == "package":
        from wayfare.embed.e5_embedder import E5Embedder

        # One engine thread unless asked: it is a batch embedder and this machine's cores are shared.
        return E5Embedder(name=f"{spec.name}:{max_tokens}", max_tokens=max_tokens, threads=threads or 1)
    directory = model_path(spec.name)
    if not (directory / "manifest.json").exists():
        raise ModelError(f"embedding model {spec.name!r} is not installed; run `wayfare models install {spec.name}`")
    manifest = verify(directory)
    label = f"{spec.name}:{max_tokens}"
    if manifest["kind"] == "static":
        from wayfare.embed.static_embedder import StaticEmbedder

        return StaticEmbedder(
            directory / manifest["vectors_file"], directory / TOKENIZER, name=label, max_tokens=max_tokens
        )
    from wayfare.embed.onnx_embedder import OnnxEmbedder

    return OnnxEmbedder(
        directory / manifest.get("onnx_file", ONNX_FILE),
        directory / TOKENIZER,
        name=label,
        dim=int(manifest["dim"]),
        output=str(manifest["output"]),
        max_tokens=max_tokens,
        threads=threads,
        workers=workers,
        spinning=spinning,
        # Dynamic int8 picks one activation scale per input tensor, so a padded batch would make a prompt's vector
        # depend on its batch-mates (cosine down to 0.989 measured). One row per run keeps batch == single exactly.
        batch_size=1 if manifest.get("quantization") else 32,
    )
