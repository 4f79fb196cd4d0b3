"""Exact tensor sizes, and GGUF file sizes, of a model at any llama.cpp quantization type.

Two entry points:

* :func:`predict_tensors` - a model we only know by its architecture (catalog entry, HF
  config.json): tensor layout (:mod:`sizeup.layout`) + llama.cpp's per-tensor type choice
  (:mod:`sizeup.estimate.quant_mix`) + ggml block sizes give exact bytes per tensor.
* :func:`requantized_tensors` - a file we have: what each of its tensors becomes when
  llama-quantize converts it to another type (tensors llama.cpp never quantizes keep their type).

A GGUF file is a header and key/value metadata, the tensor directory, then every tensor's data
padded to the file's alignment (32 bytes by default). :func:`gguf_file_size` adds these up.
The metadata is almost all tokenizer: per token its string (8-byte length + UTF-8 bytes) and
an int32 type, plus a float32 score for SentencePiece vocabularies, and for BPE vocabularies
about one merge rule per token (8-byte length + "a b" text). :func:`estimate_metadata_bytes`
uses averages measured on real files: tokens average 7.5 bytes (SmolLM2, 49k GPT-2-style
BPE) to 8.8 bytes (Gemma 3, 262k SentencePiece); merges 8.5 bytes (SmolLM2). For a known file,
pass its real metadata size instead (:func:`metadata_bytes_of`).
"""

from __future__ import annotations

from ..data.ggml_types import GGML_TYPES_BY_NAME
from ..errors import SizeupError
from ..layout import n_elements
from ..layout import predict_tensors as predict_layout
from ..model import Architecture, TensorInfo
from .quant_mix import n_dims, predict_type_map

GGUF_ALIGNMENT = 32  # GGUF_DEFAULT_ALIGNMENT (general.alignment when absent)
GGUF_HEADER_BYTES = 24  # magic, version, tensor count, kv count
AVG_TOKEN_BYTES = 8.0  # measured: SmolLM2 7.5, Gemma 3 8.8
AVG_MERGE_BYTES = 8.5  # measured: SmolLM2 (48,900 merges for 49,152 tokens)
OTHER_METADATA_BYTES = 8 * 1024  # ~40 small keys plus a typical chat template (0.4-8 kB)


def tensor_nbytes(dtype: str, shape: tuple[int, ...]) -> int:
    """ggml_nbytes of a contiguous tensor: rows times the row size of its type."""
    try:
        t = GGML_TYPES_BY_NAME[dtype.upper()]
    except KeyError:
        raise SizeupError(f"unknown ggml type '{dtype}'") from None
    if not shape:
        return 0
    ne0 = shape[0]
    rows = n_elements(shape) // ne0 if ne0 else 0
    if ne0 % t.block_size:
        raise SizeupError(f"rows of {ne0} elements do not fit {t.name} blocks of {t.block_size}")
    return rows * (ne0 // t.block_size) * t.type_size


def _info(name: str, shape: tuple[int, ...], dtype: str) -> TensorInfo:
    return TensorInfo(name=name, shape=shape, dtype=dtype, n_elements=n_elements(shape),
                      n_bytes=tensor_nbytes(dtype, shape))


def predict_tensors(arch: Architecture, ftype: str, *, source_dtype: str = "F16",
                    has_imatrix: bool = False) -> list[TensorInfo]:
    """Every tensor of a model with architecture ``arch`` in a llama.cpp ``ftype`` file.

    Assumes the usual pipeline: convert_hf_to_gguf.py to ``source_dtype``, then llama-quantize
    with default settings. Raises :class:`SizeupError` for unknown types or impossible layouts.
    """
    layout = predict_layout(arch)
    types = predict_type_map(layout, arch, ftype, source_dtype=source_dtype, has_imatrix=has_imatrix)
    return [_info(name, shape, types[name]) for name, shape in layout]


def requantized_tensors(tensors: list[TensorInfo], arch: Architecture, ftype: str, *,
                        has_imatrix: bool = False) -> list[TensorInfo]:
    """What each tensor of an existing GGUF becomes when llama-quantize converts it to ``ftype``.

    Tensors llama.cpp does not quantize (norms, biases, routers, conv1d...) keep their current
    type. Offsets are dropped: they change with the new sizes.
    """
    layout = [(t.name, tuple(int(d) for d in t.shape)) for t in tensors]
    source = {t.name: t.dtype for t in tensors}
    types = predict_type_map(layout, arch, ftype, source_types=source, has_imatrix=has_imatrix)
    return [_info(name, shape, types[name]) for name, shape in layout]


def _pad(n: int, align: int) -> int:
    return (n + align - 1) // align * align


def tensor_directory_bytes(tensors: list[TensorInfo]) -> int:
    """GGUF tensor-info entries: name (u64 length + bytes), n_dims, dims (u64 each), type, offset."""
    return sum(8 + len(t.name.encode()) + 4 + 8 * n_dims(tuple(t.shape)) + 4 + 8 for t in tensors)


def metadata_bytes_of(data_offset: int, tensors: list[TensorInfo]) -> int:
    """Key/value section size of a real file, from where its tensor data starts.

    The result includes the file's padding before the data, which :func:`gguf_file_size`
    pads again to the same place, so a requantized file's size comes out exact.
    """
    return max(0, data_offset - GGUF_HEADER_BYTES - tensor_directory_bytes(tensors))


def estimate_metadata_bytes(n_vocab: int, tokenizer_model: str | None = "gpt2", n_merges: int | None = None,
                            other_bytes: int = OTHER_METADATA_BYTES) -> int:
    """Approximate key/value metadata size of a GGUF with an ``n_vocab`` token vocabulary.

    ``tokenizer_model`` is GGUF's tokenizer.ggml.model: "gpt2" (BPE: merges, no scores),
    "llama" (SentencePiece: scores, no merges), others treated as BPE. Merges default to
    ``n_vocab`` (BPE vocabularies have about one merge per learned token).
    """
    n_vocab = max(0, int(n_vocab))
    per_token = 8 + AVG_TOKEN_BYTES + 4  # string + token_type
    total = n_vocab * per_token
    if tokenizer_model == "llama":
        total += 4 * n_vocab  # scores
    else:
        merges = n_vocab if n_merges is None else max(0, int(n_merges))
        total += merges * (8 + AVG_MERGE_BYTES)
    return int(total) + other_bytes


def gguf_file_size(tensors: list[TensorInfo], metadata_bytes: int, alignment: int = GGUF_ALIGNMENT) -> int:
    """Bytes of a single-file GGUF holding ``tensors`` with ``metadata_bytes`` of key/values."""
    head = GGUF_HEADER_BYTES + metadata_bytes + tensor_directory_bytes(tensors)
    return _pad(head, alignment) + sum(_pad(t.n_bytes, alignment) for t in tensors)


def predict_file_size(arch: Architecture, ftype: str, *, tokenizer_model: str | None = "gpt2",
                      n_merges: int | None = None, source_dtype: str = "F16") -> int:
    """Estimated size of a ``ftype`` GGUF for ``arch``: exact tensor bytes + estimated metadata."""
    tensors = predict_tensors(arch, ftype, source_dtype=source_dtype)
    return gguf_file_size(tensors, estimate_metadata_bytes(arch.n_vocab, tokenizer_model, n_merges))
