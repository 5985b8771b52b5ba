"""The chart of accounts: each system account's number, type and name, per currency.

Used by the data migration that opens them for the configured currencies and by the service
that opens one on first use for any other currency, so both agree on codes and types.
"""

from typing import NamedTuple

from billing.models.ledger import LedgerAccount

Purpose = LedgerAccount.Purpose
Type = LedgerAccount.Type


class ChartLine(NamedTuple):
    number: str
    type: str
    name: str  # English; the admin shows the translated purpose beside it


CHART: dict[str, ChartLine] = {
    Purpose.CASH_ON_HAND: ChartLine("1000", Type.ASSET, "Cash on hand"),
    Purpose.BANK: ChartLine("1010", Type.ASSET, "Bank"),
    Purpose.GATEWAY_CLEARING: ChartLine("1100", Type.ASSET, "Gateway clearing"),
    Purpose.ESIM_INVENTORY: ChartLine("1200", Type.ASSET, "eSIM inventory"),
    Purpose.SUPPLIER_PAYABLE: ChartLine("2000", Type.LIABILITY, "Supplier payable"),
    Purpose.CUSTOMER_WALLET: ChartLine("2100", Type.LIABILITY, "Customer wallet"),
    # A contra-revenue account: it normally shows a debit, i.e. a negative balance.
    Purpose.SALES_REVENUE: ChartLine("4000", Type.REVENUE, "Sales revenue"),
    Purpose.SALES_REFUNDS: ChartLine("4100", Type.REVENUE, "Sales refunds"),
    Purpose.COST_OF_SALES: ChartLine("5000", Type.EXPENSE, "Cost of sales"),
    Purpose.PROMOTIONS: ChartLine("5100", Type.EXPENSE, "Promotions expense"),
    Purpose.GATEWAY_FEES: ChartLine("5200", Type.EXPENSE, "Gateway fees"),
    Purpose.ADJUSTMENTS: ChartLine("5900", Type.EXPENSE, "Adjustments"),
}

SYSTEM_PURPOSES = [purpose for purpose in CHART if purpose != Purpose.CUSTOMER_WALLET]


def system_account_fields(purpose: str, currency: str) -> dict[str, str]:
    line = CHART[purpose]
    return {
        "code": f"{line.number}-{currency}",
        "name": f"{line.name} ({currency})",
        "type": line.type,
        "purpose": purpose,
        "currency": currency,
    }


def wallet_fields(owner_id: int, currency: str) -> dict[str, object]:
    line = CHART[Purpose.CUSTOMER_WALLET]
    return {
        "code": f"{line.number}-{currency}-{owner_id}",
        "name": f"{line.name} ({currency})",
        "type": line.type,
        "purpose": Purpose.CUSTOMER_WALLET,
        "currency": currency,
        "owner_id": owner_id,
    }
