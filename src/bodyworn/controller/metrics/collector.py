"""The Prometheus side of metrics: a registry per controller, numbers from the database at
each scrape (service.snapshot) and counters of events heard since the start."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bodyworn.controller.context import ControllerContext
from bodyworn.controller.events import (
    CameraDocked,
    CameraUndocked,
    CdRequestFailed,
    Event,
)
from bodyworn.controller.metrics import service
from bodyworn.controller.notifications import service as notifications


class DatabaseCollector(Collector):
    """Reads one snapshot per scrape (the scrape runs in a worker thread)."""

    def __init__(self, ctx: ControllerContext) -> None:
        self.ctx = ctx

    def describe(self) -> Iterable[Metric]:
        """Nothing up front: the registry must not scrape the database to learn the names."""
        return []

    def collect(self) -> Iterable[Metric]:
        """The database's numbers now."""
        with self.ctx.factory() as session:
            snap = service.snapshot(session, self.ctx.clock.now())
            mail_waiting = notifications.queue_status(session).waiting
            problems = {p.key for p in notifications.active_problems(session)}
        yield CounterMetricFamily("bodyworn_clips_ingested",
                                  "Clips received from cameras and made durable in the spool.",
                                  value=snap.ingested_clips)
        yield CounterMetricFamily("bodyworn_ingested_bytes",
                                  "Bytes of the clips received from cameras.",
                                  value=snap.ingested_bytes)
        clips = CounterMetricFamily("bodyworn_clips_delivered",
                                    "Clips the content destination holds, by where it put them "
                                    "(at_cd: the recording; rejected: rejected content).",
                                    labels=["outcome"])
        size = CounterMetricFamily("bodyworn_delivered_bytes",
                                   "Bytes of the clips the content destination holds.",
                                   labels=["outcome"])
        for outcome in service.OUTCOMES:
            clips.add_metric([outcome], snap.delivered_clips[outcome])
            size.add_metric([outcome], snap.delivered_bytes[outcome])
        yield clips
        yield size
        yield GaugeMetricFamily("bodyworn_offload_queue_recordings",
                                "Recordings waiting for delivery to the content destination.",
                                value=snap.queue_recordings)
        yield GaugeMetricFamily("bodyworn_offload_queue_clips",
                                "Clips in the spool not yet at the content destination.",
                                value=snap.queue_clips)
        yield GaugeMetricFamily("bodyworn_offload_queue_bytes",
                                "Bytes in the spool not yet at the content destination.",
                                value=snap.queue_bytes)
        yield GaugeMetricFamily("bodyworn_oldest_pending_evidence_age_seconds",
                                "How long the oldest clip in the spool has waited for the "
                                "content destination (0 when none waits).",
                                value=snap.oldest_pending_s)
        yield GaugeMetricFamily("bodyworn_cd_outbox_pending",
                                "User and device objects waiting to be written to the content "
                                "destination.", value=snap.outbox_pending)
        yield CounterMetricFamily("bodyworn_logins_failed",
                                  "Failed manager logins (wrong password, unknown name, locked).",
                                  value=snap.logins_failed)
        yield GaugeMetricFamily("bodyworn_mail_queue_waiting",
                                "Notification mails waiting to be sent.", value=mail_waiting)
        active = GaugeMetricFamily("bodyworn_problem_active",
                                   "Critical conditions notifications report (1: going on).",
                                   labels=["problem"])
        for key in sorted(problems):
            active.add_metric([key], 1)
        yield active


class Metrics:
    """The registry of one controller and the event counters that feed it."""

    def __init__(self, ctx: ControllerContext) -> None:
        self.ctx = ctx
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(DatabaseCollector(ctx))
        self.cd_errors = Counter(
            "bodyworn_cd_errors", "Failed requests to the content destination since the start, "
            "by HTTP status (none: no answer).", ["status"], registry=self.registry)
        self.dock_events = Counter(
            "bodyworn_dock_events", "Cameras docked and undocked since the start.", ["event"],
            registry=self.registry)
        self._unsubscribe: list[Callable[[], None]] = []

    def subscribe(self) -> None:
        """Count the events metrics keep in memory."""
        if self._unsubscribe:
            return
        bus = self.ctx.events
        self._unsubscribe += [bus.subscribe(CdRequestFailed, self.on_event),
                              bus.subscribe(CameraDocked, self.on_event),
                              bus.subscribe(CameraUndocked, self.on_event)]

    def unsubscribe(self) -> None:
        """Stop counting."""
        for undo in self._unsubscribe:
            undo()
        self._unsubscribe.clear()

    def on_event(self, event: Event) -> None:
        """One more of its kind."""
        if isinstance(event, CdRequestFailed):
            self.cd_errors.labels(str(event.status) if event.status else "none").inc()
        elif isinstance(event, CameraDocked):
            self.dock_events.labels("docked").inc()
        elif isinstance(event, CameraUndocked):
            self.dock_events.labels("undocked").inc()

    def exposition(self) -> bytes:
        """The text format a Prometheus server scrapes (reads the database: a worker thread)."""
        return generate_latest(self.registry)
