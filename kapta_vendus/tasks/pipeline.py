"""The per-event chain: three thin tasks over ``pipeline.runner.run_stage``.

``prepare`` (pipeline queue) → ``bill`` (billing queue, the only one that calls Vendus) → ``sync``.
What a failure becomes is decided here: an outage or an invoice not issued yet is waited out
(``pipeline.waiting``: no attempt counted, resumed by itself), another transient error is retried
with backoff and then waited out too, and an error that retrying cannot fix ends the event dead.
"""

from __future__ import annotations

from kapta_vendus.config import get_settings
from kapta_vendus.integrations.breaker import breaker_for
from kapta_vendus.integrations.fairness import release_event
from kapta_vendus.pipeline import runner, steps, waiting
from kapta_vendus.tasks import dispatch
from kapta_vendus.tasks.app import app
from kapta_vendus.tasks.base import KaptaTask


def finished(integration_id: str, event_id: int) -> None:
    """After the commit that ended (or parked) an event: free its slot, wake the next in line."""
    release_event(get_settings(), integration_id, event_id, dispatch.enqueue_event)


def _recovered(integration_id: str) -> None:
    settings = get_settings()
    from kapta_vendus.db.session import database_for

    waiting.recovered(database_for(settings.database_url), settings, integration_id, dispatch.enqueue_resume)


class StageTask(KaptaTask):
    abstract = True
    stage = ""

    def run_stage(self, event_id: int) -> str:
        settings = get_settings()
        guard = None
        if self.stage == "bill":
            breaker = breaker_for(settings)
            guard = lambda integration_id: breaker.guard(integration_id, on_recovered=_recovered)  # noqa: E731
        outcome = runner.run_stage(self.database, settings, self.stage, steps.STEPS, event_id,
                                   attempt=self.request.retries + 1, guard=guard, on_finished=finished)
        if outcome.stop:
            self.request.chain = None  # the event is finished: the rest of the chain must not run
        return outcome.summary

    def waits(self, exc: BaseException) -> bool:
        return waiting.waits(exc)

    def on_wait(self, exc, args, kwargs) -> str:
        settings = get_settings()
        open_now = breaker_for(settings).open_for(self._integration_of(args[0])) > 0
        self.request.chain = None  # resumed later from this stage by resume_waiting
        return waiting.park(self.database, settings, args[0], exc, breaker_open=open_now, on_finished=finished)

    def _integration_of(self, event_id: int) -> str:
        from kapta_vendus.db.models import Event

        with self.unit_of_work() as session:
            event = session.get(Event, event_id)
            return event.integration_id if event is not None else ""

    def on_will_retry(self, exc, args, kwargs, delay) -> None:
        runner.mark_retrying(self.database, args[0], delay, exc)  # keeps its slot: see fairness

    def on_exhausted(self, exc, args, kwargs) -> None:
        # Retried enough in place: wait it out with the parked events (the horizon still applies).
        self.on_wait(exc, args, kwargs)

    def on_not_retryable(self, exc, args, kwargs) -> None:
        runner.mark_dead(self.database, args[0], exc, on_finished=finished)


@app.task(bind=True, base=StageTask, stage="prepare", name="kapta.pipeline.prepare")
def prepare(self, event_id: int) -> str:
    return self.run_stage(event_id)


@app.task(bind=True, base=StageTask, stage="bill", name="kapta.billing.bill")
def bill(self, event_id: int) -> str:
    return self.run_stage(event_id)


@app.task(bind=True, base=StageTask, stage="sync", name="kapta.pipeline.sync")
def sync(self, event_id: int) -> str:
    return self.run_stage(event_id)
