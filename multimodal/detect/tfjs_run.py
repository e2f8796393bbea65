"""Running a :class:`~multimodal.detect.tfjs_graph.TfjsGraph` in torch: the subgraph that feeds the requested
outputs, node by node in dependency order. Activations are kept as NCHW torch tensors (the graph is NHWC: axis
attributes are mapped), constants stay numpy until an op needs them. Only the ops of convolutional networks
are implemented (convolutions with fused bias/ReLU, depthwise convolutions, element-wise arithmetic, ReLU/ReLU6/
sigmoid, spatial mean, channel concat, legacy TF1 bilinear resize); any other op is named in the error.

Semantics follow TensorFlow: "SAME" padding pads ``total = max((ceil(n/s) - 1) * s + k - n, 0)``, the smaller
half before; ``ResizeBilinear`` with ``align_corners=False, half_pixel_centers=False`` samples source
``dst * in / out`` (not torch's half-pixel mapping)."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from multimodal.detect.tfjs_graph import Node, TfjsGraph
from multimodal.errors import ModelUnavailableError

NHWC_TO_NCHW = {0: 0, 1: 2, 2: 3, 3: 1, -1: 1, -2: 3, -3: 2, -4: 0}


def _same_pad(x: torch.Tensor, k: tuple[int, int], s: tuple[int, int], d: tuple[int, int]) -> torch.Tensor:
    pads = []
    for n, kk, ss, dd in ((x.shape[3], k[1], s[1], d[1]), (x.shape[2], k[0], s[0], d[0])):
        eff = (kk - 1) * dd + 1
        total = max((math.ceil(n / ss) - 1) * ss + eff - n, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads) if any(pads) else x


def _activation(x: torch.Tensor, fused: list[str]) -> torch.Tensor:
    for op in fused[1:]:
        if op == "Relu":
            x = F.relu(x)
        elif op == "Relu6":
            x = x.clamp(0.0, 6.0)
        else:
            raise ModelUnavailableError(f"fused op {op!r} is not supported by the graph runner")
    return x


def _resize_legacy(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """TF1 ``resize_bilinear`` (no corner alignment, no half-pixel centres)."""
    out = x
    for axis, (n_in, n_out) in ((2, (x.shape[2], size[0])), (3, (x.shape[3], size[1]))):
        src = torch.arange(n_out, dtype=torch.float32) * (n_in / n_out)
        i0 = src.floor().long().clamp(max=n_in - 1)
        i1 = (i0 + 1).clamp(max=n_in - 1)
        w = (src - i0.float()).view([-1 if a == axis else 1 for a in range(4)])
        out = out.index_select(axis, i0) * (1 - w) + out.index_select(axis, i1) * w
    return out


class GraphRunner:
    """``run(x)`` -> the ``outputs`` for an NCHW float32 input. Weights are converted to torch once here."""

    def __init__(self, graph: TfjsGraph, outputs: tuple[str, ...]) -> None:
        self.graph, self.outputs = graph, outputs
        self.order = self._order(outputs)
        self.params: dict[str, torch.Tensor] = {}
        for name in self.order:
            node = graph.nodes[name]
            if node.op in ("_FusedConv2D", "Conv2D"):
                w = graph.consts[node.inputs[1]]
                self.params[name] = torch.from_numpy(np.ascontiguousarray(w.transpose(3, 2, 0, 1))).float()
            elif node.op in ("DepthwiseConv2dNative", "FusedDepthwiseConv2dNative"):
                w = graph.consts[node.inputs[1]]  # (kh, kw, c, m)
                kh, kw, c, m = w.shape
                w = w.transpose(2, 3, 0, 1).reshape(c * m, 1, kh, kw)
                self.params[name] = torch.from_numpy(np.ascontiguousarray(w)).float()

    def _order(self, outputs: tuple[str, ...]) -> list[str]:
        order: list[str] = []
        state: dict[str, int] = {}
        for out in outputs:
            stack = [(out, False)]
            while stack:
                name, done = stack.pop()
                if done:
                    state[name] = 2
                    order.append(name)
                    continue
                if state.get(name):
                    continue
                if name not in self.graph.nodes:
                    raise ModelUnavailableError(f"{self.graph.source}: no node {name!r} in the graph")
                state[name] = 1
                stack.append((name, True))
                stack.extend((i, False) for i in self.graph.nodes[name].inputs if not state.get(i))
        return order

    def _value(self, values: dict, name: str):
        if name in values:
            return values[name]
        return self.graph.consts[name]

    def _binary(self, node: Node, values: dict):
        a, b = (self._value(values, i) for i in node.inputs)
        if not isinstance(a, torch.Tensor) and not isinstance(b, torch.Tensor):
            return {"Mul": np.multiply, "Add": np.add, "AddV2": np.add, "Sub": np.subtract}[node.op](a, b)
        a, b = (v if isinstance(v, torch.Tensor) else _const_like(v) for v in (a, b))
        return {"Mul": torch.mul, "Add": torch.add, "AddV2": torch.add, "Sub": torch.sub}[node.op](a, b)

    def _conv(self, node: Node, values: dict) -> torch.Tensor:
        x = values[node.inputs[0]]
        w = self.params[node.name]
        a = node.attrs
        s = tuple(a.get("strides", [1, 1, 1, 1])[1:3])
        d = tuple(a.get("dilations", [1, 1, 1, 1])[1:3])
        if a.get("padding", "VALID") == "SAME":
            x = _same_pad(x, (w.shape[2], w.shape[3]), s, d)
        elif a.get("padding") != "VALID":
            raise ModelUnavailableError(f"node {node.name}: padding {a.get('padding')!r} is not supported")
        depthwise = node.op.endswith("DepthwiseConv2dNative")
        bias = None
        fused = a.get("fused_ops", [])
        if fused:
            if fused[0] != "BiasAdd":
                raise ModelUnavailableError(f"node {node.name}: fused ops {fused} are not supported")
            bias = torch.from_numpy(np.asarray(self.graph.consts[node.inputs[2]], np.float32))
        y = F.conv2d(x, w, bias, s, 0, d, groups=x.shape[1] if depthwise else 1)
        return _activation(y, fused) if fused else y

    def _step(self, node: Node, values: dict):
        op = node.op
        if op in ("_FusedConv2D", "Conv2D", "DepthwiseConv2dNative", "FusedDepthwiseConv2dNative"):
            return self._conv(node, values)
        if op in ("Mul", "Add", "AddV2", "Sub"):
            return self._binary(node, values)
        x = self._value(values, node.inputs[0]) if node.inputs else None
        if op == "Identity":
            return x
        if op == "Relu":
            return F.relu(x)
        if op == "Relu6":
            return x.clamp(0.0, 6.0)
        if op == "Sigmoid":
            return torch.sigmoid(x)
        if op == "Mean":
            axes = [NHWC_TO_NCHW[int(i)] for i in np.atleast_1d(self._value(values, node.inputs[1]))]
            return x.mean(dim=axes, keepdim=bool(node.attrs.get("keep_dims", False)))
        if op == "ConcatV2":
            axis = NHWC_TO_NCHW[int(self._value(values, node.inputs[-1]))]
            return torch.cat([self._value(values, i) for i in node.inputs[:-1]], dim=axis)
        if op == "ResizeBilinear":
            size = tuple(int(v) for v in self._value(values, node.inputs[1]))
            if node.attrs.get("align_corners") or node.attrs.get("half_pixel_centers"):
                return F.interpolate(x, size=size, mode="bilinear", align_corners=bool(node.attrs["align_corners"]))
            return _resize_legacy(x, size)
        raise ModelUnavailableError(f"{self.graph.source}: op {op!r} (node {node.name}) is not supported")

    @torch.inference_mode()
    def run(self, x: torch.Tensor) -> list[torch.Tensor]:
        values: dict = {self.graph.inputs[0]: x}
        for name in self.order:
            node = self.graph.nodes[name]
            if node.op in ("Const", "Placeholder"):
                continue
            values[name] = self._step(node, values)
        return [values[o] for o in self.outputs]


def _const_like(v: np.ndarray) -> torch.Tensor:
    """A constant broadcast against an NCHW activation: scalars stay scalars, a per-channel vector (C,) or an
    NHWC (1, 1, 1, C) block becomes (1, C, 1, 1)."""
    arr = np.asarray(v, np.float32)
    if arr.ndim == 0:
        return torch.tensor(float(arr))
    if arr.ndim == 4:
        return torch.from_numpy(np.ascontiguousarray(arr.transpose(0, 3, 1, 2)))
    if arr.ndim == 1:
        return torch.from_numpy(arr.copy()).view(1, -1, 1, 1)
    raise ModelUnavailableError(f"a constant of shape {arr.shape} cannot be broadcast in NCHW")
