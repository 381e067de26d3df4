"""The project spec: models, the YAML loader with file:line errors, and cross-field checks."""

from tinyctl.spec.loaded import LoadedSpec
from tinyctl.spec.loader import DEFAULT_SPEC, load_spec
from tinyctl.spec.models import Spec, json_schema

__all__ = ["DEFAULT_SPEC", "LoadedSpec", "Spec", "json_schema", "load_spec"]
