"""Licence -> openness class.

Open-source here means an OSI-approved licence that allows any use (Apache-2.0, MIT, BSD...).
Open weights means the weights are downloadable but the licence restricts use, field or scale
(Llama community licences, Gemma terms, Qwen research licence, CC-BY-NC...). Sources: OSI licence
list (opensource.org/licenses), the licence texts shipped with each model family.
"""

from __future__ import annotations

import re

from .model import OPEN_SOURCE, OPEN_WEIGHTS, UNKNOWN, License

# normalized licence id -> (openness, reason)
LICENSES: dict[str, tuple[str, str]] = {
    "apache-2.0": (OPEN_SOURCE, "Apache-2.0 is OSI-approved and permits any use"),
    "mit": (OPEN_SOURCE, "MIT is OSI-approved and permits any use"),
    "bsd-3-clause": (OPEN_SOURCE, "BSD-3-Clause is OSI-approved"),
    "bsd-2-clause": (OPEN_SOURCE, "BSD-2-Clause is OSI-approved"),
    "cc-by-4.0": (OPEN_SOURCE, "CC-BY-4.0 permits any use with attribution"),
    "cc-by-sa-4.0": (OPEN_SOURCE, "CC-BY-SA-4.0 permits any use with attribution and share-alike"),
    "gpl-3.0": (OPEN_SOURCE, "GPL-3.0 is OSI-approved"),
    "mpl-2.0": (OPEN_SOURCE, "MPL-2.0 is OSI-approved"),
    "openrail-m": (OPEN_WEIGHTS, "OpenRAIL-M attaches use restrictions"),
    "bigscience-openrail-m": (OPEN_WEIGHTS, "OpenRAIL-M attaches use restrictions"),
    "bigcode-openrail-m": (OPEN_WEIGHTS, "BigCode OpenRAIL-M attaches use restrictions"),
    "llama2": (OPEN_WEIGHTS, "Llama 2 Community License: acceptable-use policy, 700M-MAU limit"),
    "llama3": (OPEN_WEIGHTS, "Llama 3 Community License: acceptable-use policy, 700M-MAU limit"),
    "llama3.1": (OPEN_WEIGHTS, "Llama 3.1 Community License: acceptable-use policy, 700M-MAU limit"),
    "llama3.2": (OPEN_WEIGHTS, "Llama 3.2 Community License: acceptable-use policy, 700M-MAU limit"),
    "llama3.3": (OPEN_WEIGHTS, "Llama 3.3 Community License: acceptable-use policy, 700M-MAU limit"),
    "llama4": (OPEN_WEIGHTS, "Llama 4 Community License: acceptable-use policy, 700M-MAU limit"),
    "gemma": (OPEN_WEIGHTS, "Gemma Terms of Use: prohibited-use policy"),
    "qwen": (OPEN_WEIGHTS, "Qwen licence: commercial use limited above 100M MAU"),
    "qwen-research": (OPEN_WEIGHTS, "Qwen Research licence: non-commercial"),
    "deepseek": (OPEN_WEIGHTS, "DeepSeek model licence: use-based restrictions"),
    "cc-by-nc-4.0": (OPEN_WEIGHTS, "CC-BY-NC-4.0: non-commercial only"),
    "cc-by-nc-sa-4.0": (OPEN_WEIGHTS, "CC-BY-NC-SA-4.0: non-commercial only"),
    "mnpl": (OPEN_WEIGHTS, "Mistral Non-Production License: no production use"),
    "mrl": (OPEN_WEIGHTS, "Mistral Research License: non-commercial"),
    "falcon-llm": (OPEN_WEIGHTS, "Falcon LLM licence: use-based restrictions"),
    "tii-falcon-llm": (OPEN_WEIGHTS, "Falcon LLM licence: use-based restrictions"),
    "nvidia-open-model": (OPEN_WEIGHTS, "NVIDIA Open Model License: use-based conditions"),
    "tongyi-qianwen": (OPEN_WEIGHTS, "Tongyi Qianwen licence: commercial use above 100M MAU needs a licence from Alibaba"),
    "modified-mit": (OPEN_WEIGHTS, "Modified MIT (Kimi K2): products above 100M MAU or $20M monthly revenue must display the model name"),
    "internlm": (OPEN_WEIGHTS, "InternLM licence: weights open for research; commercial use after a free application"),
    "minicpm": (OPEN_WEIGHTS, "MiniCPM model licence: commercial use after registration, use restrictions apply"),
    "stabilityai-community": (OPEN_WEIGHTS, "Stability AI Community License: commercial use above $1M annual revenue needs an enterprise licence"),
    "lfm1.0": (OPEN_WEIGHTS, "LFM Open License v1.0 (Liquid AI): commercial use above $10M annual revenue needs a licence"),
    "exaone": (OPEN_WEIGHTS, "EXAONE AI Model License 1.2 - NC: non-commercial"),
    "jamba-open-model": (OPEN_WEIGHTS, "Jamba Open Model License (AI21): a custom licence with use-based restrictions"),
    "tencent-hunyuan-community": (OPEN_WEIGHTS, "Tencent Hunyuan Community License: not licensed in the EU, UK or South Korea; products above 100M MAU need a licence from Tencent"),
    "other": (UNKNOWN, "licence given as 'other': read the model card"),
}

_ALIASES = {
    "apache 2.0": "apache-2.0", "apache-2": "apache-2.0", "apache2": "apache-2.0", "apache license 2.0": "apache-2.0",
    "mit license": "mit", "llama-2": "llama2", "llama 3.1": "llama3.1", "llama 3.2": "llama3.2",
    "gemma terms of use": "gemma",
}


def normalize_license_id(raw: str | None) -> str | None:
    if not raw:
        return None
    s = str(raw).strip().lower()[:200]
    s = _ALIASES.get(s, s)
    # Licence URLs in GGUF metadata ("https://.../LICENSE") say little; match known words.
    if s.startswith("http"):
        for key in ("apache", "mit", "llama", "gemma", "qwen"):
            if key in s:
                return {"apache": "apache-2.0"}.get(key, key)
        return s
    return re.sub(r"\s+", "-", s)


def classify_license(raw: str | None) -> License:
    """Openness class with its reason, for a licence string as found in metadata or a card."""
    lid = normalize_license_id(raw)
    if lid is None:
        return License(None, UNKNOWN, "no licence in the model's metadata")
    if lid in LICENSES:
        openness, reason = LICENSES[lid]
        return License(lid, openness, reason)
    return License(lid, UNKNOWN, f"licence '{lid}' is not in sizeup's table: read it before use")
