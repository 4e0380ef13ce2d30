"""TDX's rate windows, counted once for every worker process (issue 8, point 9).

TDX limits each method per calling address in a fixed window that begins at the window's
first call. Worker processes that each kept their own count could together spend a window's
last calls twice; here every call takes its place in one row per method with a conditional
UPDATE, so a call is granted only while the shared count has room, however many processes
ask at once (SQLite serializes writers; PostgreSQL re-checks the WHERE of a concurrent
UPDATE). TDX's answers then correct the row: its count and its window's end win.

Times are epoch seconds. A window's last `guard` seconds grant nothing: a call granted then
could reach TDX after TDX's window ended, open TDX's next window early and be counted twice.
"""

from __future__ import annotations

from sqlalchemy import case, or_, update
from sqlalchemy.orm import Session

from store.tables import TdxRateWindow as W


def take(db: Session, method: str, now: float, window: float, guard: float) -> float | None:
    """Count one call of `method` now: None when granted, else when its window ends.

    A new window is opened by its first grant. TDX starts it when that call arrives, a
    moment later, so until TDX's first answer says when it ends (`observe`) it is taken to
    end a quarter window late: answers only ever bring a window's end forward.
    """
    provisional_end = now + window * 1.25
    granted = db.execute(
        update(W)
        .where(W.method == method, W.ends_at > now + guard)
        .where(or_(W.limit.is_(None), W.used < W.limit))
        .values(used=W.used + 1)
    )
    if granted.rowcount:
        return None
    opened = db.execute(
        update(W)
        .where(W.method == method, W.ends_at <= now)
        .values(used=1, ends_at=provisional_end)
    )
    if opened.rowcount:
        return None
    row = db.get(W, method)
    if row is None:
        db.add(W(method=method, limit=None, used=1, ends_at=provisional_end))
        db.flush()  # a concurrent first call makes this an IntegrityError: the caller retries
        return None
    return row.ends_at


def observe(
    db: Session, method: str, limit: int, remaining: int, ends_at: float, window: float
) -> None:
    """Fold one TDX answer (its window's count and end) into the shared row.

    The method's first answer gives the limit and the window's end. An answer from the row's
    window raises the count to TDX's and brings the end forward to TDX's; one from a later
    window (a call that reached TDX after its window ended) replaces the row. Ends within
    half a window of each other are one window: TDX's header has whole seconds, and windows
    are assumed longer than two.
    """
    used = limit - remaining
    first = db.execute(
        update(W)
        .where(W.method == method, W.limit.is_(None))
        .values(limit=limit, used=case((W.used < used, used), else_=W.used), ends_at=ends_at)
    )
    if first.rowcount:
        return
    db.execute(
        update(W)
        .where(W.method == method, W.ends_at > ends_at - window / 2)
        .where(W.ends_at < ends_at + window / 2)
        .values(
            limit=limit,
            used=case((W.used < used, used), else_=W.used),
            ends_at=case((W.ends_at > ends_at, ends_at), else_=W.ends_at),
        )
    )
    db.execute(
        update(W)
        .where(W.method == method, W.ends_at <= ends_at - window / 2)
        .values(limit=limit, used=used, ends_at=ends_at)
    )
