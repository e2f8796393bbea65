"""Reading a TensorFlow.js *graph model* (``model.json`` + weight shards, the format ``tensorflowjs_converter``
writes): the graph's nodes and its constants as numpy arrays, dequantised (float16, uint8 and uint16 affine
quantisation as the tfjs loader does). Pure file reading; running the graph is :mod:`multimodal.detect.tfjs_run`.
Format: https://www.tensorflow.org/js/guide/save_load (``modelTopology`` is a GraphDef in JSON)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from multimodal.errors import ModelUnavailableError

DTYPES = {"float32": np.float32, "int32": np.int32, "bool": np.bool_}
QUANT = {"float16": np.float16, "uint8": np.uint8, "uint16": np.uint16}


@dataclass(frozen=True)
class Node:
    """One GraphDef node: ``inputs`` without ``:0`` suffixes or control inputs; ``attrs`` decoded to plain
    Python (strings, ints, floats, bools, lists of those)."""

    name: str
    op: str
    inputs: tuple[str, ...]
    attrs: dict = field(default_factory=dict)


@dataclass(frozen=True)
class TfjsGraph:
    nodes: dict[str, Node]
    consts: dict[str, np.ndarray]
    inputs: tuple[str, ...]
    source: str


def _attr(value: dict):
    if "list" in value:
        lst = value["list"]
        if "s" in lst:
            return [base64.b64decode(s).decode() for s in lst["s"]]
        if "i" in lst:
            return [int(i) for i in lst["i"]]
        if "f" in lst:
            return [float(f) for f in lst["f"]]
        return []
    if "s" in value:
        return base64.b64decode(value["s"]).decode()
    if "i" in value:
        return int(value["i"])
    if "f" in value:
        return float(value["f"])
    if "b" in value:
        return bool(value["b"])
    return value


def _node(raw: dict) -> Node:
    inputs = tuple(i.split(":")[0] for i in raw.get("input", []) if not i.startswith("^"))
    attrs = {k: _attr(v) for k, v in raw.get("attr", {}).items() if k not in ("_output_shapes",)}
    return Node(raw["name"], raw["op"], inputs, attrs)


def _weights(manifest: list, folder: Path) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for group in manifest:
        data = b"".join((folder / p).read_bytes() for p in group["paths"])
        offset = 0
        for w in group["weights"]:
            shape = tuple(int(s) for s in w["shape"])
            count = int(np.prod(shape)) if shape else 1
            quant = w.get("quantization")
            dtype = np.dtype(QUANT[quant["dtype"]] if quant else DTYPES[w["dtype"]])
            size = count * dtype.itemsize
            arr = np.frombuffer(data, dtype, count, offset).reshape(shape)
            offset += size
            if quant and quant["dtype"] == "float16":
                arr = arr.astype(np.float32)
            elif quant:
                arr = arr.astype(np.float32) * float(quant["scale"]) + float(quant["min"])
            out[w["name"]] = arr.astype(DTYPES[w["dtype"]]) if quant else arr.copy()
        if offset != len(data):
            raise ModelUnavailableError(
                f"{folder}: weight shards {group['paths']} hold {len(data)} bytes but the manifest describes "
                f"{offset}; the model files are truncated or mismatched: reinstall sceneqa"
            )
    return out


def load_graph(path: Path) -> TfjsGraph:
    """The graph model at ``path`` (its ``model.json``; shards beside it)."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        nodes = {n["name"]: _node(n) for n in raw["modelTopology"]["node"]}
        consts = _weights(raw["weightsManifest"], Path(path).parent)
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise ModelUnavailableError(
            f"{path}: cannot read the TensorFlow.js graph model ({type(exc).__name__}: {exc}); "
            "the packaged detector files are missing or damaged: reinstall sceneqa"
        ) from exc
    inputs = tuple(n.name for n in nodes.values() if n.op == "Placeholder")
    return TfjsGraph(nodes, consts, inputs, str(path))
