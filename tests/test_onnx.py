"""describe_onnx on real ONNX files built with onnx.helper in tmp dirs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from sizeup.errors import BadModelFile
from sizeup.formats.onnx_model import describe_onnx


def build(tmp_path: Path, external: bool = False, name: str = "model.onnx") -> Path:
    rng = np.random.default_rng(0)
    emb = numpy_helper.from_array(rng.standard_normal((100, 16)).astype(np.float32), "model.embed_tokens.weight")
    w = numpy_helper.from_array(rng.standard_normal((16, 32)).astype(np.float16), "layers.0.mlp.weight")
    b = numpy_helper.from_array(np.zeros(32, np.float32), "layers.0.mlp.bias")
    nodes = [
        helper.make_node("Gather", ["model.embed_tokens.weight", "input_ids"], ["h"]),
        helper.make_node("Cast", ["h"], ["h16"], to=TensorProto.FLOAT16),
        helper.make_node("MatMul", ["h16", "layers.0.mlp.weight"], ["y16"]),
        helper.make_node("Cast", ["y16"], ["y"], to=TensorProto.FLOAT),
        helper.make_node("Add", ["y", "layers.0.mlp.bias"], ["logits"]),
    ]
    graph = helper.make_graph(
        nodes, "tiny",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", "seq", 32])],
        initializer=[emb, w, b],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="sizeup-test")
    onnx.checker.check_model(model)
    p = tmp_path / name
    if external:
        onnx.save_model(model, str(p), save_as_external_data=True, all_tensors_to_one_file=True,
                        location="model.onnx.data", size_threshold=0)
    else:
        onnx.save_model(model, str(p))
    return p


N_PARAMS = 100 * 16 + 16 * 32 + 32


def test_inline_initializers(tmp_path: Path):
    p = build(tmp_path)
    d = describe_onnx(p)
    assert d.source == "onnx" and d.params.total == N_PARAMS and d.params.embedding == 1600
    assert d.file_size == p.stat().st_size and d.files == [str(p)]
    assert d.extra["opset"] == [{"domain": "ai.onnx", "version": 17}]
    assert d.extra["inputs"] == [{"name": "input_ids", "dtype": "INT64", "shape": ["batch", "seq"]}]
    assert d.extra["outputs"][0]["shape"] == ["batch", "seq", 32]
    types = {s.dtype: s.n_bytes for s in d.quant.by_type}
    assert types == {"FLOAT": (1600 + 32) * 4, "FLOAT16": 512 * 2}
    assert d.arch is None and any("architecture unknown" in w for w in d.warnings)
    assert d.runtimes == ["ONNX Runtime"]


def test_external_data_counted_and_checked(tmp_path: Path):
    p = build(tmp_path, external=True)
    data = tmp_path / "model.onnx.data"
    d = describe_onnx(p)
    assert d.params.total == N_PARAMS
    assert d.file_size == p.stat().st_size + data.stat().st_size
    assert d.extra["external_data_files"] == ["model.onnx.data"]
    with open(data, "r+b") as f:  # truncated side file: the last tensor no longer fits
        f.truncate(data.stat().st_size - 10)
    with pytest.raises(BadModelFile, match="runs past the end"):
        describe_onnx(p)
    data.unlink()
    with pytest.raises(BadModelFile, match="missing"):
        describe_onnx(p)


def test_external_location_outside_folder_refused(tmp_path: Path):
    p = build(tmp_path, external=True)
    m = onnx.load(str(p), load_external_data=False)
    for t in m.graph.initializer:
        for e in t.external_data:
            if e.key == "location":
                e.value = "../../etc/passwd"
    onnx.save_model(m, str(p))
    with pytest.raises(BadModelFile, match="outside the model folder"):
        describe_onnx(p)


def test_genai_config_gives_architecture(tmp_path: Path):
    p = build(tmp_path)
    (tmp_path / "genai_config.json").write_text(json.dumps({"model": {
        "type": "qwen2", "context_length": 32768, "vocab_size": 151936,
        "decoder": {"hidden_size": 896, "num_attention_heads": 14, "num_key_value_heads": 2,
                    "num_hidden_layers": 24, "head_size": 64}}}))
    d = describe_onnx(p)
    assert d.arch.name == "qwen2" and d.arch.n_layer == 24 and d.arch.n_head_kv_max == 2 and d.arch.n_ctx_train == 32768


def test_matmulnbits_logical_params(tmp_path: Path):
    K, N, block = 64, 32, 32
    blob = numpy_helper.from_array(np.zeros((N, K // block, block // 2), np.uint8), "w_q4")
    scales = numpy_helper.from_array(np.ones(N * K // block, np.float32), "w_scales")
    node = helper.make_node("MatMulNBits", ["x", "w_q4", "w_scales"], ["y"], domain="com.microsoft", K=K, N=N, bits=4, block_size=block)
    graph = helper.make_graph([node], "q", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, K])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, N])], initializer=[blob, scales])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
    p = tmp_path / "q.onnx"
    onnx.save_model(model, str(p))
    d = describe_onnx(p)
    assert d.params.total == K * N and d.quant.label == "int4 (MatMulNBits)"
    assert 4.0 < d.quant.bits_per_weight < 6.0


@pytest.mark.parametrize("content", [b"", b"\x08\x07garbage\xff\xff\xff\xff", b"not onnx at all" * 10])
def test_garbage_is_one_line(tmp_path: Path, content: bytes):
    p = tmp_path / "bad.onnx"
    p.write_bytes(content)
    with pytest.raises(BadModelFile) as e:
        describe_onnx(p)
    assert "\n" not in str(e.value)


def test_constant_node_weights_counted(tmp_path: Path):
    w = numpy_helper.from_array(np.ones((8, 4), np.float32), "w_const")
    nodes = [helper.make_node("Constant", [], ["w"], value=w), helper.make_node("MatMul", ["x", "w"], ["y"])]
    graph = helper.make_graph(nodes, "c", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    p = tmp_path / "c.onnx"
    onnx.save_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(p))
    d = describe_onnx(p)
    assert d.params.total == 32 and d.tensors[0].name == "w_const"
