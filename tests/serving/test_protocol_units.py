"""The serving gateway's pure parts without a backend: token buckets, the v2 binary tensor data extension, the v2
description of a model's outputs."""

from __future__ import annotations

import json
import struct
import time

import numpy as np
import pytest

from jupyter_mlp_backend.serving import protocol
from jupyter_mlp_backend.serving.gateway import Bucket


def test_a_bucket_slower_than_one_per_second_still_lets_requests_through():
    b = Bucket(0.5)  # one request every two seconds
    assert b.take() == 0.0  # the first is served at once
    wait = b.take()
    assert 1.9 < wait <= 2.0  # the next one must wait two seconds, and is told so
    b.last -= 2.0  # two seconds later
    assert b.take() == 0.0
    fast = Bucket(100)
    assert all(fast.take() == 0.0 for _ in range(100)) and fast.take() > 0  # one second's worth banked, no more


def test_binary_tensors_in_become_the_json_a_worker_reads():
    x = np.array([[0.5, -1.0], [2.0, 3.25]], dtype=np.float32)
    names = ["ab", "ü"]
    strings = b"".join(struct.pack("<I", len(s.encode())) + s.encode() for s in names)
    header = json.dumps({"id": "r1", "inputs": [
        {"name": "x", "shape": [2, 2], "datatype": "FP32", "parameters": {"binary_data_size": x.nbytes}},
        {"name": "s", "shape": [2], "datatype": "BYTES", "parameters": {"binary_data_size": len(strings)}},
        {"name": "k", "shape": [2], "datatype": "INT64", "data": [1, 2]}],
        "outputs": [{"name": "predict", "parameters": {"binary_data": True}}],
        "parameters": {"binary_data_output": False, "other": 1}}).encode()
    body, wants = protocol.v2_decode(header + x.tobytes() + strings, len(header))
    doc = json.loads(body)
    assert doc["inputs"][0] == {"name": "x", "shape": [2, 2], "datatype": "FP32", "data": [0.5, -1.0, 2.0, 3.25]}
    assert doc["inputs"][1]["data"] == names and "parameters" not in doc["inputs"][1]
    assert doc["parameters"] == {"other": 1} and "outputs" not in doc  # protocol-only fields are taken out
    assert wants.names == ["predict"] and wants.is_binary("predict") and not wants.is_binary("other")
    bad = [
        (header + x.tobytes(), len(header), "only 0 bytes are left"),
        (header + x.tobytes() + strings + b"x", len(header), "1 bytes follow"),
        (header, len(header) + 5, "Inference-Header-Content-Length is"),
    ]
    for other, words in [(b'"FP64"', "needs 32"), (b'"COMPLEX"', "not one of")]:
        h = header.replace(b'"FP32"', other)
        bad.append((h + x.tobytes() + strings, len(h), words))
    for raw, n, words in bad:
        with pytest.raises(protocol.BadRequest, match=words):
            protocol.v2_decode(raw, n)
    with pytest.raises(protocol.BadRequest, match="no Inference-Header-Content-Length"):
        protocol.v2_decode(header, None)


def test_json_answers_go_out_as_binary_where_asked():
    answer = json.dumps({"model_name": "m", "outputs": [
        {"name": "predict", "shape": [3], "datatype": "INT64", "data": [1, 0, 1]},
        {"name": "label", "shape": [3], "datatype": "BYTES", "data": ["a", "b", "c"]}]}).encode()
    out, head = protocol.v2_encode(answer, protocol.V2Wants(binary_default=True))
    doc = json.loads(out[:head])
    assert [o["parameters"]["binary_data_size"] for o in doc["outputs"]] == [24, 15]
    assert np.frombuffer(out[head:head + 24], "<i8").tolist() == [1, 0, 1]
    only, head = protocol.v2_encode(answer, protocol.V2Wants(names=["label"]))
    assert head is None and [o["name"] for o in json.loads(only)["outputs"]] == ["label"]
    with pytest.raises(protocol.BadRequest, match=r"output\(s\) \['proba'\] are not produced"):
        protocol.v2_encode(answer, protocol.V2Wants(names=["proba"]))


def test_outputs_are_described_from_the_signature():
    tensor = json.dumps([{"type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1]}}])
    assert protocol.describe_outputs(tensor) == [{"name": "predict", "datatype": "INT64", "shape": [-1]}]
    frame = json.dumps([{"type": "double", "name": "p0"}, {"type": "string", "name": "label"}])
    assert protocol.describe_outputs(frame) == [{"name": "p0", "datatype": "FP64", "shape": [-1]},
                                                {"name": "label", "datatype": "BYTES", "shape": [-1]}]
    assert protocol.describe_outputs(None) == []
    schema = protocol.Schema.from_mlmodel({"signature": {"inputs": json.dumps([{"type": "double", "name": "x"}]),
                                                         "outputs": tensor}})
    assert protocol.v2_outputs([1, 0], schema.outputs) == [
        {"name": "predict", "shape": [2], "datatype": "INT64", "data": [1, 0]}]


def test_bucket_refill_is_measured_on_the_monotonic_clock():
    b = Bucket(1000)
    start = time.monotonic()
    while b.take() == 0.0:
        pass
    assert time.monotonic() - start < 5
