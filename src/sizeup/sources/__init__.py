"""Model sources: where a MODEL argument points, and how it becomes one ModelDescription.

:mod:`.dispatch` (``sizeup.describe``) takes whatever the user typed (a GGUF or split GGUF, an HF
directory or cache snapshot, ONNX, a pickle to refuse, an Ollama or LM Studio name, a catalog id,
a Hub reference or URL) and hands it to the right reader (:mod:`sizeup.formats` for files,
:mod:`sizeup.catalog`, or the remote readers below); local copies always win. :mod:`.local_scan`
(``sizeup.scan``) finds the models already on this machine.

Remote model sources: the Hugging Face Hub, any http(s) GGUF URL and the Ollama registry.

Everything here reads *headers only* (GGUF metadata and tensor infos, safetensors JSON headers,
config.json) through bounded HTTP requests (:mod:`.http_range`), and caches the parsed facts
(:mod:`.meta_cache`) so a second question about the same file makes no request.

Modules: :mod:`.refs` (what the user typed -> a reference), :mod:`.http_range` (bounded reads),
:mod:`.hub` (Hub API via huggingface_hub's endpoint, token and URL rules), :mod:`.remote_gguf`,
:mod:`.remote_safetensors`, :mod:`.ollama_registry`, :mod:`.meta_cache`, and :mod:`.resolve`
(a reference -> :class:`sizeup.model.ModelDescription`).
"""
