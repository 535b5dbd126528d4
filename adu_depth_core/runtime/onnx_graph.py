"""Small exact rewrites of exported ONNX graphs (onnx protobuf only; no torch, no onnxruntime)."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from adu_depth_core.runtime.backends.base import ModelFileError


def toposort(graph) -> None:
    """Reorder graph nodes so every input is produced before it is used (Kahn's algorithm)."""
    ready = {i.name for i in graph.input} | {t.name for t in graph.initializer} | {""}
    pending, ordered = list(graph.node), []
    while pending:
        now = [n for n in pending if set(n.input) <= ready]
        if not now:
            raise ModelFileError(f"ONNX graph has a cycle or dangling inputs at node '{pending[0].name}'")
        ids = {id(n) for n in now}
        pending = [n for n in pending if id(n) not in ids]
        ordered += now
        for node in now:
            ready.update(node.output)
    del graph.node[:]
    graph.node.extend(ordered)


def _sibling_convs(graph) -> list[list]:
    """Groups of >= 2 Conv nodes reading the same tensor with the same attributes and constant weights."""
    inits = {t.name: t for t in graph.initializer}
    groups = defaultdict(list)
    for n in graph.node:
        if n.op_type != "Conv" or n.input[1] not in inits or (len(n.input) > 2 and n.input[2] not in inits):
            continue
        w = inits[n.input[1]]
        attrs = tuple(sorted(a.SerializeToString() for a in n.attribute))
        groups[(n.input[0], tuple(w.dims[1:]), w.data_type, attrs)].append(n)
    return [g for g in groups.values() if len(g) > 1]


def merge_sibling_convs(proto) -> int:
    """Replace convs sharing one input (e.g. the depth and log_b heads) by one wider Conv + Split.

    Exact (the same multiply-adds, concatenated); a 1-channel conv wastes most
    of a SIMD block, two of them share one. Returns how many convs were merged.
    """
    from onnx import helper, numpy_helper

    g = proto.graph
    inits = {t.name: t for t in g.initializer}
    merged = 0
    for nodes in _sibling_convs(g):
        ws = [numpy_helper.to_array(inits[n.input[1]]) for n in nodes]
        bs = [
            numpy_helper.to_array(inits[n.input[2]]) if len(n.input) > 2 else np.zeros(w.shape[0], w.dtype)
            for n, w in zip(nodes, ws)
        ]
        name = f"{nodes[0].name or nodes[0].output[0]}_merged"
        weight = numpy_helper.from_array(np.concatenate(ws), f"{name}.weight")
        bias = numpy_helper.from_array(np.concatenate(bs), f"{name}.bias")
        sizes = numpy_helper.from_array(np.array([w.shape[0] for w in ws], np.int64), f"{name}.split")
        conv = helper.make_node(
            "Conv", [nodes[0].input[0], weight.name, bias.name], [f"{name}.out"], name=name
        )
        conv.attribute.extend(nodes[0].attribute)
        outputs = [n.output[0] for n in nodes]
        split = helper.make_node("Split", [conv.output[0], sizes.name], outputs, name=f"{name}.split", axis=1)
        at = list(g.node).index(nodes[0])
        for n in nodes:
            g.node.remove(n)
        g.node.insert(at, split)
        g.node.insert(at, conv)
        g.initializer.extend([weight, bias, sizes])
        merged += len(nodes)
    drop_unused_initializers(g)
    return merged


def drop_unused_initializers(graph) -> None:
    """Remove initializers no node reads."""
    used = {i for n in graph.node for i in n.input}
    keep = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(keep)
