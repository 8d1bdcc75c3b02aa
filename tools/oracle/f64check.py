#!/usr/bin/env python3
"""Run an exported graph in float64 and compare it with PyTorch's float64.

  f64check.py MODEL.onnx REFERENCE_DIR

A float32 export can differ from PyTorch's float64 output by more than the
tolerance for two reasons: float32 rounding (the model amplifies it) or a
semantic difference. This tells them apart: it rewrites the graph to
float64 (initializers, constants, casts to float), runs it with ONNX's
reference evaluator (numpy) on the reference inputs, and prints the max
abs diff from output_f64. Exact semantics give ~1e-12; a semantic
difference stays as large as in float32. Export the model with --inline
(the reference evaluator runs model-local functions too, but inlined
graphs are simpler). Needs `pip install onnx` in the oracle venv.
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator
from onnx.reference.op_run import OpRun
from safetensors.numpy import load_file


class LayerNormalization(OpRun):
    """LayerNormalization in the input's precision (the reference
    evaluator's computes in float32, its default stash_type)."""
    op_domain = ""

    def _run(self, x, scale, bias=None, axis=None, epsilon=None, stash_type=None):
        axis = -1 if axis is None else axis
        epsilon = 1e-5 if epsilon is None else epsilon
        axes = tuple(range(axis % x.ndim, x.ndim))
        mean = x.mean(axis=axes, keepdims=True)
        var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
        y = (x - mean) / np.sqrt(var + epsilon) * scale
        if bias is not None:
            y = y + bias
        return (y.astype(x.dtype),)


def fix_constant(n):
    # Constant(value_float=…) makes a float32 scalar: make it a double tensor
    if n.op_type != "Constant":
        return
    for a in list(n.attribute):
        if a.name in ("value_float", "value_floats"):
            v = np.array(a.f if a.name == "value_float" else list(a.floats), dtype=np.float64)
            n.attribute.remove(a)
            n.attribute.append(helper.make_attribute("value", numpy_helper.from_array(v)))


def nodes_to_f64(nodes):
    for n in nodes:
        fix_constant(n)
        for a in n.attribute:
            if a.name == "to" and a.i == TensorProto.FLOAT:
                a.i = TensorProto.DOUBLE
            if a.type == onnx.AttributeProto.TENSOR and a.t.data_type == TensorProto.FLOAT:
                a.t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(a.t).astype(np.float64), a.t.name))
            if a.type == onnx.AttributeProto.GRAPH:
                to_f64(a.g)


def to_f64(graph):
    for i, t in enumerate(graph.initializer):
        if t.data_type == TensorProto.FLOAT:
            graph.initializer[i].CopyFrom(numpy_helper.from_array(numpy_helper.to_array(t).astype(np.float64), t.name))
    for v in list(graph.input) + list(graph.output) + list(graph.value_info):
        if v.type.tensor_type.elem_type == TensorProto.FLOAT:
            v.type.tensor_type.elem_type = TensorProto.DOUBLE
    nodes_to_f64(graph.node)


def main():
    model = onnx.load(sys.argv[1])
    to_f64(model.graph)
    for f in model.functions:
        nodes_to_f64(f.node)
    io = load_file(sys.argv[2].rstrip("/") + "/io.safetensors")
    feeds = {}
    for i in model.graph.input:
        v = io["input." + i.name]
        if i.type.tensor_type.elem_type == TensorProto.BOOL:
            v = v.astype(bool)
        elif v.dtype == np.float32:
            v = v.astype(np.float64)
        feeds[i.name] = v
    out = ReferenceEvaluator(model, new_ops=[LayerNormalization]).run(None, feeds)[0]
    want = io["output_f64"]
    f32 = io["output"].astype(np.float64)
    print(f"graph in float64 vs PyTorch float64: max abs diff {np.abs(out - want).max():.3g} "
          f"(PyTorch float32 vs float64: {np.abs(f32 - want).max():.3g})")


if __name__ == "__main__":
    main()
