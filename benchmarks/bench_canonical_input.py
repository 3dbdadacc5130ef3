"""Where the resize to the network's size belongs: latency and answers of three graphs of one network.

    python benchmarks/bench_canonical_input.py --model default --data fer2013-dev.csv.gz [--n 500] [--rounds 400]

From a shipped model (its network, luma step and softmax) it builds:

- ``luma-then-resize`` (what edgefer exports): 48x48 uint8 RGB in, luma step at 48 px, int8
  bilinear resize to the network's size;
- ``resize-then-luma``: 48x48 uint8 RGB in, uint8 bilinear resize first, luma step at the network's size;
- ``network-size input``: the graph before the canonical input (the crop resized outside, by each runtime);
- ``bare network``: int8 input at the network's size and int8 logits out, no step added by edgefer,

and times one invoke of each (1 thread), interleaved round by round so load on the machine
falls on all alike, and counts how often each canonical graph's top-1 on the faces (48 px)
matches the network-size graph fed the faces resized by Pillow (the training resize).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated as schema
from ai_edge_litert.interpreter import Interpreter

from edgefer.data import load_split
from edgefer.export.graph import LUMA_TENSOR
from edgefer.runtime.zoo import DEFAULT_MODEL_NAME
from edgefer.metadata import read_model_info
from edgefer.preprocessing import resize_faces
from edgefer.runtime.model import resolve_model


def _load(blob: bytes):
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAs(bytearray(blob), 0))
    return model, model.subgraphs[0]


def _pack(model) -> bytes:
    builder = flatbuffers.Builder(1 << 20)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _op_name(model, op) -> str:
    code = model.operatorCodes[op.opcodeIndex]
    builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
    return next(k for k, v in vars(schema.BuiltinOperator).items() if v == builtin)


def _luma_index(graph) -> int:
    return next(i for i, op in enumerate(graph.operators)
                if graph.tensors[op.outputs[0]].name == LUMA_TENSOR.encode())


def bare_network(blob: bytes) -> bytes:
    """The network alone: what the luma step fed it in, the softmax's logits out."""
    model, graph = _load(blob)
    start = _luma_index(graph)
    end = next(i for i, op in enumerate(graph.operators) if _op_name(model, op) == "SOFTMAX")
    graph.inputs = [graph.operators[start].outputs[0]]
    graph.outputs = [graph.operators[end].inputs[0]]
    graph.operators = graph.operators[start + 1 : end]
    model.signatureDefs = []
    return _pack(model)


def resize_then_luma(blob: bytes, face_size: int) -> bytes:
    """A network-size-input graph with a uint8 resize from face_size in front of everything."""
    model, graph = _load(blob)
    old = graph.tensors[graph.inputs[0]]
    size = int(old.shape[1])
    new = schema.TensorT()
    new.name, new.type, new.quantization = b"canonical_face", old.type, old.quantization
    new.shape = [1, face_size, face_size, 3]
    new.buffer = len(model.buffers)
    model.buffers.append(schema.BufferT())
    sizes = schema.TensorT()
    sizes.name, sizes.type, sizes.shape = b"size", schema.TensorType.INT32, [2]
    sizes.buffer = len(model.buffers)
    buf = schema.BufferT()
    buf.data = np.frombuffer(np.array([size, size], np.int32).tobytes(), np.uint8)
    model.buffers.append(buf)
    graph.tensors += [new, sizes]
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.RESIZE_BILINEAR
    code.version = 3
    model.operatorCodes.append(code)
    options = schema.ResizeBilinearOptionsT()
    options.alignCorners, options.halfPixelCenters = False, True
    op = schema.OperatorT()
    op.opcodeIndex = len(model.operatorCodes) - 1
    op.inputs, op.outputs = [len(graph.tensors) - 2, len(graph.tensors) - 1], [graph.inputs[0]]
    op.builtinOptionsType, op.builtinOptions = schema.BuiltinOptions.ResizeBilinearOptions, options
    graph.operators.insert(0, op)
    graph.inputs = [len(graph.tensors) - 2]
    model.signatureDefs = []
    return _pack(model)


def _interpreter(blob: bytes) -> Interpreter:
    interpreter = Interpreter(model_content=blob, num_threads=1)
    interpreter.allocate_tensors()
    return interpreter


def _top1(interpreter: Interpreter, inputs: np.ndarray) -> np.ndarray:
    detail, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]["index"]
    tops = []
    for x in inputs:
        interpreter.set_tensor(detail["index"], x[None].astype(detail["dtype"]))
        interpreter.invoke()
        tops.append(int(interpreter.get_tensor(out).argmax()))
    return np.array(tops)


def run(args: argparse.Namespace) -> dict:
    path = resolve_model(args.model)
    blob = open(path, "rb").read()
    info = read_model_info(blob)
    network_size = info.source["app_graph"]["network_size"]
    if args.before is None:
        sys.exit("--before: the same model before the canonical input (network-size input) is needed")
    before = open(args.before, "rb").read()
    graphs = {"luma-then-resize": blob, "resize-then-luma": resize_then_luma(before, info.preprocess.face_size),
              "network-size input": before, "bare network": bare_network(before)}
    interpreters = {name: _interpreter(g) for name, g in graphs.items()}
    faces = load_split(args.data, args.split).images[: args.n]
    rgb48 = np.repeat(faces[..., None], 3, -1)
    reference = _top1(interpreters["network-size input"],
                      np.repeat(resize_faces(faces, network_size)[..., None], 3, -1))
    report = {"model": str(path), "network_size": network_size, "faces": len(faces), "graphs": {}}
    for name in ("luma-then-resize", "resize-then-luma"):
        report["graphs"][name] = {"top1_agreement_with_network_size_input":
                                  float(np.mean(_top1(interpreters[name], rgb48) == reference))}
    times: dict[str, list[float]] = {name: [] for name in graphs}
    feeds = {}
    for name, interpreter in interpreters.items():
        detail = interpreter.get_input_details()[0]
        feeds[name] = (detail["index"], np.zeros(detail["shape"], detail["dtype"]))
    for _ in range(args.rounds):
        for name, interpreter in interpreters.items():
            index, x = feeds[name]
            start = time.perf_counter()
            interpreter.set_tensor(index, x)
            interpreter.invoke()
            times[name].append(time.perf_counter() - start)
    bare = statistics.median(times["bare network"])
    for name, t in times.items():
        entry = report["graphs"].setdefault(name, {})
        entry["p50_ms"] = 1000 * statistics.median(t)
        entry["p50_vs_bare_network"] = statistics.median(t) / bare
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=DEFAULT_MODEL_NAME, help="a canonical-input edgefer model (a shipped name or file)")
    parser.add_argument("--before", help="the same model with its network-size input (before the canonical input)")
    parser.add_argument("--data", required=True)
    parser.add_argument("--split", default="PublicTest")
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=400)
    print(json.dumps(run(parser.parse_args()), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
