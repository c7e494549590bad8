"""The machine learning frameworks a model can use."""

from __future__ import annotations

from enum import Enum

__all__ = ["ModelFramework"]


class ModelFramework(Enum):
    """The framework or library a model is written with.

    It decides how the model is trained and served: TensorFlow trains as a TFJob, PyTorch as a
    PyTorchJob, the others as a plain Kubernetes Job; serving uses the matching KServe runtime.
    """

    TENSORFLOW = "tensorflow"
    PYTORCH = "pytorch"
    SKLEARN = "sklearn"
    XGBOOST = "xgboost"
    MXNET = "mxnet"
    LIGHTGBM = "lightgbm"
    ONNX = "onnx"
