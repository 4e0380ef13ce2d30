"""Closed dates for a :class:`~domain.business_calendar.BusinessCalendar`, from ``holidays``.

Why this is a separate module: the ``holidays`` package's rules change between releases, and
workflow code must replay identically. So only activities and the reference-data loader (outside
Temporal's sandbox) call this; the resulting plain dates are frozen into the calendar that is
handed to a workflow. Never import this module from ``workflows/`` or ``domain.business_calendar``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from functools import lru_cache

import holidays


def closed_dates_for(
    country: str | None,
    subdivision: str | None,
    years: range,
    extra: Iterable[date],
) -> frozenset[date]:
    """Every non-working date: the country's public holidays in ``years`` plus ``extra``.

    ``country`` is an ISO 3166-1 code understood by ``holidays`` (e.g. ``"US"``); ``None`` means
    no country holidays, so only ``extra`` (university closure and season days from the YAML
    ``closed_days``) is returned. Observed days are included (Independence Day on a Saturday
    closes Friday 2026-07-03), because that is when the university is actually shut. An unknown
    country or subdivision raises :class:`ValueError` so a bad calendar file is refused at load.
    """
    closed = set(extra)
    if country is None:
        if subdivision is not None:
            raise ValueError(f"subdivision {subdivision!r} given without a country")
        return frozenset(closed)
    return frozenset(closed | _country_days(country, subdivision, tuple(years)))


@lru_cache(maxsize=64)
def _country_days(country: str, subdivision: str | None, years: tuple[int, ...]) -> frozenset[date]:
    """Remembered: every ticket start reads its calendar, and `holidays` computes each
    year's dates afresh (most of a ticket's setup CPU in the worker before this cache)."""
    try:
        country_days = holidays.country_holidays(country, subdiv=subdivision, years=list(years))
    except NotImplementedError as exc:
        raise ValueError(
            f"unknown holiday country/subdivision {country!r}/{subdivision!r}: {exc}"
        ) from exc
    return frozenset(country_days.keys())
