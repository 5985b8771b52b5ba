from billing.models.ledger import JournalEntry, LedgerAccount, Posting
from billing.models.payments import BonusTier, GatewayEvent, Payment, SandboxCharge

__all__ = [
    "BonusTier",
    "GatewayEvent",
    "JournalEntry",
    "LedgerAccount",
    "Payment",
    "Posting",
    "SandboxCharge",
]
