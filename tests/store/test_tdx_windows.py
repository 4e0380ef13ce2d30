"""The window count workers share (SQLite and PostgreSQL): room, waits, calls landing late."""

from __future__ import annotations

from store import tdx_windows
from store.db import session_factory
from store.tables import TdxRateWindow

M = "POST {}/tickets"


def test_a_call_unanswered_at_a_windows_end_is_counted_in_the_next(engine):
    sessions = session_factory(engine)

    def take(now: float) -> int | float:
        with sessions.begin() as db:
            return tdx_windows.take(db, M, now, window=6.0, guard=0.5)

    def answer(window_no: int, remaining: int, ends_at: float) -> None:
        with sessions.begin() as db:
            tdx_windows.answered(db, M, window_no)
            tdx_windows.observe(db, M, 3, remaining, ends_at, window=6.0)

    def row() -> TdxRateWindow:
        with sessions() as db:
            return db.get(TdxRateWindow, M)

    assert take(100.0) == 1
    answer(1, 2, 106.0)  # TDX: 3 a window, this one ends at 106
    assert take(101.0) == 1 and take(102.0) == 1  # the third call is not answered yet
    assert take(103.0) == 106.0  # full: ask again at the end
    answer(1, 1, 106.0)  # TDX's count lags ours: ours stays
    assert (row().used, row().pending) == (3, 1)
    assert take(106.1) == 2  # the next window, with the unanswered call counted in it
    assert (row().used, row().pending) == (2, 1)
    assert take(106.2) == 2
    assert take(106.3) == 106.1 + 7.5  # full until TDX says when it ends
    answer(2, 1, 112.1)
    assert row().ends_at == 112.1
    assert take(111.9) == 112.1  # no call starts in the window's last half second


def test_an_answer_from_tdx_next_window_starts_ours(engine):
    sessions = session_factory(engine)
    with sessions.begin() as db:
        assert tdx_windows.take(db, M, 100.0, 6.0, 0.5) == 1
        tdx_windows.answered(db, M, 1)
        tdx_windows.observe(db, M, 3, 2, 106.0, 6.0)
        assert tdx_windows.take(db, M, 105.0, 6.0, 0.5) == 1
        assert tdx_windows.take(db, M, 105.4, 6.0, 0.5) == 1
        # The second call reached TDX after its window ended and opened TDX's next one.
        tdx_windows.answered(db, M, 1)
        tdx_windows.observe(db, M, 3, 2, 111.9, 6.0)
        row = db.get(TdxRateWindow, M)
        assert (row.window_no, row.used, row.pending, row.ends_at) == (2, 2, 0, 111.9)
