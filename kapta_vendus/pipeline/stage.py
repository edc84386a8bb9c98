"""What a stage hands its steps (``StepContext``) and what steps and stages report back.

Split from ``pipeline.runner``, which runs the stages and re-exports these names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kapta_vendus.config import Settings
from kapta_vendus.db.models import StepRun
from kapta_vendus.db.session import Database


@dataclass
class StepResult:
    summary: str
    output: dict[str, Any] | None = None
    finish: str | None = None  # "done" to finish the event here and stop the chain


@dataclass(frozen=True)
class Recorded:
    """A step run to write when the stage commits (``bill`` writes one per action)."""

    step: str
    status: str
    summary: str
    output: dict[str, Any] | None = None
    error: str | None = None
    started_at: Any = None
    duration_ms: int = 0


@dataclass
class StepContext:
    db: Database
    settings: Settings
    event_id: int
    integration_id: str
    attempt: int
    cache: dict[str, Any] = field(default_factory=dict)
    session: Session | None = None  # the stage's own transaction, when the step runs inside it
    recorded: list[Recorded] = field(default_factory=list)

    def _read(self, query):
        """Rows of ``query`` in the stage's transaction, or in one of their own outside it."""
        if self.session is not None:
            return self.session.execute(query).all()
        with self.db.unit_of_work() as session:
            return session.execute(query).all()

    def step_output(self, step: str) -> dict[str, Any] | None:
        """The output of the latest successful run of an earlier step (read once per stage)."""
        outputs = self.cache.setdefault("outputs", {})
        if step not in outputs:
            rows = self._read(select(StepRun.output)
                              .where(StepRun.event_id == self.event_id, StepRun.step == step, StepRun.status == "ok")
                              .order_by(StepRun.id.desc()).limit(1))
            outputs[step] = rows[0][0] if rows else None
        return outputs[step]

    def prefetch_outputs(self, steps: tuple[str, ...]) -> None:
        """Every successful run's output of these steps, oldest first, with one query: ``step_output``
        (the latest) and ``step_outputs`` (all) then read no more."""
        self.note_outputs(steps, self._read(
            select(StepRun.step, StepRun.output)
            .where(StepRun.event_id == self.event_id, StepRun.step.in_(steps), StepRun.status == "ok")
            .order_by(StepRun.id)))

    def note_outputs(self, steps: tuple[str, ...], rows) -> None:
        """Cache the outputs of these steps from ``(step, output)`` rows read by the caller, oldest
        first (a step with no row had no successful run; a row whose step is None is skipped)."""
        runs: dict[str, list[Any]] = {step: [] for step in steps}
        for step, output in rows:
            if step is not None:
                runs[step].append(output)
        self.cache.setdefault("runs", {}).update(runs)
        self.cache.setdefault("outputs", {}).update({step: (r[-1] if r else None) for step, r in runs.items()})

    def step_outputs(self, step: str) -> list[Any]:
        """Every successful run's output of ``step``, oldest first (read once per stage)."""
        if step not in self.cache.get("runs", {}):
            self.prefetch_outputs((step,))
        return self.cache["runs"][step]


@dataclass(frozen=True)
class Outcome:
    stop: bool
    summary: str
    finished: str | None = None  # the event's final status when this stage ended it
