#!/usr/bin/env python3
"""Reference outputs of MLPerf Tiny's ResNet-8 (ONNX) from onnxruntime, for
tests/tests/onnx.rs: the pre-softmax logits and the probabilities of the first 100
CIFAR-10 test images, and the number of correct top-1 predictions on all 10,000.

    /tmp/venv-onnx/bin/python scripts/onnx_reference.py MODEL.onnx DATA_DIR \
        [--out tests/fixtures/resnet8_reference.json]

DATA_DIR holds cifar-10-batches-bin/test_batch.bin(.gz). The model takes raw pixels 0..255
(NCHW float); the logits are the input of its final Softmax, added as a graph output.
"""

import argparse
import gzip
import hashlib
import json
import os

import numpy as np
import onnx
import onnxruntime as ort

HERE = os.path.dirname(os.path.abspath(__file__))


def read_test(data_dir):
    base = os.path.join(data_dir, "cifar-10-batches-bin")
    if not os.path.isdir(base):
        base = data_dir
    path = os.path.join(base, "test_batch.bin")
    if os.path.exists(path):
        raw = open(path, "rb").read()
    else:
        raw = gzip.open(path + ".gz", "rb").read()
    rec = np.frombuffer(raw, np.uint8).reshape(-1, 3073)
    return rec[:, 1:].reshape(-1, 3, 32, 32), rec[:, 0].astype(np.int64)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("data")
    ap.add_argument("--out", default=os.path.join(HERE, "..", "tests", "fixtures", "resnet8_reference.json"))
    ap.add_argument("--first", type=int, default=100)
    a = ap.parse_args()

    model = onnx.load(a.model)
    softmax = [n for n in model.graph.node if n.op_type == "Softmax"]
    assert len(softmax) == 1 and softmax[0].output[0] == model.graph.output[0].name
    logits_name = softmax[0].input[0]
    model.graph.output.append(onnx.helper.make_empty_tensor_value_info(logits_name))
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0].name

    images, labels = read_test(a.data)
    correct = 0
    first_logits, first_probs = None, None
    for s in range(0, len(images), 500):
        x = images[s : s + 500].astype(np.float32)
        probs, logits = sess.run(None, {inp: x})
        correct += int((probs.argmax(1) == labels[s : s + 500]).sum())
        if s == 0:
            first_probs, first_logits = probs[: a.first], logits[: a.first]
    sha = hashlib.sha256(open(a.model, "rb").read()).hexdigest()
    ref = {
        "model_sha256": sha,
        "onnxruntime": ort.__version__,
        "images": a.first,
        "logits": [float(v) for v in first_logits.ravel()],
        "probabilities": [float(v) for v in first_probs.ravel()],
        "labels": [int(v) for v in labels[: a.first]],
        "test_images": int(len(images)),
        "test_correct": correct,
    }
    with open(a.out, "w") as f:
        json.dump(ref, f)
    print(f"onnxruntime {ort.__version__}: {correct}/{len(images)} correct ({100 * correct / len(images):.2f}%); wrote {a.out}")


if __name__ == "__main__":
    main()
