"""``kapta-vendus import customers|products FILE``: rows become ``*.upserted`` events, on the same path.

Each row is checked against the contract first; a bad row is reported with its line number and
skipped, never stopping the run. A good row is stored in the inbox (source ``import``) and run
through the pipeline at once, so it is recorded, replayable and visible like a pushed event. The
dedup key is the record and its version (``occurred_at``, or the file's modification time when a
row has none), so running the same file again resumes: finished rows are skipped, the rest run.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kapta_vendus.config import Settings
from kapta_vendus.db.models import Event
from kapta_vendus.db.session import Database
from kapta_vendus.events.errors import EventInvalid
from kapta_vendus.events.validation import validate_event
from kapta_vendus.pipeline.inbox import store_event

KINDS = {"customers": ("customer.upserted", "customer_id"), "products": ("product.upserted", "reference")}
FINISHED = ("done", "rejected", "dead")


@dataclass
class ImportReport:
    kind: str
    total: int = 0
    applied: int = 0
    skipped: int = 0  # finished by an earlier run (resume)
    failed: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "total": self.total, "applied": self.applied, "skipped": self.skipped,
                "failed": [{"line": line, "reason": reason} for line, reason in self.failed]}


class ImportFileError(ValueError):
    """The file itself cannot be read (not a row's problem)."""


def read_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, row): CSV with a header line, or JSON (a list of objects, or one object per line)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ImportFileError(f"{path}: cannot be read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ImportFileError(f"{path}: not UTF-8 text") from None
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(text.splitlines())
        for row in reader:
            yield reader.line_num, {k.strip(): v for k, v in row.items() if k and v not in (None, "")}
        return
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            items = json.loads(text)
        except ValueError as exc:
            raise ImportFileError(f"{path}: not valid JSON ({exc})") from None
        # Line numbers of a JSON array: the position of each object in the list (1-based).
        yield from ((index, item) for index, item in enumerate(items, start=1))
        return
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                yield number, json.loads(line)
            except ValueError:
                yield number, {"__invalid__": "not a JSON object"}


def _envelope(kind: str, row: Any, line: int, store_id: int, version: str, source_name: str) -> dict[str, Any]:
    event_type, _ = KINDS[kind]
    data = dict(row) if isinstance(row, dict) else {"__invalid__": row}
    occurred = str(data.pop("occurred_at", "") or version)
    if event_type == "product.upserted" and isinstance(data.get("unit"), str) and data["unit"].isdigit():
        data["unit"] = int(data["unit"])
    return {"id": f"import:{source_name}:{line}", "type": event_type, "occurred_at": occurred,
            "store_id": store_id, "data": data}


def import_file(db: Database, settings: Settings, integration_id: str, store_id: int, kind: str, path: Path,
                run_event: Callable[[int], str], progress: Callable[[int], None] | None = None) -> ImportReport:
    """Import every row; ``run_event(event_id)`` runs one stored event through the pipeline."""
    report = ImportReport(kind)
    version = datetime.fromtimestamp(os.stat(path).st_mtime, UTC).replace(microsecond=0).isoformat()
    for line, row in read_rows(path):
        report.total += 1
        envelope = _envelope(kind, row, line, store_id, version, path.name)
        try:
            if isinstance(row, dict) and "__invalid__" in row:
                raise EventInvalid([row["__invalid__"]])
            validate_event(envelope)
        except EventInvalid as exc:
            report.failed.append((line, "; ".join(exc.reasons)))
            _tick(progress)
            continue
        with db.unit_of_work() as session:
            stored = store_event(session, integration_id, source="import", envelope=envelope)
            status = session.get(Event, stored.event_id).status
        if status in FINISHED:
            report.skipped += 1
        else:
            outcome = run_event(stored.event_id)
            with db.unit_of_work() as session:
                event = session.get(Event, stored.event_id)
                if event.status == "done":
                    report.applied += 1
                else:
                    report.failed.append((line, f"{event.status}: {event.last_error or outcome}"))
        _tick(progress)
    return report


def _tick(progress: Callable[[int], None] | None) -> None:
    if progress is not None:
        progress(1)
