"""Optional dependencies, imported only when a feature needs them."""

from __future__ import annotations

import importlib
from types import ModuleType


class MissingDependencyError(ImportError):
    """An optional package that this feature needs is not installed."""


def import_optional(package: str, feature: str) -> ModuleType:
    """Import `package` or raise an error that names it and the pip command that installs it."""
    try:
        return importlib.import_module(package)
    except ImportError as exc:
        raise MissingDependencyError(
            f"{feature} needs the Python package '{package}', which is not installed or failed to "
            f"import ({exc}). Install it into ComfyUI's Python with: pip install {package}"
        ) from exc
