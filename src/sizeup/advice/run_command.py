"""The command that reproduces a plan: ``llama-server`` flags, and the Ollama equivalent.

A recommendation is only useful if the user can run exactly it. The llama.cpp command carries
every setting the estimate assumed, so its memory matches what sizeup computed:

* ``-hf REPO:QUANT`` (llama.cpp's Hugging Face download convention) when a GGUF repository of the
  model is known (``data/gguf_repos.json``), else ``-m FILE.gguf`` for a local file;
* ``-c`` the context, ``-np`` the parallel sequences (llama-server otherwise picks its own
  number of slots, which changes the KV cache), ``-ngl`` the GPU layers (99 = all),
  ``--n-cpu-moe N`` for expert offload, ``-fa on`` when flash attention is on and
  ``-ctk``/``-ctv`` for a quantized KV cache (which needs flash attention).

Ollama runs any GGUF on the Hub as ``hf.co/REPO:QUANT``, so that is the exact equivalent when a
repository is known; a library tag (``qwen3-coder:30b``) is offered too, with the caveat that its
default quant is the library's choice. Ollama takes the context as ``num_ctx``.
"""

from __future__ import annotations

import functools
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import SizeupError

REPOS_PATH = Path(__file__).resolve().parent.parent / "data" / "gguf_repos.json"
MAX_REPOS_BYTES = 1 << 20
_REPO_RE = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}/[\w.-]{1,96}$")
# llama.cpp file types whose -hf tag is the type name; MXFP4 repos (gpt-oss) ship one file: no tag
_NO_TAG = {"MXFP4_MOE"}


@functools.lru_cache(maxsize=1)
def gguf_repos() -> dict[str, str]:
    """HF id (lower case) -> GGUF repo id."""
    from ..data import load_json_data

    doc = load_json_data(REPOS_PATH, MAX_REPOS_BYTES)
    out = {}
    for k, v in (doc.get("repos") or {}).items():
        repo = v.get("repo") if isinstance(v, dict) else None
        if not (isinstance(repo, str) and _REPO_RE.match(repo)):
            raise SizeupError(f"{REPOS_PATH.name}: bad repo for {str(k)[:80]!r}")
        out[str(k).lower()] = repo
    return out


def gguf_repo_for(hf_id: str | None, publishes_gguf: bool = False) -> str | None:
    """The GGUF repo to pull ``hf_id`` from: the table's, or the id itself when it is a GGUF repo."""
    if not hf_id:
        return None
    if publishes_gguf or hf_id.lower().endswith("-gguf"):
        return hf_id
    return gguf_repos().get(hf_id.lower())


@dataclass(frozen=True)
class RunCommand:
    llama_cpp: list[str]  # argv of llama-server
    ollama: str | None  # shell line, or None
    ollama_note: str | None
    notes: tuple[str, ...] = ()

    @property
    def llama_cpp_line(self) -> str:
        return shlex.join(self.llama_cpp)

    def to_dict(self) -> dict[str, Any]:
        return {"llama_cpp": self.llama_cpp_line, "llama_cpp_argv": list(self.llama_cpp), "ollama": self.ollama,
                "ollama_note": self.ollama_note, "notes": list(self.notes)}


def build(*, quant: str, ctx: int, n_gpu_layers: int, n_layer: int, n_cpu_moe: int = 0,
          hf_id: str | None = None, gguf_path: str | None = None, gguf_repo: str | None = None,
          ollama_tag: str | None = None, type_k: str = "f16", type_v: str = "f16", flash_attn: bool = True,
          n_parallel: int = 1, has_gpu: bool = True) -> RunCommand:
    """The llama-server command (and Ollama line) for one plan. ``n_gpu_layers`` < 0 or above
    ``n_layer`` means every layer; ``n_cpu_moe`` the layers whose routed experts stay in RAM."""
    if ctx <= 0 or n_layer <= 0:
        raise SizeupError("a run command needs a positive context and layer count")
    notes: list[str] = []
    repo = gguf_repo or gguf_repo_for(hf_id)
    argv = ["llama-server"]
    if gguf_path:
        argv += ["-m", gguf_path]
    elif repo:
        argv += ["-hf", repo if quant.upper() in _NO_TAG else f"{repo}:{quant}"]
    else:
        stem = (hf_id or "model").split("/")[-1]
        argv += ["-m", f"{stem}-{quant}.gguf"]
        notes.append("no known GGUF repository: convert with llama.cpp's convert_hf_to_gguf.py and "
                     f"llama-quantize to {quant}")
    argv += ["-c", str(ctx), "-np", str(n_parallel)]
    all_layers = n_gpu_layers < 0 or n_gpu_layers > n_layer
    ngl = 0 if not has_gpu else (99 if all_layers and n_layer < 99 else (n_layer + 1 if all_layers else n_gpu_layers))
    argv += ["-ngl", str(ngl)]
    if n_cpu_moe > 0:
        argv += ["--n-cpu-moe", str(n_cpu_moe)]
    argv += ["-fa", "on" if flash_attn else "off"]
    if type_k != "f16":
        argv += ["-ctk", type_k]
    if type_v != "f16":
        argv += ["-ctv", type_v]
    ollama = note = None
    if repo and not gguf_path:
        tag = "" if quant.upper() in _NO_TAG else f":{quant}"
        ollama = f"ollama run hf.co/{repo}{tag}"
        note = f"then /set parameter num_ctx {ctx}; Ollama places layers itself"
        if n_cpu_moe:
            note += " (it has no --n-cpu-moe: expect a layer split instead)"
    elif ollama_tag:
        ollama = f"ollama run {ollama_tag}"
        note = f"library tag: the library's default quant, not necessarily {quant}; then /set parameter num_ctx {ctx}"
    return RunCommand(argv, ollama, note, tuple(notes))
