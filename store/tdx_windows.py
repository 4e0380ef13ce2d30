"""TDX's rate windows, counted once for every worker process (issue 8, point 9).

TDX limits each method per calling address in a fixed window that begins at the window's
first call. Worker processes that each kept their own count could together spend a window's
last calls twice; here every call takes its place in one row per method with a conditional
UPDATE, so a call is granted only while the shared count has room, however many processes
ask at once (SQLite serializes writers; PostgreSQL re-checks the WHERE of a concurrent
UPDATE). TDX's answers then correct the row: its count and its window's end win.

A call granted near a window's end may reach TDX after TDX's window ended and be counted in
the next one. So the row also counts its window's calls still unanswered (`pending`), and
a new window starts with them already counted; and no call starts in a window's last
`guard` seconds, which keeps that carry small. Times are epoch seconds.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, event, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from store.db import dialect_insert, make_engine, session_factory
from store.tables import TdxRateWindow as W


def window_sessions(url: str) -> sessionmaker[Session]:
    """Sessions for the counts: on SQLite, commits that do not wait for the disk.

    Every TDX call writes twice here, at TDX's pace from every worker; with the default
    `synchronous=FULL` each commit waits for an fsync while holding SQLite's one write lock,
    and on a busy disk the other writers (the activities' own) time out behind them. WAL
    with `synchronous=NORMAL` stays consistent; a power cut may forget the last counts,
    which the next answer from TDX corrects.
    """
    engine = make_engine(url)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _no_fsync_per_commit(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute("PRAGMA synchronous=NORMAL")

    return session_factory(engine)


def take(db: Session, method: str, now: float, window: float, guard: float) -> int | float:
    """Count one call of `method` now: the window's number (an int) when granted, else the
    moment its window ends (a float), when the caller may ask again.

    A new window is opened by its first grant. TDX starts it when that call arrives, a
    moment later, so until TDX's first answer says when it ends (`observe`) it is taken to
    end a quarter window late: answers only ever bring a window's end forward.

    Two conditional UPDATEs decide, atomically on both databases. When neither applies, the
    row is read to say until when; on PostgreSQL another process may have changed it between
    our UPDATEs and that read (created it, opened a window), so a row that now has room
    means "ask again", never "wait": a method's first calls from several workers at once
    must not be sent away for a whole window.
    """
    while True:
        granted = db.execute(
            update(W)
            .where(W.method == method, W.ends_at > now + guard)
            .where(or_(W.limit.is_(None), W.used < W.limit))
            .values(used=W.used + 1, pending=W.pending + 1)
            .returning(W.window_no)
        ).scalar()
        if granted is not None:
            return granted
        opened = db.execute(
            update(W)
            .where(W.method == method, W.ends_at <= now)
            .values(
                window_no=W.window_no + 1,
                used=W.pending + 1,
                pending=1,
                ends_at=now + window * 1.25,
            )
            .returning(W.window_no)
        ).scalar()
        if opened is not None:
            return opened
        row = db.execute(select(W.ends_at, W.used, W.limit).where(W.method == method)).first()
        if row is None:  # the method's first call: an ended window, which the loop opens
            db.execute(
                dialect_insert(db)(W)
                .values(method=method, limit=None, used=0, pending=0, window_no=0, ends_at=0.0)
                .on_conflict_do_nothing(index_elements=["method"])
            )
            continue
        ends_at, used, limit = row
        has_room = ends_at > now + guard and (limit is None or used < limit)
        if has_room or ends_at <= now:
            continue  # changed by another process since our UPDATEs
        return float(ends_at)


def answered(db: Session, method: str, window_no: int) -> None:
    """A call granted in window `window_no` was answered: TDX counted it where it landed."""
    db.execute(
        update(W)
        .where(W.method == method, W.window_no == window_no, W.pending > 0)
        .values(pending=W.pending - 1)
    )


def observe(
    db: Session, method: str, limit: int, remaining: int, ends_at: float, window: float
) -> None:
    """Fold one TDX answer (its window's count and end) into the shared row.

    The method's first answer gives the limit and the window's end. An answer from the row's
    window raises the count to TDX's and brings the end forward to TDX's; one from a later
    window (a call that reached TDX after its window ended) starts the row's next window,
    with the calls still unanswered counted in it. Ends within half a window of each other
    are one window: TDX's header has whole seconds, and windows are assumed longer than two.
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
        .values(
            limit=limit,
            window_no=W.window_no + 1,
            used=W.pending + used,
            pending=0,
            ends_at=ends_at,
        )
    )
