"""Is this one pip requirement, one Debian package? The checks the models and the image inputs
share (a leaf: it imports nothing of tinyctl)."""

from __future__ import annotations

import re

# Debian policy 5.6.1: lowercase letters, digits, '+', '-', '.'; at least two characters,
# starting with a letter or digit. An optional `=version` pins it (epoch, upstream, revision).
DEBIAN_PACKAGE = re.compile(r"[a-z0-9][a-z0-9+.-]+")
DEBIAN_VERSION = re.compile(r"(?:[0-9]+:)?[0-9][A-Za-z0-9.+~-]*")


def requirement_problem(text: str) -> str | None:
    """Why `text` is not one PEP 508 requirement pip may install, or None when it is."""
    item = text.strip()
    if not item:
        return "an empty requirement"
    if item.startswith("-"):
        return (
            f"{item!r} is a pip option; only requirements are allowed (e.g. 'pandas==2.2.3'). "
            "Set a package index with images.pip_index_url"
        )
    from packaging.requirements import InvalidRequirement, Requirement  # lazy: most specs list none

    try:
        Requirement(item)
    except InvalidRequirement as error:
        reason = str(error).splitlines()[0]
        return f"{item!r} is not a PEP 508 requirement ({reason}); write e.g. 'pandas==2.2.3'"
    return None


def package_problem(text: str) -> str | None:
    """Why `text` is not a Debian package name (optionally `name=version`), or None."""
    item = text.strip()
    name, _, version = item.partition("=")
    if not DEBIAN_PACKAGE.fullmatch(name):
        return (
            f"{item!r} is not a Debian package name (lowercase letters, digits, '+', '-' and '.', "
            "starting with a letter or digit; optionally =version)"
        )
    if "=" in item and not DEBIAN_VERSION.fullmatch(version):
        return f"{item!r}: {version!r} is not a Debian version (write e.g. jq=1.6-2.1)"
    return None


def is_requirement(item: str) -> bool:
    """One PEP 508 requirement on one line, and nothing else (no pip option, no second line)."""
    if not item.strip() or any(ord(c) < 32 or c in "\x7f\x85\u2028\u2029" for c in item):
        return False
    if len(item.splitlines()) != 1 or item.strip().startswith("-"):
        return False
    from packaging.requirements import InvalidRequirement, Requirement  # lazy: tens of ms

    try:
        Requirement(item)
    except InvalidRequirement:
        return False
    return True
