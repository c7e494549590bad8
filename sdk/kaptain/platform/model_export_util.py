"""Uploading a trained model from training code: `ModelExportUtil().upload_model(path)`.

In a training container started by `Model.train`, ``TRAINED_MODEL_UPLOAD_PATH`` is the run's
``<base>/<model id>/trained/<revision>`` (``file://`` or ``s3://``) and, for S3, the ``AWS_*``/
``S3_*`` variables hold the storage credentials. Code written for the original SDK's tutorials
runs unchanged::

    torch.save(model.state_dict(), "model.pt")
    ModelExportUtil().upload_model("model.pt")       # → <upload path>/model.pt

    model.save("mnist")                              # a TensorFlow SavedModel directory
    ModelExportUtil().upload_model("mnist")          # → <upload path>/0001/saved_model.pb, ...

A directory's content goes directly under the upload path; a TensorFlow SavedModel (a directory
holding ``saved_model.pb``) goes under the version directory ``0001``, which TensorFlow Serving
expects. ``extra_files`` are uploaded beside the model under their own names.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from kaptain.runs import storage

__all__ = ["UPLOAD_PATH_ENV", "ModelExportUtil"]

UPLOAD_PATH_ENV: Final = "TRAINED_MODEL_UPLOAD_PATH"
_SAVED_MODEL: Final = "saved_model.pb"
_SAVED_MODEL_VERSION: Final = "0001"


class ModelExportUtil:
    """Uploads models from training code to the run's storage location."""

    def upload_model(self, path: str, extra_files: Sequence[str] | None = None) -> str | None:
        """Upload a model file or directory (and extra files) to ``$TRAINED_MODEL_UPLOAD_PATH``.

        Args:
            path: A model file (``model.pt``) or directory (a SavedModel).
            extra_files: Further files or directories to store beside the model.

        Returns:
            The upload location, or None when ``TRAINED_MODEL_UPLOAD_PATH`` is not set (the code
            is not running under `Model.train`; nothing is uploaded and a warning is logged).

        Raises:
            FileNotFoundError: ``path`` or an extra file does not exist.
        """
        target = os.environ.get(UPLOAD_PATH_ENV, "").strip().rstrip("/")
        if not target:
            logging.warning("%s is not set: the model is not uploaded.", UPLOAD_PATH_ENV)
            return None
        local = Path(path)
        if local.is_dir():
            prefix = _SAVED_MODEL_VERSION + "/" if (local / _SAVED_MODEL).is_file() else ""
            self._upload_tree(local, f"{target}/{prefix}".rstrip("/"))
        elif local.is_file():
            storage.upload_file(local, f"{target}/{local.name}", env=os.environ)
        else:
            raise FileNotFoundError(f"model path {path!r} does not exist")
        for extra in extra_files or []:
            extra_path = Path(extra)
            if extra_path.is_dir():
                self._upload_tree(extra_path, f"{target}/{extra_path.name}")
            elif extra_path.is_file():
                storage.upload_file(extra_path, f"{target}/{extra_path.name}", env=os.environ)
            else:
                raise FileNotFoundError(f"extra file {extra!r} does not exist")
        logging.info("Model uploaded to %s", target)
        return target

    @staticmethod
    def _upload_tree(directory: Path, target: str) -> None:
        for file in sorted(p for p in directory.rglob("*") if p.is_file()):
            storage.upload_file(file, f"{target}/{file.relative_to(directory).as_posix()}", env=os.environ)
