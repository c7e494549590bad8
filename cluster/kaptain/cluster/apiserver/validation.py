"""Validation entry points of the API server: names, metadata and built-in kinds.

The core calls:

- `validate_builtin(kind, obj)` for built-in kinds (metadata with the kind's scope and name rule,
  plus the kind's own rules), after `normalize_secret` for Secrets;
- `validate_object_meta(obj, namespaced=..., name_rule="subdomain")` for custom resources, whose
  content is then checked by `schema.StructuralSchema`.

Both return `StatusCause` dicts for `ApiError.invalid`; an empty list means valid.
"""

from __future__ import annotations

from kaptain.cluster.apiserver.builtin_validation import (
    BUILTIN_KINDS,
    name_rule_for,
    normalize_secret,
    validate_builtin,
)
from kaptain.cluster.apiserver.meta_validation import (
    NAME_RULES,
    TOTAL_ANNOTATION_SIZE_LIMIT,
    validate_annotations,
    validate_finalizers,
    validate_labels,
    validate_name,
    validate_object_meta,
    validate_owner_references,
)
from kaptain.cluster.apiserver.names import (
    is_config_map_key,
    is_dns1035_label,
    is_dns1123_label,
    is_dns1123_subdomain,
    is_env_var_name,
    is_qualified_name,
    is_valid_label_value,
    is_valid_path_segment_name,
)
from kaptain.cluster.apiserver.pod_validation import validate_pod_spec

__all__ = [
    "BUILTIN_KINDS",
    "NAME_RULES",
    "TOTAL_ANNOTATION_SIZE_LIMIT",
    "is_config_map_key",
    "is_dns1035_label",
    "is_dns1123_label",
    "is_dns1123_subdomain",
    "is_env_var_name",
    "is_qualified_name",
    "is_valid_label_value",
    "is_valid_path_segment_name",
    "name_rule_for",
    "normalize_secret",
    "validate_annotations",
    "validate_builtin",
    "validate_finalizers",
    "validate_labels",
    "validate_name",
    "validate_object_meta",
    "validate_owner_references",
    "validate_pod_spec",
]
