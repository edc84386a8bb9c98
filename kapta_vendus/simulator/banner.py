"""What ``kapta-vendus simulator`` prints at start: where it listens, and each account's key, stores
and registers, so that an example such as ``integrations create --store <id>`` can be followed
without a first round of API calls (the ids are assigned at start-up)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from .accounts import Account


def print_banner(console: Console, url: str, accounts: list[Account]) -> None:
    console.print(f"Vendus simulator listening on {url}", highlight=False, soft_wrap=True)
    for account in accounts:
        console.print(
            f"\nAccount {account.id} ({account.info.get('company') or '-'}): API key [bold]{account.key}[/bold]",
            highlight=False,
        )
        stores = Table("store id", "title", "postal code", title=None, box=None, pad_edge=False)
        for store in account.stores.values():
            stores.add_row(str(store["id"]), store["title"], store.get("postalcode") or "-")
        console.print(stores)
        registers = Table("register id", "store id", "title", "mode", box=None, pad_edge=False)
        for register in account.registers.values():
            registers.add_row(str(register["id"]), str(register["store_id"]), register["title"], register["mode"])
        console.print(registers)
