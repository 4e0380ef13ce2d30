"""The metric meter of the running activity, or None outside one (a script, a unit test).

Activities count through the SDK's meter so their series come out of the worker's Prometheus
endpoint beside the SDK's own, labelled with the activity type and task queue.
"""

from __future__ import annotations

from temporalio import activity
from temporalio.common import MetricMeter


def current() -> MetricMeter | None:
    return activity.metric_meter() if activity.in_activity() else None
