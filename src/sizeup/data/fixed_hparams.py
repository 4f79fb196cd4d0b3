"""Hyperparameters llama.cpp fixes in its code for an architecture, whatever the GGUF file says.

Some loaders ignore the metadata keys the converter writes and use constants instead; a model
whose own values differ cannot be loaded (the tensor shapes disagree) or runs with llama.cpp's
value. Source: the llama.cpp vendored by llama-cpp-python 0.3.36.

Gemma 3n (``gemma3n``):

* ``n_layer_kv_from_start`` = 20: ``src/models/gemma3n.cpp`` ``load_arch_hparams`` sets it
  outright (the file's ``gemma3n.attention.shared_kv_layers`` is not read). Layers from 20 on
  have no KV cache of their own (``llama_hparams::has_kv``, ``src/llama-hparams.cpp``): each
  reuses layer 18 (sliding) or 19 (global) (``reuse`` callback in ``src/llama-model.cpp``
  ``create_memory``). Both released models agree: E2B has 30 layers of which 10 share,
  E4B 35 of which 15 (``num_kv_shared_layers``).
* ``altup_n`` = 4, ``laurel_rank`` = 64, ``per_layer_embd`` = 256: the defaults of
  ``n_altup``, ``laurel_rank`` and ``n_embd_altup`` in ``src/llama-hparams.h``, which no loader
  overwrites (the converter's ``altup.num_inputs`` / ``embedding_length_per_layer_input`` keys
  are not read); ``load_arch_tensors`` sizes AltUp, LAuReL and the per-layer embeddings by them.
  ``conversion/gemma.py`` (``Gemma3NModel``) asserts ``altup_num_inputs == 4``.
"""

from __future__ import annotations

GEMMA3N: dict[str, int] = {
    "n_layer_kv_from_start": 20,
    "altup_n": 4,
    "laurel_rank": 64,
    "per_layer_embd": 256,
}
