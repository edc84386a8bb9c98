"""Celery configuration: queues, routes, reliability switches and the beat schedule.

The static part (queues, routes, serializer, acknowledgement policy) is plain module data so that
the wiring meta-test can read it. The part that depends on settings (broker URL, limits, beat
intervals) comes from ``for_settings``, which tests call with explicit settings.
"""

from __future__ import annotations

from typing import Any

from kombu import Queue

from kapta_vendus.config import Settings, get_settings

# One queue per capability, so a slow Vendus account (billing) or a long import (reconcile)
# never sits in front of fresh events (ingest/pipeline); a slow destination or mail server only
# ever holds "outbound" workers.
CAPABILITY_QUEUES = ("ingest", "pipeline", "billing", "reconcile", "notify", "outbound")
# Fair scheduling's slow lane (kapta_vendus.integrations.fairness): the queues an event's chain runs
# on have a second queue, for events of integrations beyond their fair share. Every worker that
# consumes a queue consumes its slow lane too (``kapta-vendus worker`` adds it), except the express
# worker, which is kept for the fast lane only.
LANED_QUEUES = ("pipeline", "billing")
SLOW_LANE_SUFFIX = ".slow"
QUEUES = CAPABILITY_QUEUES + tuple(name + SLOW_LANE_SUFFIX for name in LANED_QUEUES)

task_queues = tuple(Queue(name, routing_key=name) for name in QUEUES)
task_default_queue = "pipeline"
task_create_missing_queues = False
task_routes = {f"kapta.{name}.*": {"queue": name} for name in CAPABILITY_QUEUES}

# JSON only: tasks carry ids, never pickled objects or payloads.
task_serializer = "json"
result_serializer = "json"
accept_content = ["json"]
task_ignore_result = True

# At-least-once: acknowledge after the task ran, and requeue when the worker process dies.
task_acks_late = True
task_reject_on_worker_lost = True
# Fairness: a worker process reserves one task at a time, so a flood cannot pile up behind it.
worker_prefetch_multiplier = 1
worker_max_tasks_per_child = 1000
broker_connection_retry_on_startup = True
# Task events cost a broker publish per task: on only where Flower watches (KAPTA_TASK_SENT_EVENTS).
worker_send_task_events = False
task_send_sent_event = False
worker_hijack_root_logger = False


def for_settings(settings: Settings) -> dict[str, Any]:
    # The embedded broker (kapta_vendus.tasks.embedded_broker) takes no transport options: kombu
    # would hand them to SQLAlchemy's create_engine. Its messages are never redelivered by timeout.
    transport_options: dict[str, Any] = (
        {} if settings.broker_url.startswith("sqla+") else {"visibility_timeout": settings.visibility_timeout})
    conf: dict[str, Any] = {
        "broker_url": settings.broker_url,
        "broker_transport_options": transport_options,
        "task_time_limit": settings.task_time_limit,
        "task_soft_time_limit": int(settings.task_time_limit * 0.8),
        "worker_send_task_events": settings.task_sent_events,
        "task_send_sent_event": settings.task_sent_events,
        "beat_schedule": {
            "sweep-inbox": {
                "task": "kapta.ingest.sweep_inbox",
                "schedule": float(settings.sweep_interval),
                "options": {"expires": float(settings.sweep_interval)},
            },
            # Events parked to wait out an outage (or their invoice) go back, oldest first.
            "resume-waiting": {
                "task": "kapta.ingest.resume_waiting",
                "schedule": float(settings.resume_interval),
                "options": {"expires": float(settings.resume_interval)},
            },
            # A fan-out: one kapta.reconcile.poll_store per (integration, store), each with expires.
            "poll-stores": {
                "task": "kapta.reconcile.schedule_polls",
                "schedule": float(settings.reconcile_interval),
                "options": {"expires": float(settings.reconcile_interval)},
            },
            # Deliveries to destinations and customer emails that are due (retries, lost enqueues).
            "outbound-sweep": {
                "task": "kapta.outbound.sweep",
                "schedule": float(settings.delivery_sweep_interval),
                "options": {"expires": float(settings.delivery_sweep_interval)},
            },
            # Drift and legal-deadline checks, per integration (3 poll intervals: 15 min by default).
            "reconcile-checks": {
                "task": "kapta.reconcile.schedule_checks",
                "schedule": float(settings.reconcile_interval * 3),
                "options": {"expires": float(settings.reconcile_interval * 3)},
            },
        },
    }
    if settings.uses_redis:
        # RedBeat keeps the schedule in Redis behind a lock: two beat processes never double-fire.
        conf["beat_scheduler"] = "redbeat.RedBeatScheduler"
        conf["redbeat_redis_url"] = settings.broker_url
        conf["redbeat_key_prefix"] = settings.beat_key_prefix
        conf["redbeat_lock_timeout"] = max(60, settings.sweep_interval * 5)
    else:
        conf["beat_scheduler"] = "celery.beat:PersistentScheduler"
        conf["beat_schedule_filename"] = f"{settings.data_dir}/celerybeat-schedule"
    return conf


globals().update(for_settings(get_settings()))
