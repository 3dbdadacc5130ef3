"""Operator audit of a TFLite model: every op with its tensor dtypes, and the float ones.

Read straight from the flatbuffer (no interpreter, no delegate), so the audit sees the
graph exactly as it is stored.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from ..errors import ModelError

FLOAT_TYPES = {"FLOAT32", "FLOAT16", "FLOAT64", "BFLOAT16"}


def _enum_names(enum_class) -> dict[int, str]:
    return {v: k for k, v in vars(enum_class).items() if not k.startswith("_") and isinstance(v, int)}


def list_ops(data: bytes) -> tuple[list[dict[str, Any]], list[int], list[int], list[str]]:
    """(ops, subgraph input tensor ids, output tensor ids, tensor dtypes) of subgraph 0."""
    from ai_edge_litert import schema_py_generated as schema

    try:
        model = schema.Model.GetRootAs(bytearray(data), 0)
        graph = model.Subgraphs(0)
        op_names, type_names = _enum_names(schema.BuiltinOperator), _enum_names(schema.TensorType)
        dtypes = [type_names.get(graph.Tensors(i).Type(), "UNKNOWN") for i in range(graph.TensorsLength())]
        ops = []
        for i in range(graph.OperatorsLength()):
            op = graph.Operators(i)
            code = model.OperatorCodes(op.OpcodeIndex())
            # Builtin codes above 127 live in BuiltinCode; older files only fill the deprecated byte.
            builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
            name = op_names.get(builtin, str(builtin))
            if name == "CUSTOM":
                name = f"CUSTOM:{(code.CustomCode() or b'').decode()}"
            inputs = [int(t) for t in op.InputsAsNumpy()] if op.InputsLength() else []
            outputs = [int(t) for t in op.OutputsAsNumpy()] if op.OutputsLength() else []
            ops.append({"index": i, "op": name, "inputs": inputs, "outputs": outputs})
        graph_in = [int(t) for t in graph.InputsAsNumpy()]
        graph_out = [int(t) for t in graph.OutputsAsNumpy()]
    except Exception as exc:  # flatbuffers raises whatever the corrupt offsets lead to
        raise ModelError(f"cannot read the TFLite operator list ({exc.__class__.__name__}: {exc})") from None
    return ops, graph_in, graph_out, dtypes


def audit(data: bytes, float_io: bool = False) -> dict[str, Any]:
    """Ops with their dtypes and the float ops among them.

    An op counts as float when any tensor it reads or writes is floating point. With
    float I/O the QUANTIZE of the model input and the DEQUANTIZE of the model output
    are the expected edges, not float compute.
    """
    ops, graph_in, graph_out, dtypes = list_ops(data)
    records, float_ops = [], []
    for op in ops:
        ins = [dtypes[t] for t in op["inputs"] if t >= 0]
        outs = [dtypes[t] for t in op["outputs"] if t >= 0]
        is_float = bool(FLOAT_TYPES.intersection(ins + outs))
        edge = float_io and (
            (op["op"] == "QUANTIZE" and set(op["inputs"]) <= set(graph_in))
            or (op["op"] == "DEQUANTIZE" and set(op["outputs"]) <= set(graph_out))
        )
        record = {"index": op["index"], "op": op["op"], "inputs": ins, "outputs": outs}
        records.append(record)
        if is_float and not edge:
            float_ops.append(record)
    return {
        "op_count": len(records),
        "op_counts": dict(sorted(Counter(r["op"] for r in records).items())),
        "input_dtypes": [dtypes[t] for t in graph_in],
        "output_dtypes": [dtypes[t] for t in graph_out],
        "float_ops": float_ops,
        "full_integer": not float_ops,
        "ops": records,
    }


def require_full_integer(report: dict[str, Any], allow_float_ops: bool) -> None:
    """Fail an int8 export that still computes in float, naming the ops."""
    if report["full_integer"] or allow_float_ops:
        return
    names = Counter(op["op"] for op in report["float_ops"])
    listed = ", ".join(f"{name} x{n}" for name, n in sorted(names.items()))
    raise ModelError(
        f"int8 model is not full-integer: {len(report['float_ops'])} float op(s) remain ({listed}); "
        "see the audit in the export report, or pass --allow-float-ops"
    )
