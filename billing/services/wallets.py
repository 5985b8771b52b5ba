"""Customer wallets: a liability account per customer and currency, moved only by ledger entries."""

from typing import TYPE_CHECKING

from django.db import transaction
from djmoney.money import Money

from billing.chart import wallet_fields
from billing.exceptions import InvalidLines
from billing.models import JournalEntry, LedgerAccount
from billing.services.ledger import Line, ledger_post, system_account_get

if TYPE_CHECKING:
    from accounts.models import User

Purpose = LedgerAccount.Purpose

ERROR_NOT_POSITIVE = "a wallet credit or debit must be a positive amount"
ERROR_NO_REASON = "an adjustment needs a reason"
ERROR_NOT_WALLET = "account {code} is not a customer's wallet"


def wallet_get(*, user: "User", currency: str) -> LedgerAccount:
    """The customer's wallet in `currency`, opened (empty) on first use."""
    fields = wallet_fields(user.pk, currency)
    wallet, _created = LedgerAccount.objects.get_or_create(
        owner=user, currency=currency, defaults=fields
    )
    return wallet


def wallet_credit(
    *,
    wallet: LedgerAccount,
    amount: Money,
    source: str,
    idempotency_key: str,
    kind: str,
    memo: str = "",
    created_by: "User | None" = None,
) -> JournalEntry:
    """Put `amount` into the wallet, debiting the system account `source` (a Purpose)."""
    return _wallet_move(
        wallet=wallet,
        amount=amount,
        counterpart=source,
        into_wallet=True,
        idempotency_key=idempotency_key,
        kind=kind,
        memo=memo,
        created_by=created_by,
    )


def wallet_debit(
    *,
    wallet: LedgerAccount,
    amount: Money,
    destination: str,
    idempotency_key: str,
    kind: str,
    memo: str = "",
    created_by: "User | None" = None,
) -> JournalEntry:
    """Take `amount` out of the wallet into the system account `destination` (a Purpose).

    Raises InsufficientFunds, carrying the balance and the shortfall, when the wallet holds
    less; the database refuses a negative wallet whatever races for it.
    """
    return _wallet_move(
        wallet=wallet,
        amount=amount,
        counterpart=destination,
        into_wallet=False,
        idempotency_key=idempotency_key,
        kind=kind,
        memo=memo,
        created_by=created_by,
    )


@transaction.atomic(durable=True)
def wallet_adjust(
    *,
    wallet: LedgerAccount,
    amount: Money,
    credit: bool,
    reason: str,
    actor: "User",
    idempotency_key: str,
) -> JournalEntry:
    """Finance corrects a wallet against the adjustments account; the entry keeps who and why."""
    if not reason.strip():
        raise InvalidLines(ERROR_NO_REASON)
    return _wallet_move(
        wallet=wallet,
        amount=amount,
        counterpart=Purpose.ADJUSTMENTS,
        into_wallet=credit,
        idempotency_key=idempotency_key,
        kind=JournalEntry.Kind.ADJUSTMENT,
        memo=reason.strip(),
        created_by=actor,
    )


def _wallet_move(
    *,
    wallet: LedgerAccount,
    amount: Money,
    counterpart: str,
    into_wallet: bool,
    idempotency_key: str,
    kind: str,
    memo: str,
    created_by: "User | None",
) -> JournalEntry:
    if not wallet.is_wallet:
        raise InvalidLines(ERROR_NOT_WALLET.format(code=wallet.code))
    if amount.amount <= 0:
        raise InvalidLines(ERROR_NOT_POSITIVE)
    other = system_account_get(purpose=counterpart, currency=wallet.currency)
    # The wallet is a liability: a credit (negative line) raises what it holds.
    wallet_line = -amount if into_wallet else amount
    return ledger_post(
        lines=[Line(wallet, wallet_line), Line(other, -wallet_line)],
        idempotency_key=idempotency_key,
        kind=kind,
        memo=memo,
        created_by=created_by,
    )
