"""kaptain.platform.constants: the fixed names other parts rely on."""

from __future__ import annotations

import re

from kaptain.platform import constants


def test_label_keys() -> None:
    assert constants.MANAGED_BY_LABEL == "app.kubernetes.io/managed-by"
    assert constants.MANAGED_BY_VALUE == "kaptain"
    assert constants.MODEL_ID_LABEL == "kaptain.io/model-id"
    assert constants.REVISION_LABEL == "kaptain.io/revision"
    assert constants.ACTION_LABEL == "kaptain.io/action"
    qualified = re.compile(r"([a-z0-9.-]+/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?")
    for key in (
        constants.MANAGED_BY_LABEL,
        constants.MODEL_ID_LABEL,
        constants.REVISION_LABEL,
        constants.ACTION_LABEL,
    ):
        assert qualified.fullmatch(key), key
    for action in constants.ACTIONS:
        assert re.fullmatch(r"[a-z]+", action)


def test_kinds_timeout_and_logger() -> None:
    assert constants.CONFIG_MAP_KIND == "ConfigMap"
    assert constants.SECRET_KIND == "Secret"
    assert constants.DEFAULT_TIMEOUT_SECONDS == 86400
    assert constants.LOGGER_NAME == "kaptain-log"
