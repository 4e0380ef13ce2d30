"""The system-wide gauges of `domain.metrics`, read from the app database at scrape time.

Counting tickets in the database rather than in workers means N workers (or N web app
replicas behind a load balancer: take the max) report one true number, and a restart loses
nothing. A process that adds its own table adds its gauge here.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select

from domain import metrics
from store.tables import Ticket


class AppDatabaseCollector(Collector):
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Metric]:
        tickets = GaugeMetricFamily(
            metrics.TICKETS.name, metrics.TICKETS.help, labels=list(metrics.TICKETS.labels)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(select(Ticket.status, func.count()).group_by(Ticket.status))
            for status, count in rows:
                tickets.add_metric(["refresh", status], count)
        yield tickets
