from billing.models.ledger import JournalEntry, LedgerAccount, Posting

__all__ = ["JournalEntry", "LedgerAccount", "Posting"]
