"""The one way money moves: `ledger_post` writes a balanced journal entry, once per key.

On PostgreSQL the write is one call of the `billing_ledger_post` database function (migration
0002): the accounts are locked lowest id first, a reused key is answered, a wallet overdraft is
refused, and the entry, its postings and the cached balances are written, all in one round trip,
inside the caller's transaction if there is one. The database's triggers and constraints check
the invariants again at commit. Elsewhere (SQLite, the embedded default) the same steps run
through the ORM and this module's checks stand in for the triggers.
"""

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING, Any

from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection, connections, transaction
from django.db.backends.utils import CursorDebugWrapper, CursorWrapper
from django.db.models import F
from django.utils import timezone
from djmoney.money import Money

from billing.chart import system_account_fields
from billing.exceptions import IdempotencyConflict, InsufficientFunds, InvalidLines
from billing.models import JournalEntry, LedgerAccount, Payment, Posting
from billing.models.ledger import IDEMPOTENCY_KEY_MAX_LENGTH
from billing.money import UnsupportedCurrency, is_exact

if TYPE_CHECKING:
    from accounts.models import User
    from catalog.models import ImportBatch

POST_SQL = "SELECT * FROM billing_ledger_post(%s::jsonb, %s::bigint[], %s::numeric[], %s::text[])"

ERROR_TOO_FEW_LINES = "a journal entry needs at least two lines"
ERROR_ZERO = "a line of zero moves nothing"
ERROR_INEXACT = "{amount} is not a whole number of {currency} minor units"
ERROR_CURRENCY = "account {code} holds {account_currency}, not {currency}"
ERROR_UNBALANCED = "the lines do not balance: {currency} sums to {total}"
ERROR_KEY = "an idempotency key of 1 to {max} characters is required"


@dataclass(frozen=True)
class Line:
    """One posting to be: debits are positive, credits negative."""

    account: LedgerAccount
    amount: Money


def ledger_post(
    *,
    lines: Sequence[Line],
    idempotency_key: str,
    kind: str,
    memo: str = "",
    created_by: "User | None" = None,
    import_batch: "ImportBatch | None" = None,
    payment: "Payment | None" = None,
) -> JournalEntry:
    """Write one journal entry, or return the one already written under `idempotency_key`.

    Raises InvalidLines (nothing to write), IdempotencyConflict (the key was used with other
    lines) or InsufficientFunds (a wallet would go below zero). Nothing is written then.
    """
    _check(lines, idempotency_key)
    fields: dict[str, Any] = {
        "kind": kind,
        "memo": memo,
        "idempotency_key": idempotency_key,
        "created_by_id": created_by.pk if created_by is not None else None,
        "import_batch_id": import_batch.pk if import_batch is not None else None,
        "payment_id": payment.pk if payment is not None else None,
    }
    if uses_database_function():
        return _post_in_database(lines, fields)
    return _post_with_orm(lines, fields)


def uses_database_function() -> bool:
    """PostgreSQL posts through `billing_ledger_post`; other databases through the ORM."""
    return connection.vendor == "postgresql"


def _check(lines: Sequence[Line], idempotency_key: str) -> None:
    if not 0 < len(idempotency_key) <= IDEMPOTENCY_KEY_MAX_LENGTH:
        raise InvalidLines(ERROR_KEY.format(max=IDEMPOTENCY_KEY_MAX_LENGTH))
    if len(lines) < 2:
        raise InvalidLines(ERROR_TOO_FEW_LINES)
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for line in lines:
        amount, currency = line.amount.amount, str(line.amount.currency)
        if currency != line.account.currency:
            raise InvalidLines(
                ERROR_CURRENCY.format(
                    code=line.account.code,
                    account_currency=line.account.currency,
                    currency=currency,
                )
            )
        try:
            exact = is_exact(line.amount)
        except UnsupportedCurrency as exc:
            raise InvalidLines(str(exc)) from exc
        if not exact:
            raise InvalidLines(ERROR_INEXACT.format(amount=amount, currency=currency))
        if amount == 0:
            raise InvalidLines(ERROR_ZERO)
        totals[currency] += amount
    for currency, total in totals.items():
        if total != 0:
            raise InvalidLines(ERROR_UNBALANCED.format(currency=currency, total=total))


def _post_in_database(lines: Sequence[Line], fields: dict[str, Any]) -> JournalEntry:
    params: list[Any] = [
        json.dumps(fields),
        [line.account.pk for line in lines],
        [line.amount.amount for line in lines],
        [line.account.currency for line in lines],
    ]
    with _server_bound_cursor() as cursor:
        cursor.execute(POST_SQL, params)
        outcome, entry_id, created_at, account_id, balance = cursor.fetchone()
    if outcome == "posted":
        entry = JournalEntry(id=entry_id, created_at=created_at, **fields)
        entry._state.adding = False
        entry._state.db = connection.alias
        return entry
    if outcome == "existing":
        return JournalEntry.objects.get(pk=entry_id)
    if outcome == "conflict":
        raise IdempotencyConflict(fields["idempotency_key"])
    assert outcome == "insufficient", outcome
    raise _insufficient(lines, account_id, balance)


def _server_bound_cursor() -> CursorWrapper:
    """A cursor that binds its parameters on the server, so psycopg prepares the posting
    statement once per connection (after a few runs) instead of having it parsed and planned
    on every post. Django's wrapper keeps error translation and query logging."""
    from psycopg import Cursor  # this path runs on PostgreSQL only

    db = connections[DEFAULT_DB_ALIAS]
    db.ensure_connection()
    wrapper = CursorDebugWrapper if db.queries_logged else CursorWrapper
    return wrapper(Cursor(db.connection), db)


def _insufficient(lines: Sequence[Line], account_id: int, balance: Decimal) -> InsufficientFunds:
    account = next(line.account for line in lines if line.account.pk == account_id)
    # What the lines take out of that account, on its normal side.
    requested = -account.normal_sign * sum(
        (line.amount.amount for line in lines if line.account.pk == account_id), Decimal(0)
    )
    return InsufficientFunds(
        account=account,
        balance=Money(balance, account.currency),
        requested=Money(requested, account.currency),
    )


def _post_with_orm(lines: Sequence[Line], fields: dict[str, Any]) -> JournalEntry:
    deltas: dict[int, Decimal] = defaultdict(Decimal)
    for line in lines:
        deltas[line.account.pk] += line.amount.amount
    with transaction.atomic():
        accounts = {
            account.pk: account
            for account in LedgerAccount.objects.select_for_update()
            .filter(pk__in=deltas)
            .order_by("pk")
        }
        existing = JournalEntry.objects.filter(idempotency_key=fields["idempotency_key"]).first()
        if existing is not None:
            return _same_entry(existing, lines)
        for account_id, delta in sorted(deltas.items()):
            account = accounts[account_id]
            if account.is_wallet and account.balance + account.normal_sign * delta < 0:
                raise _insufficient(lines, account_id, account.balance)
        try:
            with transaction.atomic():
                entry = JournalEntry.objects.create(created_at=timezone.now(), **fields)
        except IntegrityError:
            # The same key committed meanwhile by a post that touched other accounts.
            existing = JournalEntry.objects.get(idempotency_key=fields["idempotency_key"])
            return _same_entry(existing, lines)
        Posting.objects.bulk_create(
            Posting(
                entry=entry,
                account_id=line.account.pk,
                amount=line.amount.amount,
                currency=line.account.currency,
            )
            for line in lines
        )
        for account_id, delta in deltas.items():
            LedgerAccount.objects.filter(pk=account_id).update(
                balance=F("balance") + accounts[account_id].normal_sign * delta
            )
    return entry


def _same_entry(entry: JournalEntry, lines: Sequence[Line]) -> JournalEntry:
    posted = sorted(entry.postings.values_list("account_id", "amount"))
    asked = sorted((line.account.pk, line.amount.amount) for line in lines)
    if posted != asked:
        raise IdempotencyConflict(entry.idempotency_key)
    return entry


# --- System accounts -------------------------------------------------------------------------
# Their ids never change once opened (postings protect them), so each process remembers them
# once they are committed; `system_accounts_forget` empties the memory when a flush (tests)
# deletes every row.
_system_accounts: dict[tuple[str, str], LedgerAccount] = {}


def system_account_get(*, purpose: str, currency: str) -> LedgerAccount:
    """The business's account for `purpose` in `currency`, opened on first use."""
    key = (purpose, currency)
    account = _system_accounts.get(key)
    if account is None:
        fields = system_account_fields(purpose, currency)
        account, _created = LedgerAccount.objects.get_or_create(
            code=fields.pop("code"), defaults=fields
        )
        # Remembered once committed: a row made by a transaction that rolls back must not be.
        transaction.on_commit(partial(_system_accounts.__setitem__, key, account))
    return account


def system_accounts_forget(**_kwargs: object) -> None:
    _system_accounts.clear()
