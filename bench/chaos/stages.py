"""Where an event's time went, stage by stage, from its step runs (for the fairness report).

Each stage's task writes its step runs with their start and duration, so the gaps between them are
the time each task spent queued (waiting for a worker process) and the runs are the time spent
working. All ends come from the same clocks the latencies use; the figures are medians and 95th
percentiles over a set of events.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from itertools import pairwise

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from kapta_vendus.db.models import Event, StepRun

PARTS = ("to prepare", "prepare", "to bill", "bill", "to sync", "sync")


@dataclass(frozen=True)
class Split:
    """Seconds per part of one event's path (``PARTS``)."""

    seconds: tuple[float, ...]


def splits(engine: Engine, integration_id: str, external_ids: set[str]) -> list[Split]:
    with Session(engine) as session:
        events = {row.id: row for row in session.execute(
            select(Event.id, Event.external_id, Event.received_at, Event.finished_at).where(
                Event.integration_id == integration_id, Event.status == "done"))
            if row.external_id in external_ids}
        runs: dict[int, dict[str, tuple]] = {}
        for run in session.execute(select(StepRun.event_id, StepRun.step, StepRun.started_at, StepRun.duration_ms)
                                   .where(StepRun.event_id.in_(events), StepRun.status == "ok")):
            runs.setdefault(run.event_id, {})[run.step] = (run.started_at, timedelta(milliseconds=run.duration_ms))
    out = []
    for event_id, event in events.items():
        steps = runs.get(event_id, {})
        if not all(name in steps for name in ("validate", "rules", "actions", "sync")) or event.finished_at is None:
            continue
        prepare_start, prepare_end = steps["validate"][0], steps["rules"][0] + steps["rules"][1]
        bill_start, bill_end = steps["actions"][0], steps["actions"][0] + steps["actions"][1]
        sync_start = steps["sync"][0]
        marks = (event.received_at, prepare_start, prepare_end, bill_start, bill_end, sync_start, event.finished_at)
        out.append(Split(tuple(max(0.0, (b - a).total_seconds()) for a, b in pairwise(marks))))
    return out


def nearest_rank(values: list[float], q: float) -> float:
    """The value at fraction ``q`` of the sorted values (rounded down); 0 for none."""
    values = sorted(values)
    return values[int(q * (len(values) - 1))] if values else 0.0


def table(alone: list[Split], flooded: list[Split]) -> list[str]:
    """A markdown table: per part, the p50 and p95 in ms alone and during the flood."""
    lines = ["| part (ms) | p50 alone | p50 flood | p95 alone | p95 flood |", "|---|---|---|---|---|"]
    for index, part in enumerate(PARTS):
        a = [s.seconds[index] * 1000 for s in alone]
        f = [s.seconds[index] * 1000 for s in flooded]
        cells = (nearest_rank(a, .5), nearest_rank(f, .5), nearest_rank(a, .95), nearest_rank(f, .95))
        lines.append(f"| {part} | " + " | ".join(f"{ms:.1f}" for ms in cells) + " |")
    return lines


__all__ = ["PARTS", "Split", "nearest_rank", "splits", "table"]
