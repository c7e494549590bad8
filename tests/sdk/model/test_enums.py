"""ModelFramework and ModelState members and values."""

from __future__ import annotations

from kaptain.model.frameworks import ModelFramework
from kaptain.model.states import ModelState


def test_frameworks() -> None:
    assert {member.name: member.value for member in ModelFramework} == {
        "TENSORFLOW": "tensorflow",
        "PYTORCH": "pytorch",
        "SKLEARN": "sklearn",
        "XGBOOST": "xgboost",
        "MXNET": "mxnet",
        "LIGHTGBM": "lightgbm",
        "ONNX": "onnx",
    }
    assert ModelFramework("pytorch") is ModelFramework.PYTORCH


def test_states() -> None:
    assert [member.value for member in ModelState] == ["untrained", "trained", "tuned", "deployed", "canary"]
    assert ModelState("untrained") is ModelState.UNTRAINED
