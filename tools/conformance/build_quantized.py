"""Builds the conformance suite's own small graphs: a float Conv+MatMul classifier, its dynamic
(MatMulInteger/ConvInteger) and static QDQ int8 quantizations, and a graph touching every dtype
edgert passes across the backend boundary. Deterministic (fixed seeds)."""

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType, quantize_dynamic,
                                      quantize_static)

OPSET = 13


def float_model() -> onnx.ModelProto:
    rng = np.random.default_rng(2024)

    def he(shape, fan_in):
        return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)

    inits = [
        numpy_helper.from_array(he((8, 3, 3, 3), 27), "conv1.w"),
        numpy_helper.from_array((rng.standard_normal(8) * 0.1).astype(np.float32), "conv1.b"),
        numpy_helper.from_array(he((8, 8, 3, 3), 72), "conv2.w"),
        numpy_helper.from_array((rng.standard_normal(8) * 0.1).astype(np.float32), "conv2.b"),
        numpy_helper.from_array(he((512, 32), 512), "fc1.w"),
        numpy_helper.from_array((rng.standard_normal(32) * 0.1).astype(np.float32), "fc1.b"),
        numpy_helper.from_array(he((32, 10), 32), "fc2.w"),
        numpy_helper.from_array((rng.standard_normal(10) * 0.1).astype(np.float32), "fc2.b"),
        numpy_helper.from_array(np.array([1, 512], np.int64), "flat_shape"),
    ]
    nodes = [
        helper.make_node("Conv", ["image", "conv1.w", "conv1.b"], ["c1"], pads=[1, 1, 1, 1], name="conv1"),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("Conv", ["r1", "conv2.w", "conv2.b"], ["c2"], pads=[1, 1, 1, 1], strides=[2, 2], name="conv2"),
        helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
        helper.make_node("Reshape", ["r2", "flat_shape"], ["flat"], name="flatten"),
        helper.make_node("MatMul", ["flat", "fc1.w"], ["m1"], name="fc1"),
        helper.make_node("Add", ["m1", "fc1.b"], ["a1"], name="fc1_bias"),
        helper.make_node("Relu", ["a1"], ["r3"], name="relu3"),
        helper.make_node("MatMul", ["r3", "fc2.w"], ["m2"], name="fc2"),
        helper.make_node("Add", ["m2", "fc2.b"], ["logits"], name="fc2_bias"),
    ]
    graph = helper.make_graph(
        nodes, "tiny_classifier",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 16, 16])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 10])],
        inits,
    )
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="edgert-tools")
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


class Calibration(CalibrationDataReader):
    def __init__(self):
        rng = np.random.default_rng(99)
        self.batches = iter([{"image": rng.standard_normal((1, 3, 16, 16)).astype(np.float32)} for _ in range(32)])

    def get_next(self):
        return next(self.batches, None)


def dtypes_model() -> onnx.ModelProto:
    def vi(name, t):
        return helper.make_tensor_value_info(name, t, [4])

    two = numpy_helper.from_array(np.array([2.0], np.float16), "two_f16")
    one = numpy_helper.from_array(np.array([1], np.uint8), "one_u8")
    nodes = [
        helper.make_node("Mul", ["x_f16", "two_f16"], ["y_f16"]),
        helper.make_node("Add", ["x_i64", "x_i64"], ["y_i64"]),
        helper.make_node("Mul", ["x_i32", "x_i32"], ["y_i32"]),
        helper.make_node("Max", ["x_u8", "one_u8"], ["y_u8"]),
        helper.make_node("Neg", ["x_i8"], ["y_i8"]),
        helper.make_node("Not", ["x_bool"], ["y_bool"]),
        helper.make_node("Cast", ["x_i32"], ["y_f32"], to=TensorProto.FLOAT),
    ]
    types = {"f16": TensorProto.FLOAT16, "i64": TensorProto.INT64, "i32": TensorProto.INT32,
             "u8": TensorProto.UINT8, "i8": TensorProto.INT8, "bool": TensorProto.BOOL}
    graph = helper.make_graph(
        nodes, "dtypes",
        [vi(f"x_{k}", t) for k, t in types.items()],
        [vi(f"y_{k}", t) for k, t in types.items()] + [vi("y_f32", TensorProto.FLOAT)],
        [two, one],
    )
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="edgert-tools")
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


def dtype_inputs():
    return {
        "x_f16": np.array([0.5, -1.25, 3.0, 1024.0], np.float16),
        "x_i64": np.array([1, -2, 3_000_000_000, -4], np.int64),
        "x_i32": np.array([3, -4, 46340, 0], np.int32),
        "x_u8": np.array([0, 1, 127, 254], np.uint8),
        "x_i8": np.array([-127, -1, 0, 127], np.int8),
        "x_bool": np.array([True, False, True, False]),
    }


def build(dynamic_path: Path, qdq_path: Path, dtypes_path: Path) -> None:
    tmp = dynamic_path.parent / "float.onnx.tmp"
    onnx.save(float_model(), tmp)
    try:
        quantize_dynamic(tmp, dynamic_path, op_types_to_quantize=["Conv", "MatMul"], weight_type=QuantType.QUInt8)
        quantize_static(tmp, qdq_path, Calibration(), quant_format=QuantFormat.QDQ,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=False)
    finally:
        tmp.unlink()
    onnx.save(dtypes_model(), dtypes_path)


def bad_graphs(out_dir: Path) -> None:
    """Graphs for the bad-input tests: one that reads a value nothing produces, one using an
    operator tract does not implement (Det; ONNX Runtime has it), one using an operator no
    runtime knows."""
    out_dir.mkdir(parents=True, exist_ok=True)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 3])

    def save(nodes, outputs, name, check=True):
        g = helper.make_graph(nodes, name, [x], outputs)
        opsets = [helper.make_opsetid("", OPSET), helper.make_opsetid("com.edgert.test", 1)]
        m = helper.make_model(g, opset_imports=opsets, producer_name="edgert-tools")
        m.ir_version = 8
        if check:
            onnx.checker.check_model(m)
        onnx.save(m, out_dir / f"{name}.onnx")

    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 3])
    save([helper.make_node("Add", ["x", "ghost"], ["y"], name="add_ghost")], [y], "dangling_input", check=False)
    d = helper.make_tensor_value_info("d", TensorProto.FLOAT, [])
    save([helper.make_node("Det", ["x"], ["d"], name="det")], [d], "det")
    save([helper.make_node("Frobnicate", ["x"], ["y"], name="frob", domain="com.edgert.test")], [y], "custom_op", check=False)
