"""Our ggml type tables against the gguf package's own (the reference mirror of ggml.h)."""

from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType, LlamaFileType

from sizeup.data.ggml_types import FILE_TYPE_BASE, GGML_TYPES, LLAMA_FILE_TYPES, ggml_type


def test_every_gguf_type_matches():
    for t in GGMLQuantizationType:
        if t not in GGML_QUANT_SIZES:
            continue
        ours = GGML_TYPES[t.value]
        assert ours.name == t.name
        assert (ours.block_size, ours.type_size) == GGML_QUANT_SIZES[t]


def test_file_types_match():
    for f in LlamaFileType:
        if f.name == "GUESSED":
            continue
        label = f.name.removeprefix("MOSTLY_").removeprefix("ALL_")
        assert LLAMA_FILE_TYPES[f.value] == label
        assert label in FILE_TYPE_BASE


def test_bits_per_weight_known_values():
    assert ggml_type("Q4_0").bits_per_weight == 4.5
    assert ggml_type("q4_k").bits_per_weight == 4.5
    assert ggml_type("Q6_K").bits_per_weight == 6.5625
    assert ggml_type("Q8_0").bits_per_weight == 8.5
    assert ggml_type(1).nbytes(4096) == 8192
