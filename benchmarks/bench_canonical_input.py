"""What edgefer's in-graph steps cost and whether they keep the answers: graphs of each network.

    python benchmarks/bench_canonical_input.py --data fer2013-dev.csv.gz [--models default,fast,ferplus]
        [--n 500] [--rounds 2000] [--json models/canonical_input_publictest.json]

From each shipped model it cuts out the network (``bare network``: int8 in at the network's
size, int8 logits out) and rebuilds around it, with the export's own graph edits
(edgefer.export.graph):

- ``shipped``: the file itself. 48x48 uint8 RGB in; the luma step on groups of 8 pixels;
  for a network larger than the face, Pillow's two resize passes, each run on the image's
  lines (transposed in and out for the width pass); softmax; uint8 out. The export's edits
  applied to the bare network must give the same outputs (checked on random colour faces);
- ``luma on single pixels``: the same with a 1x1 luma convolution of each pixel;
- ``pixel passes`` (the first canonical design): the two passes resizing the image's pixels;
- ``resize-then-luma``: one uint8 resize of the RGB face first, the luma step at the network's size;
- ``network-size input``: no canonical input (each runtime resizes the crop to the network's size),

times one invoke of each (1 thread, ``--repeat`` in a row, the graphs interleaved in a new
order each round so that load on the machine falls on all alike), and counts how often each graph's
top-1 on the faces (48 px) matches the network fed the faces as training resized them
(Pillow). The cost of edgefer's steps is the p50 of ``shipped`` over the p50 of ``bare
network``; the issue's bar is 1.05.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from ai_edge_litert.interpreter import Interpreter

from edgefer.data import load_split
from edgefer.export import graph as G
from edgefer.fileio import write_json
from edgefer.metadata import APP_GRAPH_KEY, read_model_info
from edgefer.preprocessing import FACE_SIZE, resize_faces
from edgefer.provenance import file_sha256, host_cpu, script_command, sha256_or_none
from edgefer.runtime.zoo import SHIPPED, SHIPPED_MODELS

RESIZED = b"canonical_face/resized"


def bare_network(blob: bytes) -> bytes:
    """The network alone: what the canonical resize (or the luma step) fed it in, the softmax's logits out."""
    schema, model, graph = G._load(blob)
    names = [t.name for t in graph.tensors]
    luma = names.index(RESIZED if RESIZED in names else G.LUMA_TENSOR.encode())
    start = next(i for i, op in enumerate(graph.operators) if luma in list(op.outputs))
    end = next(i for i, op in enumerate(graph.operators) if G._is_op(schema, model, op, "SOFTMAX"))
    graph.tensors[luma].name = b"network_input"
    graph.inputs = [luma]
    graph.outputs = [graph.operators[end].inputs[0]]
    graph.operators = graph.operators[start + 1 : end]
    model.signatureDefs = []
    return G._pack(model)


def pixel_passes(blob: bytes, face_size: int) -> bytes:
    """The first canonical design: the luma step at face_size, then two resizes of the image's pixels."""
    schema, model, graph = G._load(blob)
    luma = G._luma_conv(schema, model, graph)
    luma_id = int(luma.outputs[0])
    t = graph.tensors[luma_id]
    size = int(t.shape[1])
    wide = G._tensor(schema, model, graph, t, "wide", [1, face_size, size, int(t.shape[3])], quant=t.quantization)
    resized = G._tensor(schema, model, graph, t, "resized", quant=t.quantization)
    for i in G._consumers(graph, luma_id):
        graph.operators[i].inputs = [resized if x == luma_id else x for x in graph.operators[i].inputs]
    for x in {int(graph.inputs[0]), int(luma.inputs[0]), luma_id}:
        G._set_size(graph.tensors[x], face_size)
    at = graph.operators.index(luma) + 1
    graph.operators[at:at] = [G._resize_op(schema, model, graph, t, luma_id, wide, (face_size, size)),
                              G._resize_op(schema, model, graph, t, wide, resized, (size, size))]
    return G._pack(model)


def resize_then_luma(blob: bytes, face_size: int) -> bytes:
    """A network-size-input graph with one resize from face_size in front of everything."""
    schema, model, graph = G._load(blob)
    old = graph.tensors[graph.inputs[0]]
    size = int(old.shape[1])
    face = G._tensor(schema, model, graph, old, "canonical_face", [1, face_size, face_size, 3], quant=old.quantization)
    graph.operators.insert(0, G._resize_op(schema, model, graph, old, face, int(graph.inputs[0]), (size, size)))
    graph.inputs = [face]
    model.signatureDefs = []
    return G._pack(model)


def graphs_of(shipped: bytes) -> dict[str, bytes]:
    """The shipped graph and the alternatives around the same network, built by the export's own edits."""
    info = read_model_info(shipped)
    spec, temperature = info.preprocess, info.source[APP_GRAPH_KEY]["temperature"]
    bare = bare_network(shipped)
    plain = G.add_softmax_output(G.add_luma_input(bare, spec), temperature)  # network-size input
    graphs = {"shipped": shipped,
              "luma on single pixels": G.uint8_io(G.add_canonical_input(plain, spec.face_size))}
    if info.network_size > spec.face_size:
        graphs["pixel passes"] = G.uint8_io(G.group_luma_pixels(pixel_passes(plain, spec.face_size)))
        before = G.uint8_io(G.group_luma_pixels(plain))
        graphs["resize-then-luma"] = resize_then_luma(before, spec.face_size)
        graphs["network-size input"] = before
    graphs["bare network"] = bare
    graphs["rebuilt by the export"] = G.uint8_io(G.for_app_runtimes(bare, spec, temperature))
    return graphs


def _interpreter(blob: bytes) -> Interpreter:
    interpreter = Interpreter(model_content=blob, num_threads=1)
    interpreter.allocate_tensors()
    return interpreter


def _outputs(interpreter: Interpreter, inputs: np.ndarray) -> np.ndarray:
    detail, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]["index"]
    rows = []
    for x in inputs:
        interpreter.set_tensor(detail["index"], x[None].astype(detail["dtype"]))
        interpreter.invoke()
        rows.append(interpreter.get_tensor(out)[0].copy())
    return np.array(rows)


def measure(name: str, faces: np.ndarray, rounds: int, repeat: int) -> dict:
    path = SHIPPED_MODELS[name].path
    shipped = path.read_bytes()
    network_size = read_model_info(shipped).network_size
    graphs = graphs_of(shipped)
    rebuilt = graphs.pop("rebuilt by the export")
    interpreters = {graph: _interpreter(blob) for graph, blob in graphs.items()}
    colour = np.random.default_rng(0).integers(0, 256, (200, FACE_SIZE, FACE_SIZE, 3), dtype=np.uint8)
    report = {"model": path.name, "model_sha256": file_sha256(path), "network_size": network_size,
              "export_rebuilds_the_shipped_outputs_on_random_colour_faces":
                  bool(np.array_equal(_outputs(_interpreter(rebuilt), colour), _outputs(interpreters["shipped"], colour))),
              "graphs": {}}
    # The reference: the network fed the faces as training resized them (Pillow), through the
    # network-size graph where there is one.
    plain = "network-size input" if "network-size input" in graphs else "shipped"
    reference = _outputs(interpreters[plain], np.repeat(resize_faces(faces, network_size)[..., None], 3, -1))
    rgb48 = np.repeat(faces[..., None], 3, -1)
    for graph in graphs:
        if graph not in ("bare network", "network-size input"):
            outputs = _outputs(interpreters[graph], rgb48)
            report["graphs"][graph] = {
                "top1_agreement_with_pillow_resized_input": float(np.mean(outputs.argmax(1) == reference.argmax(1))),
                "identical_outputs": float(np.mean(np.all(outputs == reference, axis=1)))}
    feeds = {}
    for graph, interpreter in interpreters.items():
        detail = interpreter.get_input_details()[0]
        feeds[graph] = (detail["index"], np.zeros(detail["shape"], detail["dtype"]))
    times: dict[str, list[float]] = {graph: [] for graph in graphs}
    order, rng = list(interpreters), random.Random(0)
    for _ in range(rounds):
        rng.shuffle(order)  # no graph always runs after the same one (caches, frequency)
        for graph in order:
            interpreter, (index, x) = interpreters[graph], feeds[graph]
            for _ in range(repeat):
                start = time.perf_counter()
                interpreter.set_tensor(index, x)
                interpreter.invoke()
                times[graph].append(time.perf_counter() - start)
    bare = statistics.median(times["bare network"])
    for graph, t in times.items():
        entry = report["graphs"].setdefault(graph, {})
        entry["p50_us"] = 1e6 * statistics.median(t)
        entry["p50_vs_bare_network"] = statistics.median(t) / bare
    report["in_graph_cost"] = report["graphs"]["shipped"]["p50_vs_bare_network"] - 1
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, help="FER2013 CSV (.csv/.csv.gz), facepack or folder")
    parser.add_argument("--split", default="PublicTest")
    parser.add_argument("--models", default=",".join(m.name for m in SHIPPED), help="shipped names, comma-separated")
    parser.add_argument("--n", type=int, default=500, help="faces for the agreement counts")
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3, help="invokes in a row per graph and round")
    parser.add_argument("--json", help="write the report here")
    args = parser.parse_args()
    names = args.models.split(",")
    unknown = [n for n in names if n not in SHIPPED_MODELS]
    if unknown:
        parser.error(f"--models: no shipped model is called {', '.join(unknown)}")
    faces = load_split(args.data, args.split).images[: args.n]
    report = {"data": Path(args.data).name, "data_sha256": sha256_or_none(args.data),
              "split": args.split, "faces": len(faces), "rounds": args.rounds, "repeat": args.repeat, "threads": 1,
              "command": script_command(sys.argv, args.data), "host_cpu": host_cpu(),
              "load_average_before": os.getloadavg()[0], "models": {}}
    for name in names:
        report["models"][name] = measure(name, faces, args.rounds, args.repeat)
        print(f"{name}: in-graph cost {100 * report['models'][name]['in_graph_cost']:+.1f}%", file=sys.stderr)
    report["load_average_after"] = os.getloadavg()[0]
    if args.json:
        write_json(args.json, report)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
