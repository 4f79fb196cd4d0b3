"""Which runtimes can load a model, by format and architecture."""

from __future__ import annotations

# Architectures llama.cpp loads (src/llama-arch.cpp LLM_ARCH_NAMES); a GGUF of another arch is
# reported as "llama.cpp (unsupported architecture?)" rather than silently claimed.
LLAMA_CPP_ARCHS = frozenset(
    """llama llama4 deci falcon grok gpt2 gptj gptneox mpt baichuan starcoder refact bert modern-bert
    nomic-bert nomic-bert-moe neo-bert jina-bert-v2 jina-bert-v3 bloom stablelm qwen qwen2 qwen2moe qwen2vl
    qwen3 qwen3moe qwen3next qwen3vl qwen3vlmoe phi2 phi3 phimoe plamo plamo2 codeshell orion internlm2 minicpm
    minicpm3 gemma gemma2 gemma3 gemma3n gemma-embedding starcoder2 mamba mamba2 jamba falcon-h1 xverse
    command-r cohere2 dbrx olmo olmo2 olmoe openelm arctic deepseek deepseek2 deepseek32 chatglm glm4 glm4moe bitnet t5
    t5encoder jais nemotron nemotron_h exaone exaone4 rwkv6 rwkv6qwen2 rwkv7 arwkv7 granite granitemoe
    granitehybrid chameleon wavtokenizer-dec plm bailingmoe bailingmoe2 dots1 arcee ernie4_5 ernie4_5-moe
    hunyuan-moe hunyuan-dense smollm3 gpt-oss lfm2 lfm2moe dream smallthinker llada llada-moe seed_oss
    grovemoe apertus minimax-m2 cogvlm kimi-linear""".split()
)


def runtimes_for(source: str, arch: str | None) -> list[str]:
    if source == "gguf":
        if arch is None or arch in LLAMA_CPP_ARCHS:
            return ["llama.cpp", "Ollama", "LM Studio"]
        return [f"llama.cpp (architecture '{arch}' not in sizeup's list of supported ones)"]
    if source == "safetensors":
        return ["transformers", "vLLM", "SGLang"]
    if source == "onnx":
        return ["ONNX Runtime"]
    if source == "catalog":
        return ["llama.cpp", "Ollama", "LM Studio", "transformers", "vLLM", "SGLang"]
    return []
