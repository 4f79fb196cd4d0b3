"""Quality of a quantized model: perplexity, KL divergence against a reference, top-token agreement.

Modules, one job each:

* :mod:`.corpus` - the evaluation text (built-in "code" / "prose" corpora or a user file).
* :mod:`.logits` - running llama.cpp over the corpus the way ``llama-perplexity`` does.
* :mod:`.reference` - the compact, cached reference log-probabilities (top-k + tail mass).
* :mod:`.metrics` - pure statistics (PPL with uncertainty, KLD stats, RMS delta-p, same top).
* :mod:`.evaluate` - ties them together for one model (and optional reference).
* :mod:`.matrix` - quantize to many types and measure each: the quality-vs-size matrix.
* :mod:`.chart` - the quality-vs-size chart (matplotlib, PNG + SVG).
"""
