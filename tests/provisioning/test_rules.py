"""The seed's rules as pure functions: Halo categories, Exhibit A field by field, work types."""

from __future__ import annotations

import pytest

from domain.business_calendar import BusinessCalendar
from domain.holiday_dates import closed_dates_for
from domain.provisioning import (
    REPAIR_REASON,
    SD_REASON,
    ExhibitDraft,
    ExhibitInvalid,
    InventoryType,
    ProvisioningSpec,
    Status,
    Subcategory,
    category_of,
    halo_category,
    halo_custom_fields,
    validate_exhibit,
    work_type_problem,
)
from tests.itsm.helpers import local
from tests.provisioning.helpers import exhibit

CAL = BusinessCalendar(closed_dates=closed_dates_for("US", None, range(2026, 2028), []))
NOW = local(2026, 12, 14, 16)  # a Monday, 16:00
SPEC = ProvisioningSpec.model_validate(
    {
        "specialists": [{"name": "S", "email": "s@example.org"}],
        "desk_manager": {"name": "M", "email": "m@example.org"},
    }
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7. Procurement", (7, None)),
        ("Cat. 7. Procurement", (7, None)),
        ("8. Provisioning>A. CIT procured equipment – new", (8, Subcategory.A)),
        ("8. Provisioning>C. Existing equipment reprovision", (8, Subcategory.C)),
        ("8. Provisioning", (8, Subcategory.D)),
        ("8. Provisioning>Subcat B. Client procured", (8, Subcategory.B)),
        ("Hardware>Repair", (None, None)),
        ("18. Other", (None, None)),
        ("", (None, None)),
    ],
)
def test_halo_categories(text, expected):
    assert category_of(text) == expected


def test_every_subcategory_round_trips_through_halo_text():
    for sub in Subcategory:
        assert category_of(halo_category(sub)) == (8, sub)


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"by_when": "2026-12-14"}, "by_when", "after today"),
        ({"by_when": "2026-12-25"}, "by_when", "business day"),  # Christmas
        ({"by_when": "2026-12-26"}, "by_when", "business day"),  # Saturday
        ({"by_when": "21/12/2026"}, "by_when", "YYYY-MM-DD"),
        ({"employee_name": "  "}, "employee_name", "required"),
        ({"domain_password": ""}, "domain_password", "required"),
        ({"serial_number": "AB"}, "serial_number", "4–30"),
        ({"serial_number": "AB 1234"}, "serial_number", "4–30"),
        ({"ac_adapter": "maybe"}, "ac_adapter", "yes or no"),
        ({"inventory_type": "Borrowed"}, "inventory_type", "New CIT"),
        ({"m365_username": "dana scully"}, "m365_username", "one word"),
        ({"description": "x" * 4001}, "description", "4000"),
        ({"computer_model": 5450}, "computer_model", "text"),
    ],
)
def test_each_exhibit_field_is_checked(changes, field, words):
    with pytest.raises(ExhibitInvalid) as caught:
        validate_exhibit(ExhibitDraft(**exhibit(**changes)), CAL, NOW)
    [(got, message)] = caught.value.problems
    assert got == field and words in message


def test_a_valid_exhibit_and_its_halo_fields():
    valid = validate_exhibit(
        ExhibitDraft(
            **exhibit(by_when="2026-12-15", accessories="", inventory_type="client provided")
        ),
        CAL,
        NOW,
    )
    assert valid.inventory_type == InventoryType.client_provided and valid.accessories == ""
    fields = halo_custom_fields(valid, SPEC.custom_field_ids)
    assert len(fields) == 14 and fields["214"] == "Client provided" and fields["209"] == "Yes"
    assert "domain_password" not in valid.public().model_dump()


@pytest.mark.parametrize(
    ("name", "status", "reason"),
    [
        ("Provisioning and Imaging", Status.provisioning, None),
        ("SD - Remote Support", Status.provisioning, SD_REASON),
        ("sd – Remote support – BH", Status.care_team_review, SD_REASON),
        ("Project work", Status.provisioning, None),
        ("SD - Remote Support", Status.repair, None),
        ("provisioning and imaging", Status.repair, REPAIR_REASON),
    ],
)
def test_work_type_rule(name, status, reason):
    assert work_type_problem(name, status, SPEC) == reason
