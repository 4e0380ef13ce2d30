"""Text that may reach an email header: no line breaks or other control characters.

A CR/LF in a value put into a header (a replacement serial in the `mac_mdm_request`
subject, a name, an address) ends the header line and lets the rest of the value write
headers or body text of its own. The models refuse such values where they enter, naming the
field, so nothing downstream has to remember to clean them.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator, ValidationInfo


def control_characters(value: str) -> list[str]:
    """Each control (Cc), format-breaking line/paragraph separator found, as U+XXXX."""
    return [
        f"U+{ord(c):04X}"
        for c in value
        if unicodedata.category(c) == "Cc" or c in "\u2028\u2029\u0085"
    ]


def header_safe(value: str, info: ValidationInfo) -> str:
    found = control_characters(value)
    if found:
        name = info.field_name or "this value"
        shown = ", ".join(dict.fromkeys(found))
        raise ValueError(f"{name} must be a single line without control characters (found {shown})")
    return value


HeaderText = Annotated[str, AfterValidator(header_safe)]
