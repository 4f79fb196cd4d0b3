"""ggml tensor types and llama.cpp file types, as data.

Source: ggml/include/ggml.h (``enum ggml_type``), ggml/src/ggml.c (``type_traits``:
``blck_size`` and ``type_size``) and include/llama.h (``enum llama_ftype``), as mirrored by
gguf-py's ``GGML_QUANT_SIZES`` / ``LlamaFileType`` (gguf 0.19). ``tests/test_type_tables.py``
checks this table against the installed ``gguf`` package so the two cannot drift apart silently.

Bits per weight of a type = 8 * type_size / block_size, e.g. Q4_0 = 8 * 18 / 32 = 4.5.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GGMLType:
    id: int
    name: str
    block_size: int  # elements per block
    type_size: int  # bytes per block

    @property
    def bits_per_weight(self) -> float:
        return 8.0 * self.type_size / self.block_size

    def nbytes(self, n_elements: int) -> int:
        """Bytes for ``n_elements`` of this type (rows must be whole blocks in real files)."""
        return (n_elements // self.block_size) * self.type_size + (
            self.type_size if n_elements % self.block_size else 0
        )


# id, name, block size, type size (bytes)
_TYPES = [
    (0, "F32", 1, 4),
    (1, "F16", 1, 2),
    (2, "Q4_0", 32, 18),
    (3, "Q4_1", 32, 20),
    (6, "Q5_0", 32, 22),
    (7, "Q5_1", 32, 24),
    (8, "Q8_0", 32, 34),
    (9, "Q8_1", 32, 40),
    (10, "Q2_K", 256, 84),
    (11, "Q3_K", 256, 110),
    (12, "Q4_K", 256, 144),
    (13, "Q5_K", 256, 176),
    (14, "Q6_K", 256, 210),
    (15, "Q8_K", 256, 292),
    (16, "IQ2_XXS", 256, 66),
    (17, "IQ2_XS", 256, 74),
    (18, "IQ3_XXS", 256, 98),
    (19, "IQ1_S", 256, 50),
    (20, "IQ4_NL", 32, 18),
    (21, "IQ3_S", 256, 110),
    (22, "IQ2_S", 256, 82),
    (23, "IQ4_XS", 256, 136),
    (24, "I8", 1, 1),
    (25, "I16", 1, 2),
    (26, "I32", 1, 4),
    (27, "I64", 1, 8),
    (28, "F64", 1, 8),
    (29, "IQ1_M", 256, 56),
    (30, "BF16", 1, 2),
    (34, "TQ1_0", 256, 54),
    (35, "TQ2_0", 256, 66),
    (39, "MXFP4", 32, 17),
    (40, "NVFP4", 64, 36),
    (41, "Q1_0", 128, 18),
    (42, "Q2_0", 64, 18),  # ggml-common.h block_q2_0: fp16 scale + 64 x 2 bits (newer than gguf 0.19)
]

GGML_TYPES: dict[int, GGMLType] = {t[0]: GGMLType(*t) for t in _TYPES}
GGML_TYPES_BY_NAME: dict[str, GGMLType] = {t.name: t for t in GGML_TYPES.values()}


def ggml_type(name_or_id: str | int) -> GGMLType:
    """Look a type up by name (case-insensitive) or numeric id; KeyError if unknown."""
    if isinstance(name_or_id, int):
        return GGML_TYPES[name_or_id]
    return GGML_TYPES_BY_NAME[name_or_id.upper()]


# llama_ftype: what users call "the quant" of a GGUF file (general.file_type).
# id -> label as users know it (Q4_K_M, not MOSTLY_Q4_K_M).
LLAMA_FILE_TYPES: dict[int, str] = {
    0: "F32",
    1: "F16",
    2: "Q4_0",
    3: "Q4_1",
    7: "Q8_0",
    8: "Q5_0",
    9: "Q5_1",
    10: "Q2_K",
    11: "Q3_K_S",
    12: "Q3_K_M",
    13: "Q3_K_L",
    14: "Q4_K_S",
    15: "Q4_K_M",
    16: "Q5_K_S",
    17: "Q5_K_M",
    18: "Q6_K",
    19: "IQ2_XXS",
    20: "IQ2_XS",
    21: "Q2_K_S",
    22: "IQ3_XS",
    23: "IQ3_XXS",
    24: "IQ1_S",
    25: "IQ4_NL",
    26: "IQ3_S",
    27: "IQ3_M",
    28: "IQ2_S",
    29: "IQ2_M",
    30: "IQ4_XS",
    31: "IQ1_M",
    32: "BF16",
    36: "TQ1_0",
    37: "TQ2_0",
    38: "MXFP4_MOE",
    39: "NVFP4",
    40: "Q1_0",
    41: "Q2_0",  # include/llama.h of the vendored llama.cpp (newer than gguf 0.19)
}
LLAMA_FILE_TYPE_IDS: dict[str, int] = {v: k for k, v in LLAMA_FILE_TYPES.items()}

# The ggml type that carries most weights ("base type") of each llama file type; used to
# check a file's declared file_type against its actual tensor mix.
FILE_TYPE_BASE: dict[str, str] = {
    "F32": "F32", "F16": "F16", "BF16": "BF16", "Q4_0": "Q4_0", "Q4_1": "Q4_1",
    "Q5_0": "Q5_0", "Q5_1": "Q5_1", "Q8_0": "Q8_0", "Q2_K": "Q2_K", "Q2_K_S": "Q2_K",
    "Q3_K_S": "Q3_K", "Q3_K_M": "Q3_K", "Q3_K_L": "Q3_K", "Q4_K_S": "Q4_K",
    "Q4_K_M": "Q4_K", "Q5_K_S": "Q5_K", "Q5_K_M": "Q5_K", "Q6_K": "Q6_K",
    "IQ2_XXS": "IQ2_XXS", "IQ2_XS": "IQ2_XS", "IQ2_S": "IQ2_S", "IQ2_M": "IQ2_S",
    "IQ3_XS": "IQ3_S", "IQ3_XXS": "IQ3_XXS", "IQ3_S": "IQ3_S", "IQ3_M": "IQ3_S",
    "IQ1_S": "IQ1_S", "IQ1_M": "IQ1_M", "IQ4_NL": "IQ4_NL", "IQ4_XS": "IQ4_XS",
    "TQ1_0": "TQ1_0", "TQ2_0": "TQ2_0", "MXFP4_MOE": "MXFP4", "NVFP4": "NVFP4",
    "Q1_0": "Q1_0", "Q2_0": "Q2_0",
}
