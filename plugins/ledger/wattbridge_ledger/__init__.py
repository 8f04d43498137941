"""The built-in ``ledger`` billing sink: every usage event, recorded in the live database.

The ledger is the platform's own record of what was billed: one row per usage
event in the ``billing_ledger`` table of the environment's database, written
once (recording the same event again changes nothing). It is the default sink
of the live environment, so usage is kept even where no payment provider is
configured; a metered-billing sink such as ``stripe`` can run next to it.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlite_utils

from wattbridge import hookimpl
from wattbridge.drivers.billing import BillingSink
from wattbridge_ledger.sink import LedgerSink, ledger_entries, migrations

__all__ = ["LedgerSink", "ledger_entries", "prepare_storage", "register_billing_sinks"]


@hookimpl
def register_billing_sinks(register: Callable[[BillingSink], None]) -> None:
    """Register the ``ledger`` sink (live only: the sandbox bills nothing)."""
    register(LedgerSink())


@hookimpl
def prepare_storage(db: sqlite_utils.Database, environment: str) -> None:
    """Create the ledger table in the live database.

    The only place the table is created: the core calls this for every environment
    it opens (server, ``wattbridge worker`` and embedders alike) before it binds any
    billing sink, so :meth:`LedgerSink.bind` can rely on the table being there.
    """
    if environment == "live":
        migrations.apply(db)
