"""Text every store and every vendor takes: what a database column or a JSON body can hold.

PostgreSQL refuses NUL in text, and a lone surrogate cannot be encoded as UTF-8 at all; both reach
the gateway from places it does not control (an LLM's answer, a vendor's error text) after the
client's own text was checked at the edge.
"""

from __future__ import annotations

import re

# NUL and the other C0 controls except tab, line feed and carriage return; DEL; lone surrogates.
_UNSTORABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def storable(text: str) -> str:
    """``text`` without the characters a database or a JSON encoder would refuse."""
    return _UNSTORABLE.sub("", text)
