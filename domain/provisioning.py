"""Provisioning intake on HaloPSA (seed 000): categories, Exhibit A, the work-type rule.

Pure rules shared by the `ProvisioningIntake` workflow, its activities and the web pages:

* Halo keeps a ticket's category as one text, parent and child joined by ">" (for example
  "8. Provisioning>A. CIT procured equipment – new"); `category_of` reads it back.
* Exhibit A is the seed's 14-field template. `validate_exhibit` checks a draft field by
  field and reports every problem as (field, message); no message ever repeats what was typed,
  so a password can never leak into an error shown in a page, an API answer or a log.
* The work-type rule: time on a category 8 ticket uses "Provisioning and Imaging"; a work
  type whose name starts with "SD" is refused there. A repair (an incident) is the reverse.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    ValidationError,
)

from domain.business_calendar import BusinessCalendar

WORKFLOW_TYPE = "ProvisioningIntake"
REPORT_WORKFLOW = "ProvisioningComplianceReport"
REPORT_SCHEDULE_ID = "provisioning-compliance"
PROVISIONING_WORK_TYPE = "Provisioning and Imaging"
SERVICE_PREFIX = "SD"
SD_REASON = (
    "A category 8 (Provisioning) ticket takes time only as “Provisioning and Imaging”: a work "
    "type that begins with “SD” would falsely inflate service allocation and the client "
    "would pay for the labor twice. Change the work type before closing your time."
)
REPAIR_REASON = (
    "This ticket is a repair (an incident): its time is service time and goes to the "
    "allocation, so it uses an “SD” work type, never “Provisioning and Imaging”."
)
CLOSE_REASON = (
    "A Provisioning ticket must have a time entry with the work type “Provisioning and "
    "Imaging” before it closes (seed: Time accuracy)."
)

Text = Annotated[str, StringConstraints(max_length=500)]


def workflow_id(halo_ticket_id: str) -> str:
    return f"provisioning-{halo_ticket_id}"


class Subcategory(StrEnum):
    """Category 8's subcategories, by their letter."""

    A = "A"
    B = "B"
    C = "C"
    D = "D"


SUBCATEGORY_NAMES = {
    Subcategory.A: "A. CIT procured equipment – new",
    Subcategory.B: "B. Client procured equipment – new",
    Subcategory.C: "C. Existing equipment reprovision",
    Subcategory.D: "D. To be determined",
}
PROCUREMENT_CATEGORY = "7. Procurement"
PROVISIONING_CATEGORY = "8. Provisioning"
REPAIR_CATEGORY = "Hardware>Repair"


def halo_category(sub: Subcategory) -> str:
    """The Halo category text of category 8 with this subcategory."""
    return f"{PROVISIONING_CATEGORY}>{SUBCATEGORY_NAMES[sub]}"


def category_of(text: str) -> tuple[int | None, Subcategory | None]:
    """(7 or 8 or None, subcategory letter) from Halo's category text.

    "7. Procurement" → (7, None); "8. Provisioning>C. ..." → (8, C); "8. Provisioning" alone
    → (8, D), the seed's "to be determined"; anything else → (None, None).
    """
    parent, _, child = (text or "").partition(">")
    number = re.match(r"\s*(?:Cat(?:egory)?\.?\s*)?(\d+)\s*\.", parent)
    if number is None:
        return None, None
    n = int(number.group(1))
    if n == 7:
        return 7, None
    if n != 8:
        return None, None
    letter = re.match(r"\s*(?:Subcat\.?\s*)?([ABCD])\s*\.", child)
    return 8, Subcategory(letter.group(1)) if letter else Subcategory.D


class Status(StrEnum):
    """Where a provisioning ticket is, in the seed's steps."""

    procurement = "procurement"  # category 7: waiting for the equipment
    care_team_review = "care_team_review"  # 8A after procurement: Care Team assigns
    pending_confirmation = "pending_confirmation"  # 8D: specialist confirms A, B or C
    provisioning = "provisioning"  # an analyst or engineer provisions
    repair = "repair"  # reclassified as an incident: SD time only
    closed = "closed"


class Role(StrEnum):
    """The provisioning roles (staff roles of the same names)."""

    procurement = "procurement"
    care_team = "care_team"
    provisioning_specialist = "provisioning_specialist"
    analyst = "analyst"
    desk_manager = "desk_manager"


ROLE_WORDS = {
    Role.procurement: "Procurement",
    Role.care_team: "Care Team",
    Role.provisioning_specialist: "Provisioning Specialist",
    Role.analyst: "analyst or engineer",
    Role.desk_manager: "Service Desk Manager",
}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Actor(_Model):
    """Who sends an update: the web and CLI fill it from the signed-in staff member."""

    username: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    name: Text = ""
    email: Text = ""
    roles: list[Role] = Field(default_factory=list, max_length=10)


# ----- Exhibit A ------------------------------------------------------------------------------


class InventoryType(StrEnum):
    new_cit = "New CIT"
    new_client = "New Client"
    pulled = "Pulled from inventory"
    client_provided = "Client provided"


SECRET_FIELDS = ("domain_password", "m365_password")
EXHIBIT_FIELDS: dict[str, str] = {
    "by_when": "By when?",
    "employee_name": "Employee name",
    "domain_username": "Domain username",
    "domain_password": "Domain password",
    "m365_username": "M365 username",
    "m365_password": "M365 password",
    "computer_model": "Computer make/model",
    "serial_number": "Computer S/N",
    "ac_adapter": "AC Adapter",
    "battery": "Battery",
    "accessories": "Accessories? (Ex. Laptop bag, software. Other)",
    "description": "Detailed description of problem",
    "media_sanitation": "Media sanitation needed",
    "inventory_type": "Inventory type",
}
OPTIONAL_FIELDS = frozenset({"accessories"})
YES_NO_FIELDS = ("ac_adapter", "battery", "media_sanitation")
MAX_LENGTH = {"description": 4000, "accessories": 1000}
SERIAL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{3,29}$")
USERNAME = re.compile(r"^[^\s<>\"']{1,128}$")


class ExhibitDraft(_Model):
    """Exhibit A as typed (any JSON in each field, unchecked): what an update or form carries.

    Deliberately loose, so that a bad value reaches `validate_exhibit` (whose messages never
    quote the value) instead of failing in the payload converter with the input echoed.
    Unknown fields are dropped for the same reason: naming them is all the caller needs.
    """

    model_config = ConfigDict(extra="ignore")

    by_when: Any = None
    employee_name: Any = None
    domain_username: Any = None
    domain_password: Any = Field(None, repr=False)
    m365_username: Any = None
    m365_password: Any = Field(None, repr=False)
    computer_model: Any = None
    serial_number: Any = None
    ac_adapter: Any = None
    battery: Any = None
    accessories: Any = None
    description: Any = None
    media_sanitation: Any = None
    inventory_type: Any = None


class ExhibitA(_Model):
    """Exhibit A once valid. The passwords are here only on their way to the database."""

    by_when: date
    employee_name: Text
    domain_username: Text
    domain_password: str = Field(repr=False)
    m365_username: Text
    m365_password: str = Field(repr=False)
    computer_model: Text
    serial_number: Text
    ac_adapter: bool
    battery: bool
    accessories: Annotated[str, StringConstraints(max_length=1000)] = ""
    description: Annotated[str, StringConstraints(max_length=4000)]
    media_sanitation: bool
    inventory_type: InventoryType

    def public(self) -> ExhibitView:
        """Everything but the passwords (which are only said to be recorded)."""
        values = self.model_dump(exclude=set(SECRET_FIELDS))
        return ExhibitView(**values, passwords_recorded=True)


class ExhibitView(_Model):
    """Exhibit A as pages, the `state` query and the database projection show it."""

    by_when: date
    employee_name: Text
    domain_username: Text
    m365_username: Text
    computer_model: Text
    serial_number: Text
    ac_adapter: bool
    battery: bool
    accessories: str = ""
    description: str
    media_sanitation: bool
    inventory_type: InventoryType
    passwords_recorded: bool = False


class ExhibitInvalid(ValueError):
    """Every problem of a draft, as (field, message); `str()` names the fields."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{f}: {m}" for f, m in problems))


YES = {"yes", "y", "true", "1", "on"}
NO = {"no", "n", "false", "0", "off"}


def validate_exhibit(draft: ExhibitDraft, calendar: BusinessCalendar, now: datetime) -> ExhibitA:
    """The draft as a valid Exhibit A, or ExhibitInvalid naming every field at fault.

    "By when" must be a business day after today (in the desk's calendar); the serial number
    4–30 letters, digits or dashes; inventory type one of the seed's four; AC adapter,
    battery and media sanitation yes or no; all but accessories required.
    """
    problems: list[tuple[str, str]] = []
    values: dict[str, Any] = {}
    raw = draft.model_dump()
    for name, label in EXHIBIT_FIELDS.items():
        value = raw.get(name)
        if isinstance(value, bool) and name in YES_NO_FIELDS:
            value = "yes" if value else "no"
        if value is not None and not isinstance(value, str):
            problems.append((name, f"{label} must be text"))
            continue
        text = (value or "") if name in SECRET_FIELDS else (value or "").strip()
        if not text.strip() and name not in OPTIONAL_FIELDS:
            problems.append((name, f"{label} is required"))
            continue
        limit = MAX_LENGTH.get(name, 500)
        if len(text) > limit:
            problems.append((name, f"{label} is longer than {limit} characters"))
            continue
        if any(ord(c) < 32 and c not in "\n\t" for c in text):
            problems.append((name, f"{label} contains control characters"))
            continue
        values[name] = text
    if "by_when" in values:
        try:
            when = date.fromisoformat(values["by_when"])
        except ValueError:
            problems.append(("by_when", "By when? must be a date (YYYY-MM-DD)"))
        else:
            today = calendar._local(now).date()
            if when <= today:
                problems.append(("by_when", "By when? must be a date after today"))
            elif not calendar.is_business_day(when):
                problems.append(("by_when", "By when? must be a business day"))
            else:
                values["by_when"] = when
    if "serial_number" in values and not SERIAL.match(values["serial_number"]):
        problems.append(("serial_number", "Computer S/N must be 4–30 letters, digits or dashes"))
    for name in ("domain_username", "m365_username"):
        if name in values and not USERNAME.match(values[name]):
            problems.append((name, f"{EXHIBIT_FIELDS[name]} must be one word without quotes"))
    for name in YES_NO_FIELDS:
        if name in values:
            answer = values[name].lower()
            if answer not in YES | NO:
                problems.append((name, f"{EXHIBIT_FIELDS[name]} must be yes or no"))
            else:
                values[name] = answer in YES
    if "inventory_type" in values:
        match = [t for t in InventoryType if t.value.lower() == values["inventory_type"].lower()]
        if not match:
            allowed = ", ".join(t.value for t in InventoryType)
            problems.append(("inventory_type", f"Inventory type must be one of: {allowed}"))
        else:
            values["inventory_type"] = match[0]
    if problems:
        raise ExhibitInvalid(problems)
    return ExhibitA(**values)


def halo_custom_fields(exhibit: ExhibitA, field_ids: dict[str, int]) -> dict[str, str]:
    """Exhibit A as Halo's provisioning-tab custom fields ({id: value}), passwords included:
    Halo is the system of record and the seed puts all 14 fields on its provisioning tab."""
    out: dict[str, str] = {}
    for name in EXHIBIT_FIELDS:
        value = getattr(exhibit, name)
        if isinstance(value, bool):
            text = "Yes" if value else "No"
        elif isinstance(value, date):
            text = value.isoformat()
        else:
            text = str(value.value if isinstance(value, StrEnum) else value)
        out[str(field_ids[name])] = text
    return out


# ----- reference data --------------------------------------------------------------------------


class Contact(_Model):
    name: Text
    email: EmailStr


DEFAULT_FIELD_IDS = {name: 201 + i for i, name in enumerate(EXHIBIT_FIELDS)}
DEFAULT_CATEGORY_IDS = {"7": 70, "8A": 81, "8B": 82, "8C": 83, "8D": 84, "repair": 90}


class ProvisioningSpec(_Model):
    """The `provisioning:` block of the reference data."""

    care_team: Text = "Care Team"  # the Halo team name
    care_team_contacts: list[Contact] = Field(default_factory=list)
    specialists: list[Contact] = Field(min_length=1)
    procurement: list[Contact] = Field(default_factory=list)
    desk_manager: Contact
    slack_channel: Annotated[str, StringConstraints(pattern=r"^#?[a-z0-9][a-z0-9_-]{0,79}$")] = (
        "#provisioning"
    )
    work_type: Text = PROVISIONING_WORK_TYPE
    refused_prefix: Text = SERVICE_PREFIX
    custom_field_ids: dict[str, int] = Field(default_factory=lambda: dict(DEFAULT_FIELD_IDS))
    # Halo's category ids (categoryid_1) of 7, 8A-8D and the repair category.
    category_ids: dict[str, int] = Field(default_factory=lambda: dict(DEFAULT_CATEGORY_IDS))

    def category_id(self, key: str) -> int | None:
        return self.category_ids.get(key)

    reminder_business_days: int = Field(2, ge=1, le=20)


class WorkType(_Model):
    """A Halo charge type (`GET /api/lookup?lookupid=17`)."""

    id: int
    name: Text


class Setup(_Model):
    """What a ProvisioningIntake reads once: the calendar, the spec and Halo's work types."""

    calendar: BusinessCalendar
    spec: ProvisioningSpec
    work_types: list[WorkType]

    def work_type_named(self, name: str) -> WorkType | None:
        wanted = name.strip().lower()
        return next((w for w in self.work_types if w.name.lower() == wanted), None)

    def work_type_name(self, work_type_id: int | None) -> str:
        found = next((w for w in self.work_types if w.id == work_type_id), None)
        return found.name if found else ""


# ----- the work-type rule ----------------------------------------------------------------------


def is_service_type(name: str, prefix: str = SERVICE_PREFIX) -> bool:
    return name.strip().upper().startswith(prefix.upper())


def is_provisioning_type(name: str, allowed: str = PROVISIONING_WORK_TYPE) -> bool:
    return name.strip().lower() == allowed.lower()


def work_type_problem(name: str, status: Status, spec: ProvisioningSpec) -> str | None:
    """Why time of this work type does not belong on the ticket now (None if it does)."""
    if status == Status.repair:
        return REPAIR_REASON if is_provisioning_type(name, spec.work_type) else None
    if is_service_type(name, spec.refused_prefix):
        return SD_REASON
    return None


def parse_hours(value: Any) -> Decimal:
    """Hours of a time entry: 0 < hours ≤ 24, at most two decimals (ValueError says why)."""
    try:
        hours = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ValueError("hours must be a number") from None
    if not hours.is_finite() or hours <= 0 or hours > 24:
        raise ValueError("hours must be more than 0 and at most 24")
    if hours != hours.quantize(Decimal("0.01")):
        raise ValueError("hours take at most two decimals")
    return hours


# ----- messages ------------------------------------------------------------------------------


class IntakeInput(_Model):
    """Start input: the Halo ticket; events arrive as `ticket_event` signals."""

    halo_ticket_id: Annotated[str, StringConstraints(pattern=r"^[0-9]{1,12}$")]
    resume: IntakeState | None = None


class EquipmentReceived(_Model):
    by: Actor
    note: Annotated[str, StringConstraints(max_length=2000)] = ""


class SetSubcategory(_Model):
    by: Actor
    subcategory: str = Field(max_length=20)


class Assign(_Model):
    by: Actor
    analyst: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    analyst_name: Text = ""
    analyst_email: Text = ""
    halo_agent_id: int | None = Field(None, ge=1)


class SubmitDetails(_Model):
    by: Actor
    details: ExhibitDraft


def parse_submission(raw: Any) -> SubmitDetails:
    """A `submit_details` payload (any JSON) as the model, or ExhibitInvalid that names the
    field without echoing what was sent (the payload may hold passwords)."""
    try:
        return SubmitDetails.model_validate(raw)
    except ValidationError as e:
        problems = [
            (".".join(str(p) for p in err["loc"]) or "(payload)", err["msg"])
            for err in e.errors(include_input=False, include_url=False, include_context=False)
        ]
        raise ExhibitInvalid(problems[:5]) from None


class LogTime(_Model):
    by: Actor
    hours: str | float = Field(union_mode="left_to_right")
    work_type: Text
    note: Annotated[str, StringConstraints(max_length=2000)] = ""


class ReclassifyAsRepair(_Model):
    by: Actor
    reason: Annotated[str, StringConstraints(min_length=1, max_length=2000)]


class RequestClose(_Model):
    by: Actor
    note: Annotated[str, StringConstraints(max_length=2000)] = ""


class TimeRecord(_Model):
    """One time entry on a provisioning ticket (deskflow's or Halo's), for rule and gauge."""

    id: Text  # Halo action id
    at: AwareDatetime
    analyst: Text
    hours: Decimal
    work_type: Text
    work_type_id: int | None = None
    category8: bool = True
    flagged: bool = False


class Audit(_Model):
    at: AwareDatetime
    by: Text
    action: Text
    detail: Text = ""


class IntakeState(_Model):
    """The `state` query: everything but the passwords."""

    halo_ticket_id: str
    status: Status | None = None
    category: int | None = None
    subcategory: Subcategory | None = None
    summary: Text = ""
    client: Text = ""
    analyst: Text = ""
    analyst_name: Text = ""
    analyst_email: Text = ""
    halo_agent_id: int | None = None
    details: ExhibitView | None = None
    time: list[TimeRecord] = Field(default_factory=list)
    audits: list[Audit] = Field(default_factory=list)
    seen_actions: list[str] = Field(default_factory=list)
    reminders_sent: int = 0
    confirmation_since: AwareDatetime | None = None
    reopened: int = 0
    opened_at: AwareDatetime | None = None
    closed_at: AwareDatetime | None = None
    updated_at: AwareDatetime | None = None
    next_wakeup: AwareDatetime | None = None

    def has_provisioning_time(self, spec: ProvisioningSpec) -> bool:
        return any(is_provisioning_type(t.work_type, spec.work_type) for t in self.time)


class Projection(_Model):
    """`provisioning_project`: the console's row of one intake."""

    state: IntakeState
    month_key: str | None = None


class SaveDetails(_Model):
    """`provisioning_save_details`: Exhibit A to the database (passwords encrypted) and to
    Halo's provisioning custom fields."""

    key: Text
    halo_ticket_id: str
    exhibit: ExhibitA
    by: Text


class EraseSecrets(_Model):
    halo_ticket_id: str


class RecordTime(_Model):
    halo_ticket_id: str
    entry: TimeRecord


class ResolveTicket(_Model):
    key: Text
    halo_ticket_id: str
    notes: Annotated[str, StringConstraints(max_length=4000)]


class ReportInput(_Model):
    """The monthly report's start input; `month` (YYYY-MM) forces one, else last month."""

    month: Annotated[str, StringConstraints(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")] | None = None


class ReportRequest(_Model):
    month: str
    key: Text


IntakeInput.model_rebuild()
