"""Staff sessions kept on the server, so that ending one takes effect at once.

A session token (cookie or bearer) is signed by the web app and carries a random id; this
table says whether that id is still good. Signing out revokes its row; a new password and a
disabled account revoke every row of the user, whatever device holds the token.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from store.tables import StaffSession, StaffUser


class UnknownStaff(LookupError):
    pass


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def open_session(db: Session, username: str, now: datetime, max_age: timedelta) -> str:
    """A new session of `username`; returns its id (only the token ever holds it)."""
    db.execute(
        delete(StaffSession).where(StaffSession.username == username, StaffSession.expires_at < now)
    )
    session_id = secrets.token_urlsafe(32)
    db.add(
        StaffSession(
            id_hash=_hash(session_id),
            username=username,
            created_at=now,
            expires_at=now + max_age,
        )
    )
    return session_id


def session_user(db: Session, session_id: str, now: datetime) -> StaffUser | None:
    """The user of a live session: not revoked, not expired, account not disabled."""
    return db.scalar(
        select(StaffUser)
        .join(StaffSession, StaffSession.username == StaffUser.username)
        .where(
            StaffSession.id_hash == _hash(session_id),
            StaffSession.revoked_at.is_(None),
            StaffSession.expires_at > now,
            StaffUser.disabled.is_(False),
        )
    )


def revoke(db: Session, session_id: str, now: datetime) -> None:
    db.execute(
        update(StaffSession)
        .where(StaffSession.id_hash == _hash(session_id), StaffSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def revoke_all(db: Session, username: str, now: datetime) -> int:
    """End every session of `username`; returns how many were live."""
    result = db.execute(
        update(StaffSession)
        .where(StaffSession.username == username, StaffSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return result.rowcount or 0


def _user(db: Session, username: str) -> StaffUser:
    user = db.get(StaffUser, username)
    if user is None:
        raise UnknownStaff(f"no staff account '{username}'")
    return user


def set_password_hash(db: Session, username: str, password_hash: str, now: datetime) -> int:
    """A new password (hash from `store.reference.hash_password`); every session of the user
    ends. Returns how many ended."""
    _user(db, username).password_hash = password_hash
    return revoke_all(db, username, now)


def set_disabled(db: Session, username: str, disabled: bool, now: datetime) -> int:
    """Disable (ending every session) or enable an account. Returns how many sessions ended."""
    _user(db, username).disabled = disabled
    return revoke_all(db, username, now) if disabled else 0
