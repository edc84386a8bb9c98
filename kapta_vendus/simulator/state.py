"""SimulatorState: every account, the clock, faults, rate limits, stats and (optional) persistence.

One re-entrant lock guards all data: a request runs start to finish under it, which keeps numbering
gapless and tx_id replay atomic even on a threaded server. Public methods take the API key and
return API-shaped dicts (or raise ApiError), so tests can drive the simulator without HTTP.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from . import bulk, documents, queries, render, status_changes
from .accounts import Account
from .assumptions import SimulatorAssumptions
from .catalog import client_record, product_record
from .clock import SimClock
from .errors import ApiError, no_data
from .faults import FaultInjector
from .fixtures import build_account, default_account_spec, read_fixture
from .paging import Page
from .persistence import SqliteStore
from .ratelimit import RateLimitConfig, RateLimiter
from .stats import RequestStats

# First ids per kind: ids are unique across accounts, like on a shared SaaS.
ID_STARTS = {
    "account": 1001,
    "user": 501,
    "store": 2001,
    "register": 3001,
    "payment_method": 24934,
    "product": 5001,
    "client": 7001,
    "document": 100001,
}
_KIND_ADDERS = {
    "store": "add_store",
    "register": "add_register",
    "payment_method": "add_payment_method",
    "product": "add_product",
    "client": "add_client",
}


class SimulatorState:
    def __init__(
        self,
        *,
        fixture: str | Path | dict | None = None,
        api_keys: tuple[str, ...] | list[str] = (),
        assumptions: SimulatorAssumptions | dict | None = None,
        clock: SimClock | None = None,
        faults: dict | None = None,
        seed: int | None = None,
        rate_limit: RateLimitConfig | str | dict | None = None,
        db_path: str | Path | None = None,
    ):
        self.lock = threading.RLock()
        if isinstance(assumptions, dict):
            assumptions = SimulatorAssumptions().update(assumptions)
        self.assumptions = assumptions or SimulatorAssumptions()
        self.clock = clock or SimClock()
        self.faults = FaultInjector(faults, seed=seed)
        if isinstance(rate_limit, str):
            rate_limit = RateLimitConfig.parse(rate_limit)
        elif isinstance(rate_limit, dict):
            rate_limit = RateLimitConfig.from_dict(rate_limit)
        self.rate_limiter = RateLimiter(rate_limit, time_source=self.clock.timestamp)
        self.stats = RequestStats()
        self.accounts: dict[str, Account] = {}
        self._next_ids = dict(ID_STARTS)
        self._dirty: dict[tuple[str, str, int], dict] = {}
        self._store = SqliteStore(str(db_path)) if db_path else None
        if self._store is not None:
            self._load()
        if fixture is not None:
            self.load_fixture(fixture)
        for key in api_keys:
            if key not in self.accounts:
                self.seed_default_account(key)

    # -- services used by the rule modules (called with the lock held) ------------------------
    def claim_id(self, kind: str, wanted: int | None = None) -> int:
        if wanted is None:
            wanted = self._next_ids[kind]
        self._next_ids[kind] = max(self._next_ids[kind], int(wanted) + 1)
        return int(wanted)

    def next_id(self, kind: str) -> int:
        return self.claim_id(kind)

    def touch(self, account: Account, kind: str, record: dict) -> None:
        """Mark a record changed; it is written to SQLite when the current transaction ends."""
        if self._store is not None:
            self._dirty[(kind, account.key, record["id"])] = record

    def new_product(self, account: Account, spec: dict) -> dict:
        product = account.add_product(product_record(self.next_id("product"), spec))
        self.touch(account, "product", product)
        return product

    def new_client(self, account: Account, data: dict, today: str) -> dict:
        client = account.add_client(client_record(self.next_id("client"), data, today))
        self.touch(account, "client", client)
        return client

    # -- accounts ------------------------------------------------------------------------------
    def authenticate(self, key: str | None) -> Account | None:
        return self.accounts.get(key) if key else None

    def account(self, key: str) -> Account:
        account = self.authenticate(key)
        if account is None:
            a = self.assumptions
            raise ApiError(401, a.unauthorized_code, a.unauthorized_message)
        return account

    @contextmanager
    def transaction(self, key: str | None = None) -> Iterator[Account | None]:
        """Hold the lock for one request and persist what it changed, even if it failed midway."""
        with self.lock:
            try:
                yield self.account(key) if key is not None else None
            finally:
                self._flush()

    def load_fixture(self, source: str | Path | dict) -> list[Account]:
        """Add the fixture's accounts (accounts already known, e.g. loaded from --db, are kept)."""
        added = []
        with self.transaction():
            for spec in read_fixture(source)["accounts"]:
                if spec.get("api_key") in self.accounts:
                    continue
                added.append(self._register(build_account(self, spec, self._today())))
        return added

    def seed_default_account(self, key: str) -> Account:
        """A ready account for ``key``: mainland store, NORMAL register, cash/card/MB WAY/transfer,
        a few products (the default fixture's first account with fresh ids)."""
        with self.transaction():
            return self._register(build_account(self, default_account_spec(key), self._today()))

    def add_account(self, spec: dict) -> Account:
        with self.transaction():
            return self._register(build_account(self, spec, self._today()))

    def _register(self, account: Account) -> Account:
        if account.key in self.accounts:
            raise ValueError("an account with this API key already exists")
        self.accounts[account.key] = account
        self.touch(account, "account", {**account.info, "api_key": account.key})
        for kind, attribute in (
            ("store", "stores"),
            ("register", "registers"),
            ("payment_method", "payment_methods"),
            ("product", "products"),
            ("client", "clients"),
        ):
            for record in getattr(account, attribute).values():
                self.touch(account, kind, record)
        return account

    def _today(self) -> str:
        return self.clock.now().strftime("%Y-%m-%d")

    def today(self, key: str) -> str:
        return self.account(key).today(self.clock.now())

    # -- documents -------------------------------------------------------------------------------
    def create_document(self, key: str, body: object) -> dict:
        """POST documents/: the 201 short shape (the same document again for a repeated tx_id)."""
        with self.transaction(key) as account:
            doc, _replayed = documents.create_document(self, account, body)
            output = body.get("output") if isinstance(body, dict) else None
            return render.short(account, doc, self.assumptions, output)

    def get_document(self, key: str, doc_id: int, mode: str = "normal", output: str | None = None) -> dict:
        with self.transaction(key) as account:
            doc = account.document_in_mode(doc_id, mode or "normal")
            if doc is None:
                raise no_data(self.assumptions.missing_id_message)
            return render.detail(account, doc, self.assumptions, account.today(self.clock.now()), output)

    def list_documents(self, key: str, params: Mapping | None = None) -> Page:
        with self.transaction(key) as account:
            today = account.today(self.clock.now())
            return queries.list_documents(account, params or {}, self.assumptions, today)

    def patch_document(self, key: str, doc_id: int, body: object, mode: str = "normal") -> dict:
        with self.transaction(key) as account:
            return status_changes.patch_document(self, account, doc_id, body, mode or "normal")

    def bulk_create_documents(self, key: str, n: int, **options) -> list[int]:
        """Insert ``n`` documents fast (no HTTP, shared lines); see bulk.bulk_create for options."""
        with self.transaction(key) as account:
            return bulk.bulk_create(self, account, n, **options)

    # -- control -----------------------------------------------------------------------------------
    def reset(self) -> None:
        """Clear request counts, faults and rate-limit windows (data stays)."""
        self.stats.reset()
        self.faults.clear()
        self.rate_limiter.reset()

    def close(self) -> None:
        with self.lock:
            self._flush()
            if self._store is not None:
                self._store.close()
                self._store = None

    # -- persistence -----------------------------------------------------------------------------
    def _flush(self) -> None:
        if self._store is not None and self._dirty:
            rows = [(kind, key, rid, record) for (kind, key, rid), record in self._dirty.items()]
            self._dirty.clear()
            self._store.save(rows)

    def _load(self) -> None:
        for kind, key, record in self._store.load():
            if kind == "account":
                info = {k: v for k, v in record.items() if k != "api_key"}
                self.accounts[key] = Account(key, info)
                self.claim_id("account", info["id"])
                self.claim_id("user", info.get("user_id") or ID_STARTS["user"])
                continue
            account = self.accounts[key]
            if kind == "document":
                account.add_document(record)
            else:
                getattr(account, _KIND_ADDERS[kind])(record)
            self.claim_id(kind, record["id"])
