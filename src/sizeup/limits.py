"""Bounds for parsing untrusted model files.

Model files come from strangers. Every count and length read from a file is checked against
these limits *and* against the bytes actually left in the file before anything is allocated, so
a 40-byte file that claims 2**60 tensors fails at once instead of exhausting memory.
The limits sit far above anything real: the largest public GGUFs (DeepSeek V3, 671B) have about
1,100 tensors and 60 metadata keys; vocabularies reach about 262k tokens (Gemma 3).
"""

MAX_TENSORS = 1_000_000
MAX_KV_PAIRS = 100_000
MAX_STRING_BYTES = 64 * 1024 * 1024  # one GGUF string (chat templates can be ~100 kB; merges are arrays)
MAX_ARRAY_ITEMS = 16 * 1024 * 1024  # one GGUF array (vocabularies, merges, scores)
MAX_DIMS = 8  # GGML_MAX_DIMS is 4; allow a little slack, reject absurd values
MAX_TENSOR_NAME = 4096
MAX_JSON_HEADER_BYTES = 100_000_000  # safetensors header: the safetensors library's own MAX_HEADER_SIZE; real ones are < 10 MB
MAX_JSON_FILE_BYTES = 64 * 1024 * 1024  # config.json, index.json, Ollama manifests
MAX_SPLIT_PARTS = 10_000
MAX_LAYERS = 10_000
MAX_DIM_SIZE = 2**40  # one tensor dimension
MAX_GGUF_HEADER_BYTES = 256 * 1024 * 1024  # GGUF metadata + tensor infos; real ones are < 20 MB
