"""The per-event chain: thin tasks over ``pipeline.runner.run_step`` and the step functions."""

from __future__ import annotations

from kapta_vendus.config import get_settings
from kapta_vendus.integrations.breaker import breaker_for
from kapta_vendus.integrations.fairness import admit_step, release_event
from kapta_vendus.pipeline import runner, steps
from kapta_vendus.tasks import dispatch
from kapta_vendus.tasks.app import app
from kapta_vendus.tasks.base import KaptaTask


class PipelineStep(KaptaTask):
    """A step of the event chain: accounts for the event when it retries, dies or is rejected.

    Each step is first admitted by its integration's fair-scheduling gate (integrations/fairness):
    a parked event stops its chain here and is enqueued again from this step when a slot frees.
    """

    abstract = True

    calls_vendus = False  # the billing step is guarded by the integration's circuit breaker

    def step(self, name: str, event_id: int) -> str:
        settings = get_settings()
        if not admit_step(self.database, settings, event_id, self.name, dispatch.enqueue_event):
            self.request.chain = None  # parked: resumed from this step when a slot frees
            return "waiting for a free slot of its integration"
        guard = breaker_for(settings).guard if self.calls_vendus else None
        outcome = runner.run_step(self.database, settings, name, steps.STEPS[name], event_id,
                                  attempt=self.request.retries + 1, guard=guard)
        if outcome.stop:
            self.request.chain = None  # the event is finished: the rest of the chain must not run
            release_event(self.database, settings, event_id, dispatch.enqueue_event)
        return outcome.summary

    def on_will_retry(self, exc, args, kwargs, delay) -> None:
        runner.mark_retrying(self.database, args[0], delay, exc)  # keeps its slot: see fairness

    def on_exhausted(self, exc, args, kwargs) -> None:
        runner.mark_dead(self.database, args[0], exc)
        release_event(self.database, get_settings(), args[0], dispatch.enqueue_event)

    def on_not_retryable(self, exc, args, kwargs) -> None:
        runner.mark_dead(self.database, args[0], exc)
        release_event(self.database, get_settings(), args[0], dispatch.enqueue_event)


@app.task(bind=True, base=PipelineStep, name="kapta.pipeline.validate")
def validate(self, event_id: int) -> str:
    return self.step("validate", event_id)


@app.task(bind=True, base=PipelineStep, name="kapta.pipeline.normalise")
def normalise(self, event_id: int) -> str:
    return self.step("normalise", event_id)


@app.task(bind=True, base=PipelineStep, name="kapta.pipeline.map")
def map_event(self, event_id: int) -> str:
    return self.step("map", event_id)


@app.task(bind=True, base=PipelineStep, name="kapta.pipeline.rules")
def rules(self, event_id: int) -> str:
    return self.step("rules", event_id)


class BillingStep(PipelineStep):
    abstract = True
    calls_vendus = True


@app.task(bind=True, base=BillingStep, name="kapta.billing.actions")
def actions(self, event_id: int) -> str:
    return self.step("actions", event_id)


@app.task(bind=True, base=PipelineStep, name="kapta.pipeline.sync")
def sync(self, event_id: int) -> str:
    return self.step("sync", event_id)
