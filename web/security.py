"""Who may do what (seed 001 "Access"), and the signed tokens that say who someone is.

Staff sign in with a local account (`StaffUser`, scrypt hash) and get a session cookie
signed with `DESKFLOW_SECRET_KEY`: Secure, HttpOnly, SameSite=Lax. The same signed value is
also a bearer token (`Authorization: Bearer ...`) for operators and other systems using the
JSON API. It names a server-side session (`store.staff_sessions`), checked with the roles on
every request, so signing out, a new password, a disabled account or a removed role takes
effect at once. Every unsafe request made with the cookie carries a CSRF token: the session's own
random value, echoed in a hidden form field or the `X-CSRF-Token` header (a bearer token is
never sent by a browser on its own, so it needs none).

Customers have no account: their signed, expiring link (`domain.customer_links`) is the
credential, and it opens only the ticket it was made for, and only while its address is the
ticket's user or delegate.

Production single sign-on is a seam: set `DESKFLOW_WEB_OIDC_ISSUER` / `_CLIENT_ID` /
`_CLIENT_SECRET` and implement `oidc_login` (authorization-code flow, then map the `sub` or
email claim to a `StaffUser` and issue the same session as a password login).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from enum import StrEnum

from itsdangerous import BadSignature, URLSafeSerializer, URLSafeTimedSerializer

SESSION_COOKIE = "deskflow_session"
LOGIN_CSRF_COOKIE = "deskflow_login_csrf"
WIZARD_COOKIE = "deskflow_wizard"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


class Role(StrEnum):
    refresh_admin = "refresh_admin"
    refresh_manager = "refresh_manager"
    slot_admin = "slot_admin"
    approver = "approver"
    # provisioning intake (seed 000)
    procurement = "procurement"
    care_team = "care_team"
    provisioning_specialist = "provisioning_specialist"
    analyst = "analyst"
    desk_manager = "desk_manager"
    help_desk = "help_desk"  # level-1 agent: after-hours intake, outages, triage (seeds 003, 004)
    hdqa = "hdqa"  # Help Desk quality assurance (seed 004)
    sncc = "sncc"  # the network and systems operations centre (seed 004)


class Perm(StrEnum):
    """What a route needs; PERMISSIONS says which roles grant it."""

    view_tickets = "view_tickets"  # tickets list, detail, problems, slot calendar
    manage_tickets = "manage_tickets"  # reschedule, hold/release, provide location
    admin_tickets = "admin_tickets"  # cancel, edit, exchange, batches, order groups, bulk
    view_configs = "view_configs"
    edit_configs = "edit_configs"  # create and edit refresh configs, single tickets
    view_slots = "view_slots"
    admin_slots = "admin_slots"  # slot preferences, delete slots
    approve = "approve"  # plus: named approver on the ticket's config
    codec = "codec"
    view_provisioning = "view_provisioning"  # provisioning tickets list and detail
    work_provisioning = "work_provisioning"  # equipment received, Exhibit A, time, close...
    reveal_secrets = "reveal_secrets"  # see an Exhibit A password (audited)
    view_compliance = "view_compliance"  # the work-type gauge
    after_hours = "after_hours"  # take contract-partner calls, act on and review the cases
    desk = "desk"  # outages and triage: see them, link incidents, reassign tickets
    report_outage = "report_outage"  # HDQA: report a potential outage, unlink incidents
    run_outage = "run_outage"  # SNCC: confirm, dismiss, resolve, name the follow-up team


# Refresh Administrators are NIT staff too, so they hold every Refresh Manager right.
PERMISSIONS: dict[Perm, frozenset[Role]] = {
    Perm.view_tickets: frozenset({Role.refresh_admin, Role.refresh_manager, Role.slot_admin}),
    Perm.manage_tickets: frozenset({Role.refresh_admin, Role.refresh_manager}),
    Perm.admin_tickets: frozenset({Role.refresh_admin}),
    Perm.view_configs: frozenset({Role.refresh_admin, Role.refresh_manager}),
    Perm.edit_configs: frozenset({Role.refresh_admin}),
    Perm.view_slots: frozenset({Role.refresh_admin, Role.refresh_manager, Role.slot_admin}),
    Perm.admin_slots: frozenset({Role.slot_admin}),
    Perm.approve: frozenset({Role.approver}),
    Perm.codec: frozenset(
        {Role.refresh_admin, Role.refresh_manager, Role.slot_admin, Role.approver}
    ),
    Perm.view_provisioning: frozenset(
        {
            Role.procurement,
            Role.care_team,
            Role.provisioning_specialist,
            Role.analyst,
            Role.desk_manager,
        }
    ),
    Perm.work_provisioning: frozenset(
        {Role.procurement, Role.care_team, Role.provisioning_specialist, Role.analyst}
    ),
    Perm.reveal_secrets: frozenset({Role.analyst, Role.provisioning_specialist}),
    Perm.view_compliance: frozenset({Role.desk_manager}),
    Perm.codec: frozenset(Role),
    Perm.after_hours: frozenset({Role.help_desk}),
    Perm.desk: frozenset({Role.help_desk, Role.hdqa, Role.sncc}),
    Perm.report_outage: frozenset({Role.hdqa, Role.sncc}),
    Perm.run_outage: frozenset({Role.sncc}),
}


@dataclass(frozen=True)
class Staff:
    username: str
    name: str
    email: str
    roles: frozenset[str]
    csrf: str = ""
    via_cookie: bool = True
    approver_configs: frozenset[str] = field(default_factory=frozenset)
    session_id: str = ""

    def can(self, perm: Perm) -> bool:
        return any(r in self.roles for r in PERMISSIONS[perm])

    def approves(self, config_id: str) -> bool:
        return Role.approver in self.roles and config_id in self.approver_configs


class Tokens:
    """Every signed value the web app hands out, made from the one secret key."""

    def __init__(self, secret: str, session_max_age: int) -> None:
        self._secret = secret.encode()
        self._session = URLSafeTimedSerializer(secret, salt="deskflow-staff-session")
        self._wizard = URLSafeSerializer(secret, salt="deskflow-wizard-draft")
        self._feed = URLSafeSerializer(secret, salt="deskflow-slot-feed")
        self.session_max_age = session_max_age

    # staff sessions (cookie value == bearer token): the server-side session id and CSRF
    def new_session(self, session_id: str) -> tuple[str, str]:
        csrf = secrets.token_urlsafe(24)
        return self._session.dumps({"s": session_id, "c": csrf}), csrf

    def read_session(self, value: str) -> tuple[str, str] | None:
        """(session id, CSRF token) of a genuine, unexpired token; is it live: the database."""
        try:
            data = self._session.loads(value, max_age=self.session_max_age)
        except BadSignature:  # also SignatureExpired
            return None
        if not isinstance(data, dict) or "s" not in data or "c" not in data:
            return None
        return str(data["s"]), str(data["c"])

    # customer forms: a CSRF token bound to the link
    def customer_csrf(self, link_token: str) -> str:
        return hmac.new(
            self._secret, b"customer-csrf:" + link_token.encode(), hashlib.sha256
        ).hexdigest()

    # the wizard's answers between pages, kept in the customer's browser
    def dump_draft(self, ticket_id: str, draft: dict) -> str:
        return self._wizard.dumps({"t": ticket_id, "d": draft})

    def load_draft(self, value: str | None, ticket_id: str) -> dict:
        if not value:
            return {}
        try:
            data = self._wizard.loads(value)
        except BadSignature:
            return {}
        return data.get("d", {}) if isinstance(data, dict) and data.get("t") == ticket_id else {}

    # calendar subscriptions cannot send a cookie: the feed URL carries a per-team key
    def feed_key(self, team_id: str) -> str:
        return self._feed.dumps(team_id)

    def feed_key_ok(self, key: str | None, team_id: str) -> bool:
        if not key:
            return False
        try:
            return self._feed.loads(key) == team_id
        except BadSignature:
            return False


def same(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(str(a), str(b))


def oidc_login(*_: object) -> None:
    """Production SSO seam: redirect to the issuer, handle the callback, issue a session."""
    raise NotImplementedError("OIDC login is configured but not implemented in this build")
