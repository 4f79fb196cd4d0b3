"""Instant estimates from a model's architecture: memory (llama.cpp and vLLM-style servers), speed.

Modules, one job each: :mod:`.config` (run parameters and llama.cpp's padding rules),
:mod:`.kv_cache` (KV cache and recurrent state per layer), :mod:`.buffers` (output and compute
buffers, runtime overhead), :mod:`.placement` (which layer on which device), :mod:`.memory`
(the per-device breakdown and the max-context / max-GPU-layers searches), :mod:`.serving`
(paged-KV serving capacity), and the quant-mix / weight predictors. Nothing is imported here so
that importing one estimator stays cheap.
"""
