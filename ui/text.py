"""Text from the warehouse shown through Markdown, made inert."""

from __future__ import annotations

import re

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def md_escape(text: object) -> str:
    """Backslash-escape Markdown so data shows as typed (no links, images, emphasis or HTML)."""
    return _MD_SPECIAL.sub(r"\\\1", str(text)).replace("\n", " ")
