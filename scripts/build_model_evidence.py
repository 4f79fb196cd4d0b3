"""Build src/sizeup/data/model_evidence.json: published benchmark figures per Hugging Face id.

Sources, each figure keeping its own URL:

* the llm-stats community dataset (https://github.com/JonathanChavezTamales/llm-leaderboard,
  ``data/organizations/*/models/*/benchmarks.json``): publisher-reported scores, each with the
  link to the model card / blog / paper it was copied from (``self_reported_source_link``);
* figures read from Qwen's 2507 model cards, which that dataset lacks (``MANUAL`` below).

Usage: python scripts/build_model_evidence.py /path/to/llm-leaderboard [commit]
(a checkout or an extracted tree). Only the benchmarks sizeup blends are kept, as percentages.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "src" / "sizeup" / "data" / "model_evidence.json"
KEEP = {"mmlu-pro", "gpqa", "livecodebench", "ifeval", "humaneval", "mbpp", "math", "math-500", "aime-2024",
        "aime-2025", "arena-hard", "big-bench-hard", "mmlu", "aider-polyglot", "multipl-e", "swe-bench-verified"}
# llm-stats ids whose names do not normalize to the Hugging Face repo name
ALIASES = {
    "qwen-2.5-7b-instruct": "Qwen/Qwen2.5-7B-Instruct", "qwen-2.5-14b-instruct": "Qwen/Qwen2.5-14B-Instruct",
    "qwen-2.5-32b-instruct": "Qwen/Qwen2.5-32B-Instruct", "qwen-2.5-72b-instruct": "Qwen/Qwen2.5-72B-Instruct",
    "qwen-2.5-coder-7b-instruct": "Qwen/Qwen2.5-Coder-7B-Instruct",
    "qwen-2.5-coder-32b-instruct": "Qwen/Qwen2.5-Coder-32B-Instruct",
    "phi-4-mini": "microsoft/Phi-4-mini-instruct", "llama-4-scout": "meta-llama/Llama-4-Scout-17B-16E-Instruct",
    "llama-4-maverick": "meta-llama/Llama-4-Maverick-17B-128E-Instruct",
    "llama-3.1-nemotron-70b-instruct": "nvidia/Llama-3.1-Nemotron-70B-Instruct-HF",
    "nemotron-nano-9b-v2": "nvidia/NVIDIA-Nemotron-Nano-9B-v2",
    "llama-3.3-nemotron-super-49b-v1": "nvidia/Llama-3_3-Nemotron-Super-49B-v1",
    "gemma-3n-e4b-it": "google/gemma-3n-E4B-it", "gemma-3n-e2b-it": "google/gemma-3n-E2B-it",
}
# HF ids the automatic match is tried against: org/name pairs whose lower-cased, punctuation-free
# repo name equals the llm-stats id's (e.g. "gpt-oss-20b" -> openai/gpt-oss-20b)
ORGS = {"meta": "meta-llama", "qwen": "Qwen", "google": "google", "microsoft": "microsoft", "mistral": "mistralai",
        "deepseek": "deepseek-ai", "moonshotai": "moonshotai", "openai": "openai", "ibm": "ibm-granite",
        "zai-org": "zai-org", "nvidia": "nvidia"}
CASE = {  # repo names as the publishers spell them on the Hub
    "llama-3.1-8b-instruct": "Llama-3.1-8B-Instruct", "llama-3.1-70b-instruct": "Llama-3.1-70B-Instruct",
    "llama-3.1-405b-instruct": "Llama-3.1-405B-Instruct", "llama-3.2-3b-instruct": "Llama-3.2-3B-Instruct",
    "llama-3.3-70b-instruct": "Llama-3.3-70B-Instruct", "qwq-32b": "QwQ-32B", "qwen2-7b-instruct": "Qwen2-7B-Instruct",
    "qwen2-72b-instruct": "Qwen2-72B-Instruct",
    "qwen3-32b": "Qwen3-32B", "qwen3-30b-a3b": "Qwen3-30B-A3B", "qwen3-235b-a22b": "Qwen3-235B-A22B",
    "qwen3-235b-a22b-instruct-2507": "Qwen3-235B-A22B-Instruct-2507",
    "qwen3-235b-a22b-thinking-2507": "Qwen3-235B-A22B-Thinking-2507",
    "qwen3-next-80b-a3b-instruct": "Qwen3-Next-80B-A3B-Instruct", "qwen3-next-80b-a3b-thinking": "Qwen3-Next-80B-A3B-Thinking",
    "phi-3.5-mini-instruct": "Phi-3.5-mini-instruct", "phi-3.5-moe-instruct": "Phi-3.5-MoE-instruct",
    "phi-4": "phi-4", "phi-4-reasoning": "Phi-4-reasoning",
    "phi-4-reasoning-plus": "Phi-4-reasoning-plus", "phi-4-mini-reasoning": "Phi-4-mini-reasoning",
    "mistral-nemo-instruct-2407": "Mistral-Nemo-Instruct-2407", "mistral-small-24b-instruct-2501": "Mistral-Small-24B-Instruct-2501",
    "mistral-small-3.1-24b-instruct-2503": "Mistral-Small-3.1-24B-Instruct-2503",
    "mistral-small-3.2-24b-instruct-2506": "Mistral-Small-3.2-24B-Instruct-2506",
    "devstral-small-2507": "Devstral-Small-2507", "magistral-small-2506": "Magistral-Small-2506",
    "ministral-8b-instruct-2410": "Ministral-8B-Instruct-2410", "codestral-22b": "Codestral-22B-v0.1",
    "deepseek-v3": "DeepSeek-V3", "deepseek-v3-0324": "DeepSeek-V3-0324", "deepseek-r1": "DeepSeek-R1",
    "deepseek-r1-0528": "DeepSeek-R1-0528", "deepseek-v2.5": "DeepSeek-V2.5", "deepseek-v3.1": "DeepSeek-V3.1",
    "deepseek-r1-distill-qwen-1.5b": "DeepSeek-R1-Distill-Qwen-1.5B", "deepseek-r1-distill-qwen-7b": "DeepSeek-R1-Distill-Qwen-7B",
    "deepseek-r1-distill-qwen-14b": "DeepSeek-R1-Distill-Qwen-14B", "deepseek-r1-distill-qwen-32b": "DeepSeek-R1-Distill-Qwen-32B",
    "deepseek-r1-distill-llama-8b": "DeepSeek-R1-Distill-Llama-8B", "deepseek-r1-distill-llama-70b": "DeepSeek-R1-Distill-Llama-70B",
    "kimi-k2-instruct": "Kimi-K2-Instruct", "kimi-k2-instruct-0905": "Kimi-K2-Instruct-0905",
    "gpt-oss-20b": "gpt-oss-20b", "gpt-oss-120b": "gpt-oss-120b",
    "granite-3.3-8b-instruct": "granite-3.3-8b-instruct",
    "glm-4.5": "GLM-4.5", "glm-4.5-air": "GLM-4.5-Air", "glm-4.6": "GLM-4.6",
    "gemma-2-9b-it": "gemma-2-9b-it", "gemma-2-27b-it": "gemma-2-27b-it", "gemma-3-1b-it": "gemma-3-1b-it",
    "gemma-3-4b-it": "gemma-3-4b-it", "gemma-3-12b-it": "gemma-3-12b-it", "gemma-3-27b-it": "gemma-3-27b-it",
}

_QWEN_2507_30B = "https://huggingface.co/Qwen/Qwen3-30B-A3B-Instruct-2507"
_QWEN_2507_30B_T = "https://huggingface.co/Qwen/Qwen3-30B-A3B-Thinking-2507"
_QWEN_2507_4B = "https://huggingface.co/Qwen/Qwen3-4B-Instruct-2507"
_QWEN_2507_4B_T = "https://huggingface.co/Qwen/Qwen3-4B-Thinking-2507"
_QWEN_NEXT = "https://huggingface.co/Qwen/Qwen3-Next-80B-A3B-Instruct"
# (hf id, benchmark, score %, method, source): read from the model cards' performance tables
MANUAL = [
    ("Qwen/Qwen3-30B-A3B-Instruct-2507", "mmlu-pro", 78.4, "model card table", _QWEN_2507_30B),
    ("Qwen/Qwen3-30B-A3B-Instruct-2507", "gpqa", 70.4, "model card table", _QWEN_2507_30B),
    ("Qwen/Qwen3-30B-A3B-Instruct-2507", "livecodebench", 43.2, "v6 (25.02-25.05)", _QWEN_2507_30B),
    ("Qwen/Qwen3-30B-A3B-Instruct-2507", "ifeval", 84.7, "model card table", _QWEN_2507_30B),
    ("Qwen/Qwen3-30B-A3B-Instruct-2507", "aime-2025", 61.3, "model card table", _QWEN_2507_30B),
    ("Qwen/Qwen3-30B-A3B-Instruct-2507", "multipl-e", 83.8, "model card table", _QWEN_2507_30B),
    ("Qwen/Qwen3-30B-A3B-Instruct-2507", "aider-polyglot", 35.6, "model card table", _QWEN_2507_30B),
    ("Qwen/Qwen3-30B-A3B-Thinking-2507", "mmlu-pro", 80.9, "model card table", _QWEN_2507_30B_T),
    ("Qwen/Qwen3-30B-A3B-Thinking-2507", "gpqa", 73.4, "model card table", _QWEN_2507_30B_T),
    ("Qwen/Qwen3-30B-A3B-Thinking-2507", "livecodebench", 66.0, "v6 (25.02-25.05)", _QWEN_2507_30B_T),
    ("Qwen/Qwen3-30B-A3B-Thinking-2507", "ifeval", 88.9, "model card table", _QWEN_2507_30B_T),
    ("Qwen/Qwen3-30B-A3B-Thinking-2507", "aime-2025", 85.0, "model card table", _QWEN_2507_30B_T),
    ("Qwen/Qwen3-4B-Instruct-2507", "mmlu-pro", 69.6, "model card table", _QWEN_2507_4B),
    ("Qwen/Qwen3-4B-Instruct-2507", "gpqa", 62.0, "model card table", _QWEN_2507_4B),
    ("Qwen/Qwen3-4B-Instruct-2507", "livecodebench", 35.1, "v6 (25.02-25.05)", _QWEN_2507_4B),
    ("Qwen/Qwen3-4B-Instruct-2507", "ifeval", 83.4, "model card table", _QWEN_2507_4B),
    ("Qwen/Qwen3-4B-Instruct-2507", "aime-2025", 47.4, "model card table", _QWEN_2507_4B),
    ("Qwen/Qwen3-4B-Instruct-2507", "multipl-e", 76.8, "model card table", _QWEN_2507_4B),
    ("Qwen/Qwen3-4B-Instruct-2507", "aider-polyglot", 12.9, "model card table", _QWEN_2507_4B),
    ("Qwen/Qwen3-4B", "mmlu-pro", 58.0, "non-thinking, Qwen3-4B-Instruct-2507 model card table", _QWEN_2507_4B),
    ("Qwen/Qwen3-4B", "gpqa", 41.7, "non-thinking, Qwen3-4B-Instruct-2507 model card table", _QWEN_2507_4B),
    ("Qwen/Qwen3-4B", "livecodebench", 26.4, "non-thinking, v6", _QWEN_2507_4B),
    ("Qwen/Qwen3-4B", "ifeval", 81.2, "non-thinking, Qwen3-4B-Instruct-2507 model card table", _QWEN_2507_4B),
    ("Qwen/Qwen3-4B-Thinking-2507", "mmlu-pro", 74.0, "model card table", _QWEN_2507_4B_T),
    ("Qwen/Qwen3-4B-Thinking-2507", "gpqa", 65.8, "model card table", _QWEN_2507_4B_T),
    ("Qwen/Qwen3-4B-Thinking-2507", "livecodebench", 55.2, "v6 (25.02-25.05)", _QWEN_2507_4B_T),
    ("Qwen/Qwen3-4B-Thinking-2507", "ifeval", 87.4, "model card table", _QWEN_2507_4B_T),
    ("Qwen/Qwen3-4B-Thinking-2507", "aime-2025", 81.3, "model card table", _QWEN_2507_4B_T),
    ("Qwen/Qwen3-Next-80B-A3B-Instruct", "mmlu-pro", 80.6, "model card table", _QWEN_NEXT),
    ("Qwen/Qwen3-Next-80B-A3B-Instruct", "gpqa", 72.9, "model card table", _QWEN_NEXT),
    ("Qwen/Qwen3-Next-80B-A3B-Instruct", "livecodebench", 56.6, "v6 (25.02-25.05)", _QWEN_NEXT),
    ("Qwen/Qwen3-Next-80B-A3B-Instruct", "ifeval", 87.6, "model card table", _QWEN_NEXT),
]


def _norm(s: str) -> str:
    return re.sub(r"[^a-z0-9]", "", s.lower())


def main() -> int:
    root = Path(sys.argv[1])
    commit = sys.argv[2] if len(sys.argv) > 2 else "unknown"
    orgs = root / "data" / "organizations" if (root / "data").is_dir() else root
    models: dict[str, dict[str, dict]] = {}
    for f in sorted(orgs.glob("*/models/*/benchmarks.json")):
        org, mid = f.parts[-4], f.parts[-2]
        hf = ALIASES.get(mid) or (f"{ORGS[org]}/{CASE[mid]}" if org in ORGS and mid in CASE else None)
        if hf is None:
            continue
        for b in json.loads(f.read_text()):
            bid = b.get("benchmark_id")
            method = str(b.get("analysis_method") or "")
            if bid not in KEEP or "with tools" in method.lower() or not b.get("self_reported_source_link"):
                continue
            score = float(b["score"]) * 100
            cur = models.setdefault(hf, {}).get(bid)
            if cur is None or score > cur["score"]:
                models[hf][bid] = {"benchmark": bid, "score": round(score, 2), "method": method[:80],
                                   "source": b["self_reported_source_link"],
                                   "via": f"llm-stats {org}/{mid}"}
    for hf, bid, score, method, src in MANUAL:
        models.setdefault(hf, {})[bid] = {"benchmark": bid, "score": score, "method": method, "source": src,
                                          "via": "model card"}
    doc = {
        "_about": ("Published benchmark figures (percent) per Hugging Face id, each with the URL it was "
                   "reported at. Built by scripts/build_model_evidence.py from the llm-stats dataset "
                   "(https://github.com/JonathanChavezTamales/llm-leaderboard) and Qwen model cards. "
                   "Self-reported figures; benchmark versions and settings differ between publishers, "
                   "which is why sizeup compares each model with others on the same benchmark only."),
        "dataset_commit": commit,
        "models": {k: sorted(v.values(), key=lambda x: x["benchmark"]) for k, v in sorted(models.items())},
    }
    OUT.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
    print(f"{len(models)} models, {sum(len(v) for v in models.values())} figures -> {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
