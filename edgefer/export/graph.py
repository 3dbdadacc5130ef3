"""Edits of a converted TFLite graph so app runtimes (MediaPipe Tasks, ML Model Binding) can feed it.

Three ops are added to the flatbuffer after conversion, in the model's own arithmetic
(int8 inside a full-integer model, float elsewhere):

- a 1x1 convolution in front that turns an RGB image into the luminance the model was
  trained on (edgefer.preprocessing.LUMA_WEIGHTS), so a colour crop and its grey version
  give the same answer; a grey image fed as three equal channels passes through unchanged;
- a bilinear resize after it from the canonical face (edgefer.preprocessing.FACE_SIZE) to
  the network's input size, so the model takes the face every runtime makes alike
  (edgefer.preprocessing.to_face) and the answer for a crop does not depend on the runtime;
- a softmax at the end with beta = 1 / temperature, so the output is the calibrated
  probabilities that MediaPipe reports as scores.

All go inside the quantize/dequantize edges the converter puts at a model's ends, so
a full-integer model stays full-integer. Editing after conversion (rather than in Keras)
leaves calibration, QAT and the temperature fit untouched.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from ..errors import ModelError
from ..metadata import APP_GRAPH_KEY, ModelInfo, embed_model_info, read_model_info
from ..preprocessing import FACE_SIZE, LUMA_WEIGHTS, PreprocessSpec

# The int8 softmax kernel's fixed output quantization (TFLite's quantization spec).
PROB_SCALE = 1.0 / 256.0
_PROB_ZERO_POINT = {"INT8": -128, "UINT8": 0}
LUMA_TENSOR = "luma"


def _schema():
    from ai_edge_litert import schema_py_generated as schema

    return schema


def _type_name(schema, code: int) -> str:
    return {v: k for k, v in vars(schema.TensorType).items() if not k.startswith("_")}[code]


def _load(blob: bytes):
    schema = _schema()
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAs(bytearray(blob), 0))
    if len(model.subgraphs or []) != 1:
        raise ModelError(f"expected a TFLite model with one subgraph, found {len(model.subgraphs or [])}")
    return schema, model, model.subgraphs[0]


def _pack(model) -> bytes:
    import flatbuffers

    builder = flatbuffers.Builder(1 << 20)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _opcode(schema, model, builtin: int, version: int) -> int:
    for i, code in enumerate(model.operatorCodes):
        if max(code.builtinCode, code.deprecatedBuiltinCode) == builtin:
            code.version = max(code.version, version)
            return i
    code = schema.OperatorCodeT()
    code.builtinCode, code.deprecatedBuiltinCode, code.version = builtin, min(builtin, 127), version
    model.operatorCodes.append(code)
    return len(model.operatorCodes) - 1


def _buffer(schema, model, data: np.ndarray | None) -> int:
    buffer = schema.BufferT()
    if data is not None:
        buffer.data = np.frombuffer(np.ascontiguousarray(data).tobytes(), np.uint8)
    model.buffers.append(buffer)
    return len(model.buffers) - 1


def _quant(schema, scale, zero_point, axis: int = 0):
    q = schema.QuantizationParametersT()
    q.scale, q.zeroPoint, q.quantizedDimension = list(scale), list(zero_point), axis
    return q


def _tensor(schema, model, graph, like, name: str, shape=None, dtype=None, buffer=None, quant=None) -> int:
    t = schema.TensorT()
    t.name, t.type = name.encode(), like.type if dtype is None else dtype
    t.shape = list(like.shape if shape is None else shape)
    t.buffer = _buffer(schema, model, None) if buffer is None else buffer
    t.quantization = quant
    if buffer is None and _dynamic_batch(like) and len(t.shape) == 4:  # a batch the runtime may resize stays so
        t.shapeSignature = [-1, *t.shape[1:]]
    graph.tensors.append(t)
    return len(graph.tensors) - 1


def _dynamic_batch(tensor) -> bool:
    return tensor.shapeSignature is not None and len(tensor.shapeSignature) and int(tensor.shapeSignature[0]) == -1


def _producer(graph, tensor: int) -> int | None:
    return next((i for i, op in enumerate(graph.operators) if tensor in list(op.outputs)), None)


def _consumers(graph, tensor: int) -> list[int]:
    return [i for i, op in enumerate(graph.operators) if tensor in list(op.inputs)]


def _is_op(schema, model, op, name: str) -> bool:
    code = model.operatorCodes[op.opcodeIndex]
    return max(code.builtinCode, code.deprecatedBuiltinCode) == getattr(schema.BuiltinOperator, name)


def integer_luma(weights=LUMA_WEIGHTS) -> tuple[np.ndarray, float]:
    """int8 weights and their scale 1/D whose sum is exactly D, so grey pixels map to themselves."""
    for denominator in range(int(127 / max(weights)), 0, -1):
        q = np.rint(np.asarray(weights) * denominator).astype(np.int64)
        if q.sum() == denominator:
            return q.astype(np.int8), 1.0 / denominator
    raise ModelError(f"no int8 form of the luma weights {weights}")  # pragma: no cover - weights are fixed


def _luma_weights(schema, anchor, channels: int):
    """(weight array, bias array, weight quantization, bias quantization) for the anchor's dtype."""
    kind = _type_name(schema, anchor.type)
    if kind == "FLOAT32":
        w = np.tile(np.asarray(LUMA_WEIGHTS, np.float32), (channels, 1)).reshape(channels, 1, 1, 3)
        return w, np.zeros(channels, np.float32), None, None
    if kind != "INT8":
        raise ModelError(f"cannot add the luma step in front of a {kind} model input")
    q, scale = integer_luma()
    in_scale = anchor.quantization.scale[0]
    wq = _quant(schema, [scale] * channels, [0] * channels)
    bq = _quant(schema, [in_scale * scale] * channels, [0] * channels)
    return np.tile(q, (channels, 1)).reshape(channels, 1, 1, 3), np.zeros(channels, np.int32), wq, bq


def _pixel_quantization(schema, tensor, spec: PreprocessSpec) -> None:
    """A quantized input takes raw 0..255 pixels, as MediaPipe Tasks feed them unscaled:
    real value (q - zero point) * scale must be (pixel - mean) / std."""
    offset = {"UINT8": 0, "INT8": -128}.get(_type_name(schema, tensor.type))
    if offset is not None:
        tensor.quantization = _quant(schema, [1.0 / spec.std], [round(spec.mean) + offset])


def add_luma_input(blob: bytes, spec: PreprocessSpec) -> bytes:
    """The model with an RGB input whose luminance (replicated to the model's channels) it then reads."""
    schema, model, graph = _load(blob)
    graph_input = graph.inputs[0]
    anchor_id, insert_at = graph_input, 0
    readers = _consumers(graph, graph_input)
    if len(readers) == 1 and _is_op(schema, model, graph.operators[readers[0]], "QUANTIZE"):
        anchor_id, insert_at = graph.operators[readers[0]].outputs[0], readers[0] + 1
    anchor = graph.tensors[anchor_id]
    luma_quant = anchor.quantization  # what the model's first layer reads, kept for the luma output
    _pixel_quantization(schema, graph.tensors[graph_input], spec)
    channels = int(anchor.shape[-1])
    w, b, wq, bq = _luma_weights(schema, anchor, channels)
    w_id = _tensor(schema, model, graph, anchor, "luma/weights", w.shape, anchor.type,
                   _buffer(schema, model, w), wq)
    b_id = _tensor(schema, model, graph, anchor, "luma/bias", b.shape,
                   schema.TensorType.INT32 if wq else anchor.type, _buffer(schema, model, b), bq)
    luma_id = _tensor(schema, model, graph, anchor, LUMA_TENSOR, quant=luma_quant)
    for i in _consumers(graph, anchor_id):
        graph.operators[i].inputs = [luma_id if t == anchor_id else t for t in graph.operators[i].inputs]
    for t in {graph_input, anchor_id}:  # the RGB image has three channels whatever the model reads
        graph.tensors[t].shape = [*list(graph.tensors[t].shape)[:-1], 3]
        if graph.tensors[t].shapeSignature is not None:
            graph.tensors[t].shapeSignature = [*list(graph.tensors[t].shapeSignature)[:-1], 3]
    options = schema.Conv2DOptionsT()
    options.padding, options.strideW, options.strideH = schema.Padding.VALID, 1, 1
    options.dilationWFactor = options.dilationHFactor = 1
    op = schema.OperatorT()
    op.opcodeIndex = _opcode(schema, model, schema.BuiltinOperator.CONV_2D, 3 if wq else 1)
    op.inputs, op.outputs = [anchor_id, w_id, b_id], [luma_id]
    op.builtinOptionsType, op.builtinOptions = schema.BuiltinOptions.Conv2DOptions, options
    graph.operators.insert(insert_at, op)
    return _pack(model)


def add_softmax_output(blob: bytes, temperature: float) -> bytes:
    """The model ending in softmax(logits / temperature): calibrated probabilities."""
    if not temperature > 0:
        raise ModelError(f"temperature must be positive, got {temperature}")
    schema, model, graph = _load(blob)
    output_id = graph.outputs[0]
    producer = _producer(graph, output_id)
    edge = producer is not None and any(
        _is_op(schema, model, graph.operators[producer], name) for name in ("QUANTIZE", "DEQUANTIZE"))
    logits_id = graph.operators[producer].inputs[0] if edge else output_id
    logits = graph.tensors[logits_id]
    kind = _type_name(schema, logits.type)
    quant = None if kind == "FLOAT32" else _quant(schema, [PROB_SCALE], [_PROB_ZERO_POINT[kind]])
    probs_id = _tensor(schema, model, graph, logits, "probabilities", quant=quant)
    options = schema.SoftmaxOptionsT()
    options.beta = 1.0 / temperature
    op = schema.OperatorT()
    op.opcodeIndex = _opcode(schema, model, schema.BuiltinOperator.SOFTMAX, 2 if kind == "INT8" else 1)
    op.inputs, op.outputs = [logits_id], [probs_id]
    op.builtinOptionsType, op.builtinOptions = schema.BuiltinOptions.SoftmaxOptions, options
    if edge:  # the io edge now converts probabilities, whose scale it keeps
        graph.operators[producer].inputs[0] = probs_id
        out = graph.tensors[output_id]
        if out.quantization is not None and out.quantization.scale is not None and len(out.quantization.scale):
            out.quantization = _quant(schema, [PROB_SCALE], [_PROB_ZERO_POINT[_type_name(schema, out.type)]])
        graph.operators.insert(producer, op)
    else:
        graph.operators.append(op)
        graph.outputs = [probs_id]
        _rename_signature_output(model, output_id, probs_id)
    return _pack(model)


def _rename_signature_output(model, old: int, new: int, side: str = "outputs") -> None:
    for signature in model.signatureDefs or []:
        for mapping in getattr(signature, side) or []:
            if mapping.tensorIndex == old:
                mapping.tensorIndex = new


def _uint8_twin(schema, model, graph, tensor_id: int, name: str) -> int:
    """A uint8 tensor holding the same real values as an int8 one (zero point + 128)."""
    t = graph.tensors[tensor_id]
    q = _quant(schema, list(t.quantization.scale), [int(z) + 128 for z in t.quantization.zeroPoint])
    return _tensor(schema, model, graph, t, name, dtype=schema.TensorType.UINT8, quant=q)


def _requantize_op(schema, model, src: int, dst: int):
    op = schema.OperatorT()
    op.opcodeIndex = _opcode(schema, model, schema.BuiltinOperator.QUANTIZE, 2)
    op.inputs, op.outputs = [src], [dst]
    return op


def uint8_io(blob: bytes) -> bytes:
    """An int8-input/output model with uint8 ones in front and behind, as the converter's
    ``--io uint8`` makes them: what MediaPipe Tasks accept. Other models are returned as is."""
    schema, model, graph = _load(blob)
    int8 = schema.TensorType.INT8
    in_id, out_id = int(graph.inputs[0]), int(graph.outputs[0])
    if int8 not in (graph.tensors[in_id].type, graph.tensors[out_id].type):
        return blob
    if graph.tensors[in_id].type == int8:
        new_in = _uint8_twin(schema, model, graph, in_id, "image_uint8")
        graph.operators.insert(0, _requantize_op(schema, model, new_in, in_id))
        graph.inputs = [new_in]
        _rename_signature_output(model, in_id, new_in, "inputs")
    if graph.tensors[out_id].type == int8:
        new_out = _uint8_twin(schema, model, graph, out_id, "probabilities_uint8")
        graph.operators.append(_requantize_op(schema, model, out_id, new_out))
        graph.outputs = [new_out]
        _rename_signature_output(model, out_id, new_out)
    return _pack(model)


def _set_size(tensor, size: int) -> None:
    tensor.shape = [tensor.shape[0], size, size, tensor.shape[3]]
    if tensor.shapeSignature is not None:
        tensor.shapeSignature = [tensor.shapeSignature[0], size, size, tensor.shapeSignature[3]]


def add_canonical_input(blob: bytes, face_size: int = FACE_SIZE) -> bytes:
    """A model with the luma step (:func:`add_luma_input`) taking the canonical face instead:
    the luma step runs on a face_size x face_size image, and a bilinear resize in the model's
    own arithmetic takes it to the network's size as training resized its faces.

    Every runtime then only resizes a crop to the canonical face, the step they all do alike;
    a resize to the network's size outside the graph is where MediaPipe, the browser and
    edgefer used to differ. A network of the face's own size is returned as is, and so is one
    smaller than the face (test-sized networks): shrinking in the graph would not be the
    anti-aliased resize training used, so such a model keeps its own input size.
    """
    schema, model, graph = _load(blob)
    luma_op = _luma_conv(schema, model, graph)
    luma_id = int(luma_op.outputs[0])
    size = int(graph.tensors[luma_id].shape[1])
    if size <= face_size:
        return blob
    edge = [int(graph.inputs[0])]
    if int(luma_op.inputs[0]) != edge[0]:  # the quantize step between the uint8 input and the luma step
        edge.append(int(luma_op.inputs[0]))
    luma = graph.tensors[luma_id]
    channels = int(luma.shape[3])
    resized_id = _tensor(schema, model, graph, luma, "canonical_face/resized", quant=luma.quantization)
    for i in _consumers(graph, luma_id):
        graph.operators[i].inputs = [resized_id if t == luma_id else t for t in graph.operators[i].inputs]
    for t in (*edge, luma_id):
        _set_size(graph.tensors[t], face_size)
    _set_size(graph.tensors[resized_id], size)
    steps = _resize_by_lines(schema, model, graph, luma_id, resized_id, (face_size, face_size, channels), size)
    at = graph.operators.index(luma_op) + 1
    graph.operators[at:at] = steps
    return _pack(model)


def _resize_by_lines(schema, model, graph, src: int, dst: int, shape: tuple[int, int, int], size: int) -> list:
    """The operators that resize src (height, width, channels) to dst (size, size, channels).

    Width first, then height, each pass rounded to the model's grid: Pillow's two passes, so the
    network reads the pixels training fed it (edgefer.preprocessing.resize_faces), bit for bit.
    Each pass resizes the image's lines as single pixels whose channels are the whole line
    (a transpose brings the columns to lines for the first pass): the runtimes' bilinear kernels
    cost about the same per pixel whatever the channels, so this is several times cheaper than
    a resize of the image's own pixels, for the same arithmetic."""
    height, width, channels = shape
    like = graph.tensors[src]
    steps = []

    def tensor(name: str, tensor_shape: list[int]) -> int:
        return _tensor(schema, model, graph, like, f"canonical_face/{name}", [1, *tensor_shape], quant=like.quantization)

    def lines_pass(image: int, lines: int, length: int, out: int, name: str) -> None:
        """image (lines, length, channels) resized along its lines to (size, length, channels) in out."""
        flat = tensor(f"{name}/lines", [lines, 1, length * channels])
        flat_resized = tensor(f"{name}/lines_resized", [size, 1, length * channels])
        steps.extend([_reshape_op(schema, model, graph, image, flat),
                      _resize_op(schema, model, graph, like, flat, flat_resized, (size, 1)),
                      _reshape_op(schema, model, graph, flat_resized, out)])

    columns = tensor("columns", [width, height, channels])
    wide_columns = tensor("wide_columns", [size, height, channels])
    wide = tensor("wide", [height, size, channels])
    steps.append(_transpose_op(schema, model, graph, src, columns))
    lines_pass(columns, width, height, wide_columns, "width_pass")
    steps.append(_transpose_op(schema, model, graph, wide_columns, wide))
    lines_pass(wide, height, size, dst, "height_pass")
    return steps


def _int32_constant(schema, model, graph, like, name: str, values) -> int:
    data = np.asarray(values, np.int32)
    return _tensor(schema, model, graph, like, name, list(data.shape), schema.TensorType.INT32, _buffer(schema, model, data))


def _operator(schema, model, builtin: str, inputs: list[int], outputs: list[int], options_type: str, options):
    op = schema.OperatorT()
    op.opcodeIndex = _opcode(schema, model, getattr(schema.BuiltinOperator, builtin), 1)
    op.inputs, op.outputs = inputs, outputs
    op.builtinOptionsType, op.builtinOptions = getattr(schema.BuiltinOptions, options_type), options
    return op


def _reshape_op(schema, model, graph, src: int, dst: int):
    shape = [int(d) for d in graph.tensors[dst].shape]
    if _dynamic_batch(graph.tensors[dst]):
        shape[0] = -1
    options = schema.ReshapeOptionsT()
    options.newShape = shape
    name = f"{graph.tensors[dst].name.decode()}/shape"
    return _operator(schema, model, "RESHAPE", [src, _int32_constant(schema, model, graph, graph.tensors[src], name, shape)],
                     [dst], "ReshapeOptions", options)


def _transpose_op(schema, model, graph, src: int, dst: int):
    """Rows and columns swapped, channels kept."""
    name = f"{graph.tensors[dst].name.decode()}/perm"
    return _operator(schema, model, "TRANSPOSE", [src, _int32_constant(schema, model, graph, graph.tensors[src], name, [0, 2, 1, 3])],
                     [dst], "TransposeOptions", schema.TransposeOptionsT())


def _resize_op(schema, model, graph, like, src: int, dst: int, size: tuple[int, int]):
    """A bilinear resize with half-pixel centres (Pillow's upsampling) of src to (height, width)."""
    size_id = _int32_constant(schema, model, graph, like, f"{graph.tensors[dst].name.decode()}/size", size)
    options = schema.ResizeBilinearOptionsT()
    options.alignCorners, options.halfPixelCenters = False, True
    op = _operator(schema, model, "RESIZE_BILINEAR", [src, size_id], [dst], "ResizeBilinearOptions", options)
    op.opcodeIndex = _opcode(schema, model, schema.BuiltinOperator.RESIZE_BILINEAR, 3)  # 3: half-pixel centres
    return op


def _luma_conv(schema, model, graph):
    op = next((op for op in graph.operators if _is_op(schema, model, op, "CONV_2D")
               and graph.tensors[op.outputs[0]].name == LUMA_TENSOR.encode()), None)
    if op is None:
        raise ModelError("the model has no luma step (a 1x1 convolution of single pixels) in front; "
                         "add it first (add_luma_input)")
    return op


LUMA_PIXEL_GROUP = 8
_NUMPY_TYPES = {"INT8": np.int8, "INT32": np.int32, "FLOAT32": np.float32}


def group_luma_pixels(blob: bytes, pixels: int = LUMA_PIXEL_GROUP) -> bytes:
    """The luma step run on groups of neighbouring pixels of a row, each group read as one
    pixel of pixels x 3 channels, with the luma weights repeated block-diagonally.

    The sums are the same integers, so the outputs are bit for bit the same; but a 1x1
    convolution with three input and output channels fills few of a CPU's vector lanes, and on
    eight pixels at once it runs in about half the time. The graph edits' last step (the luma
    step's convolution no longer writes the luma tensor itself); a row the group does not
    divide takes the largest power of two that divides it.
    """
    schema, model, graph = _load(blob)
    luma_op = _luma_conv(schema, model, graph)
    src, weights, bias = (int(t) for t in luma_op.inputs[:3])
    luma_id = int(luma_op.outputs[0])
    height, width, channels = (int(d) for d in graph.tensors[luma_id].shape[1:])
    group = math.gcd(width, pixels)
    if group == 1:
        return blob
    for tensor_id, shape in ((weights, (channels, 1, 1, 3)), (bias, (channels,))):
        tensor = graph.tensors[tensor_id]
        data = np.frombuffer(bytes(model.buffers[tensor.buffer].data), _NUMPY_TYPES[_type_name(schema, tensor.type)])
        data = data.reshape(shape)
        if tensor_id == weights:
            grouped = np.zeros((group * channels, 1, 1, group * 3), data.dtype)
            for k in range(group):
                grouped[k * channels:(k + 1) * channels, :, :, 3 * k:3 * (k + 1)] = data
        else:
            grouped = np.tile(data, group)
        model.buffers[tensor.buffer].data = np.frombuffer(grouped.tobytes(), np.uint8)
        tensor.shape = list(grouped.shape)
        q = tensor.quantization
        if q is not None and q.scale is not None and len(q.scale):
            tensor.quantization = _quant(schema, list(q.scale) * group, list(q.zeroPoint) * group)
    luma = graph.tensors[luma_id]
    grouped_in = _tensor(schema, model, graph, graph.tensors[src], f"{LUMA_TENSOR}/pixel_groups",
                         [1, height, width // group, 3 * group], quant=graph.tensors[src].quantization)
    grouped_out = _tensor(schema, model, graph, luma, f"{LUMA_TENSOR}/grouped",
                          [1, height, width // group, channels * group], quant=luma.quantization)
    luma_op.inputs = [grouped_in, weights, bias]
    luma_op.outputs = [grouped_out]
    at = graph.operators.index(luma_op)
    graph.operators[at:at + 1] = [_reshape_op(schema, model, graph, src, grouped_in), luma_op,
                                  _reshape_op(schema, model, graph, grouped_out, luma_id)]
    return _pack(model)


def _luma_grouped(blob: bytes) -> bool:
    _, _, graph = _load(blob)
    return any(t.name == f"{LUMA_TENSOR}/grouped".encode() for t in graph.tensors)


def for_app_runtimes(blob: bytes, spec: PreprocessSpec, temperature: float) -> bytes:
    """The canonical RGB face in (raw pixels, if quantized), luma step and resize to the network's
    size in the graph, calibrated probabilities out."""
    canonical = add_canonical_input(add_luma_input(blob, spec), spec.face_size)
    return group_luma_pixels(add_softmax_output(canonical, temperature))


def has_app_graph(info: ModelInfo) -> bool:
    return APP_GRAPH_KEY in info.source


def has_canonical_input(info: ModelInfo) -> bool:
    return info.preprocess.takes_canonical_face


def _canonical_info(info: ModelInfo) -> ModelInfo:
    """The record of a model whose graph now takes the canonical face: the input it takes, and
    the network's own size in the app-graph record."""
    if has_canonical_input(info) or info.preprocess.input_size < info.preprocess.face_size:
        return info  # see add_canonical_input: networks smaller than the face keep their input
    graph = {**info.source.get(APP_GRAPH_KEY, {}), "network_size": info.preprocess.input_size}
    return replace(info, preprocess=replace(info.preprocess, input_size=info.preprocess.face_size),
                   source={**info.source, APP_GRAPH_KEY: graph})


def app_graph_info(info: ModelInfo, temperature: float) -> ModelInfo:
    """The record of a model edited by :func:`for_app_runtimes`: the canonical RGB face in,
    calibrated probabilities out."""
    source = {**info.source, APP_GRAPH_KEY: {"luma_weights": list(LUMA_WEIGHTS), "temperature": temperature}}
    return _canonical_info(replace(info, preprocess=replace(info.preprocess, channels=3), output="probabilities",
                                   temperature=1.0, source=source))


def upgrade_model(blob: bytes) -> bytes:
    """An edgefer model exported before the graph edits, edited for the app runtimes: luma step,
    canonical-face input, calibrated softmax and, for an int8-input model, uint8 input and output.
    A model with the luma step and softmax but its network's input size gets the canonical input,
    and one whose luma step reads single pixels gets it grouped (the same answers, faster)."""
    info = read_model_info(blob)
    if info is None:
        raise ModelError("the model carries no edgefer metadata; export it with edgefer")
    if has_app_graph(info):
        if _luma_grouped(blob):
            return blob
        if not has_canonical_input(info):
            blob, info = add_canonical_input(blob, info.preprocess.face_size), _canonical_info(info)
        return embed_model_info(group_luma_pixels(blob), info)
    if info.output != "logits":
        raise ModelError("the model already ends in a softmax of unknown temperature; re-export it")
    edited = for_app_runtimes(blob, info.preprocess, info.temperature)
    widened = uint8_io(edited)
    upgraded = app_graph_info(info, info.temperature)
    if widened is not edited:
        upgraded.source["io"] = "uint8"
    return embed_model_info(widened, upgraded)
