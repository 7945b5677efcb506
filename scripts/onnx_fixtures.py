#!/usr/bin/env python3
"""Writes the small ONNX fixtures of tests/fixtures/ (with the `onnx` package only, no
PyTorch) and their reference outputs from onnxruntime; `--check DIR` loads the ONNX files
whittle exported (tests/fixtures/exported/) in onnxruntime and compares them with the
references.

    python3 -m venv /tmp/venv-onnx && /tmp/venv-onnx/bin/pip install onnx onnxruntime numpy
    /tmp/venv-onnx/bin/python scripts/onnx_fixtures.py            # writes tests/fixtures/*.onnx, *.json
    /tmp/venv-onnx/bin/python scripts/onnx_fixtures.py --check tests/fixtures/exported

Each reference JSON holds `input` (NCHW, what whittle is fed, flat), `input_shape`,
`output` (flat) and `output_shape`; the weights are seeded, so reruns write the same files.
"""

import argparse
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "tests", "fixtures")
OPSET = 13


class Builder:
    """Collects nodes and initializers of one graph with seeded weights."""

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)
        self.nodes = []
        self.inits = []
        self.n = 0

    def const(self, name, shape, scale=0.3, positive=False):
        v = (self.rng.standard_normal(shape) * float(scale)).astype(np.float32)
        if positive:
            v = (np.abs(v) + 0.5).astype(np.float32)
        self.inits.append(numpy_helper.from_array(v, name))
        return name

    def int64(self, name, values):
        self.inits.append(numpy_helper.from_array(np.array(values, dtype=np.int64), name))
        return name

    def node(self, op, inputs, name=None, **attrs):
        self.n += 1
        name = name or f"{op.lower()}{self.n}"
        self.nodes.append(helper.make_node(op, inputs, [name], name=name, **attrs))
        return name

    def conv(self, x, cin, cout, k, bias=True, **attrs):
        name = f"conv{self.n + 1}"
        w = self.const(name + ".w", [cout, cin, k, k], scale=1.0 / np.sqrt(cin * k * k))
        ins = [x, w] + ([self.const(name + ".b", [cout], 0.1)] if bias else [])
        return self.node("Conv", ins, name=name, kernel_shape=[k, k], **attrs)

    def bn(self, x, c, eps=1e-3):
        name = f"bn{self.n + 1}"
        ins = [
            x,
            self.const(name + ".gamma", [c], positive=True),
            self.const(name + ".beta", [c], 0.1),
            self.const(name + ".mean", [c], 0.1),
            self.const(name + ".var", [c], positive=True),
        ]
        return self.node("BatchNormalization", ins, name=name, epsilon=eps)

    def model(self, name, input_shape, output, out_dim):
        inp = helper.make_tensor_value_info("input", TensorProto.FLOAT, input_shape)
        out = helper.make_tensor_value_info(output, TensorProto.FLOAT, ["N", out_dim])
        g = helper.make_graph(self.nodes, name, [inp], [out], self.inits)
        m = helper.make_model(
            g, producer_name="whittle-fixtures", opset_imports=[helper.make_opsetid("", OPSET)]
        )
        m.ir_version = 8
        onnx.checker.check_model(m, full_check=True)
        return m


def sequential():
    """Conv+BN+ReLU, MaxPool, Dropout, Conv+Clip(0..6), Identity, AveragePool, Flatten,
    Gemm (transB=1), Softmax."""
    b = Builder(1)
    x = b.conv("input", 3, 8, 3, pads=[1, 1, 1, 1])
    x = b.bn(x, 8)
    x = b.node("Relu", [x])
    x = b.node("MaxPool", [x], kernel_shape=[2, 2], strides=[2, 2])
    x = b.node("Dropout", [x])
    x = b.conv(x, 8, 16, 3, pads=[1, 1, 1, 1], bias=False)
    lo, hi = "clip.lo", "clip.hi"
    b.inits.append(numpy_helper.from_array(np.array(0.0, np.float32), lo))
    b.inits.append(numpy_helper.from_array(np.array(6.0, np.float32), hi))
    x = b.node("Clip", [x, lo, hi])
    x = b.node("Identity", [x])
    x = b.node("AveragePool", [x], kernel_shape=[2, 2], strides=[2, 2])
    x = b.node("Flatten", [x], axis=1)
    w = b.const("fc.w", [10, 16 * 2 * 2], 0.3)
    bias = b.const("fc.b", [10], 0.1)
    x = b.node("Gemm", [x, w, bias], name="fc", transB=1)
    x = b.node("Softmax", [x], name="probs", axis=-1)
    return b.model("sequential", ["N", 3, 8, 8], x, 10), [3, 8, 8]


def residual():
    """A ResNet block with a strided projection shortcut (1x1 conv), GlobalAveragePool,
    Reshape to flat, MatMul + Add."""
    b = Builder(2)
    x = b.conv("input", 3, 8, 3, pads=[1, 1, 1, 1])
    x = b.bn(x, 8)
    stem = b.node("Relu", [x])
    y = b.conv(stem, 8, 16, 3, strides=[2, 2], pads=[0, 0, 1, 1])
    y = b.bn(y, 16)
    y = b.node("Relu", [y])
    y = b.conv(y, 16, 16, 3, pads=[1, 1, 1, 1])
    y = b.bn(y, 16)
    s = b.conv(stem, 8, 16, 1, strides=[2, 2])
    x = b.node("Add", [y, s])
    x = b.node("Relu", [x])
    x = b.node("GlobalAveragePool", [x])
    shape = b.int64("flat.shape", [-1, 16])
    x = b.node("Reshape", [x, shape])
    w = b.const("fc.w", [16, 10], 0.3)
    x = b.node("MatMul", [x, w], name="fc")
    bias = b.const("fc.b", [10], 0.1)
    x = b.node("Add", [x, bias], name="logits")
    return b.model("residual", ["N", 3, 8, 8], x, 10), [3, 8, 8]


def nhwc():
    """An NHWC input with a leading Transpose to NCHW; Gemm with transB=0."""
    b = Builder(3)
    x = b.node("Transpose", ["input"], name="to_nchw", perm=[0, 3, 1, 2])
    x = b.conv(x, 3, 4, 3, pads=[1, 1, 1, 1])
    x = b.node("Relu", [x])
    x = b.node("Flatten", [x])
    w = b.const("fc.w", [4 * 6 * 6, 10], 0.1)
    bias = b.const("fc.b", [10], 0.1)
    x = b.node("Gemm", [x, w, bias], name="fc")
    return b.model("nhwc", ["N", 6, 6, 3], x, 10), [3, 6, 6]


def pad_conv():
    """A Pad (constant zeros, pads as an input) folded into the conv after it."""
    b = Builder(4)
    pads = b.int64("pad.pads", [0, 0, 1, 2, 0, 0, 1, 0])
    x = b.node("Pad", ["input", pads], name="pad", mode="constant")
    x = b.conv(x, 3, 8, 3)
    x = b.node("Relu", [x])
    x = b.node("GlobalAveragePool", [x])
    x = b.node("Flatten", [x])
    w = b.const("fc.w", [10, 8], 0.3)
    x = b.node("Gemm", [x, w], name="fc", transB=1)
    return b.model("pad_conv", ["N", 3, 8, 8], x, 10), [3, 8, 8]


def asymmetric():
    """Asymmetric explicit pads and auto_pad SAME_UPPER / SAME_LOWER on stride-2 convs."""
    b = Builder(5)
    x = b.conv("input", 3, 8, 3, strides=[2, 2], pads=[0, 0, 1, 1])
    x = b.node("Relu", [x])
    x = b.conv(x, 8, 8, 3, strides=[2, 2], auto_pad="SAME_UPPER")
    x = b.node("Relu", [x])
    x = b.conv(x, 8, 8, 2, strides=[1, 1], auto_pad="SAME_LOWER")
    x = b.node("Relu", [x])
    x = b.node("Flatten", [x])
    w = b.const("fc.w", [10, 8 * 3 * 3], 0.2)
    bias = b.const("fc.b", [10], 0.1)
    x = b.node("Gemm", [x, w, bias], name="fc", transB=1)
    return b.model("asymmetric", ["N", 3, 10, 10], x, 10), [3, 10, 10]


def gemm_transb():
    """Two dense layers: Gemm transB=1 with alpha/beta, then Gemm transB=0."""
    b = Builder(6)
    x = b.node("Flatten", ["input"])
    w = b.const("fc1.w", [12, 3 * 4 * 4], 0.2)
    bias = b.const("fc1.b", [12], 0.1)
    x = b.node("Gemm", [x, w, bias], name="fc1", transB=1, alpha=0.5, beta=2.0)
    x = b.node("Relu", [x])
    w = b.const("fc2.w", [12, 10], 0.3)
    bias = b.const("fc2.b", [1, 10], 0.1)
    x = b.node("Gemm", [x, w, bias], name="fc2", transB=0)
    return b.model("gemm_transb", ["N", 3, 4, 4], x, 10), [3, 4, 4]


def unsupported():
    """A Sigmoid: whittle refuses it by node name, op type and opset."""
    b = Builder(7)
    x = b.conv("input", 3, 4, 3, pads=[1, 1, 1, 1])
    x = b.node("Sigmoid", [x], name="squash")
    x = b.node("Flatten", [x])
    w = b.const("fc.w", [10, 4 * 4 * 4], 0.3)
    x = b.node("Gemm", [x, w], name="fc", transB=1)
    return b.model("unsupported", ["N", 3, 4, 4], x, 10), None


def dynamic():
    """A symbolic height: only the batch dimension may be dynamic."""
    b = Builder(8)
    x = b.conv("input", 3, 4, 3, pads=[1, 1, 1, 1])
    x = b.node("GlobalAveragePool", [x])
    x = b.node("Flatten", [x])
    w = b.const("fc.w", [10, 4], 0.3)
    x = b.node("Gemm", [x, w], name="fc", transB=1)
    return b.model("dynamic", ["N", 3, "H", 8], x, 10), None


FIXTURES_MADE = {
    "sequential": sequential,
    "residual": residual,
    "nhwc": nhwc,
    "pad_conv": pad_conv,
    "asymmetric": asymmetric,
    "gemm_transb": gemm_transb,
}
BAD = {"unsupported": unsupported, "dynamic": dynamic}


def run(path, x_nchw, nhwc_input):
    import onnxruntime as ort

    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    feed = x_nchw.transpose(0, 2, 3, 1) if nhwc_input else x_nchw
    name = sess.get_inputs()[0].name
    return sess.run(None, {name: np.ascontiguousarray(feed)})[0]


def write():
    os.makedirs(FIXTURES, exist_ok=True)
    for name, make in {**FIXTURES_MADE, **BAD}.items():
        model, chw = make()
        path = os.path.join(FIXTURES, name + ".onnx")
        onnx.save(model, path)
        if chw is None:
            continue
        rng = np.random.default_rng(100)
        x = rng.standard_normal([3] + chw).astype(np.float32)
        y = run(path, x, name == "nhwc")
        ref = {
            "input_shape": list(x.shape),
            "input": [float(v) for v in x.ravel()],
            "output_shape": list(y.shape),
            "output": [float(v) for v in y.ravel()],
        }
        with open(os.path.join(FIXTURES, name + ".json"), "w") as f:
            json.dump(ref, f)
        print(f"{name}: {len(model.graph.node)} nodes, output {list(y.shape)}")


def check(folder):
    """Every `NAME*.onnx` whittle exported into `folder` loads in onnxruntime and gives
    tests/fixtures/NAME.json's outputs (NCHW input) within 1e-5, unless a `NAME*.json`
    beside it holds its own reference (a pruned model's)."""
    bad = 0
    files = sorted(f for f in os.listdir(folder) if f.endswith(".onnx"))
    for f in files:
        stem = f[: -len(".onnx")]
        own = os.path.join(folder, stem + ".json")
        ref_path = own if os.path.exists(own) else os.path.join(FIXTURES, stem.split(".")[0] + ".json")
        with open(ref_path) as fh:
            ref = json.load(fh)
        x = np.array(ref["input"], np.float32).reshape(ref["input_shape"])
        want = np.array(ref["output"], np.float32).reshape(ref["output_shape"])
        model = onnx.load(os.path.join(folder, f))
        onnx.checker.check_model(model, full_check=True)
        got = run(os.path.join(folder, f), x, False)
        diff = float(np.abs(got - want).max())
        ok = diff <= 1e-5
        bad += not ok
        opset = model.opset_import[0].version
        print(f"{f}: opset {opset}, {len(model.graph.node)} nodes, max |diff| {diff:.2e} vs {os.path.basename(ref_path)} {'ok' if ok else 'FAIL'}")
    if not files:
        print(f"no .onnx files in {folder}")
        return 1
    return 1 if bad else 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", metavar="DIR", help="check whittle's exported files in DIR")
    a = ap.parse_args()
    sys.exit(check(a.check) if a.check else write())
