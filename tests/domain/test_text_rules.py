"""No control characters in a field that reaches an email header (issue 8.17)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from domain.refresh import (
    AssignReplacement,
    Delegate,
    ExchangeReplacement,
    Person,
    ReplacementSystem,
    SetTracking,
)
from domain.text_rules import control_characters

INJECTED = "C02XYZ\r\nBcc: everyone@example.edu\r\n\r\nClick here"


def refusal(model, data) -> tuple[str, str]:
    with pytest.raises(ValidationError) as e:
        model.model_validate(data)
    [err] = e.value.errors()
    return ".".join(str(p) for p in err["loc"]), err["msg"]


def test_a_replacement_serial_with_a_line_break_is_refused_naming_the_field():
    mac = {"serial": INJECTED, "platform": "mac", "model": "MacBook Pro"}
    for model in (AssignReplacement, ExchangeReplacement):
        data = {"replacement": mac, "actor": "radmin"}
        field, msg = refusal(model, data)
        assert field == "replacement.serial"
        assert "serial must be a single line without control characters" in msg
        assert "U+000D, U+000A" in msg


@pytest.mark.parametrize(
    ("model", "data", "field"),
    [
        (Person, {"uniqname": "jdoe", "name": "Jo\nDoe", "email": "j@x.edu"}, "name"),
        (Person, {"uniqname": "jd\roe", "name": "Jo", "email": "j@x.edu"}, "uniqname"),
        (Delegate, {"name": "A\u2028B", "email": "a@x.edu"}, "name"),
        (SetTracking, {"tracking_number": "1Z99\n9", "actor": "a"}, "tracking_number"),
        (SetTracking, {"tracking_number": "1Z999", "carrier": "UPS\x00", "actor": "a"}, "carrier"),
        (
            ReplacementSystem,
            {"serial": "C02", "platform": "mac", "model": "Mac\tBook"},
            "model",
        ),
    ],
)
def test_every_header_field_refuses_control_characters(model, data, field):
    assert refusal(model, data)[0] == field


def test_ordinary_text_passes_and_edges_are_trimmed():
    r = ReplacementSystem(serial=" C02XYZ\n", platform="mac", model="MacBook Pro 14″ (M4)")
    assert r.serial == "C02XYZ"
    assert Person(uniqname="jdoe", name="José Müller-Ødegaard", email="j@x.edu").name
    assert control_characters("plain text, ünïcode") == []
