from billing.models.ledger import JournalEntry, LedgerAccount, Posting
from billing.models.orders import Coupon, CouponRedemption, Delivery, Order, OrderLine, Refund
from billing.models.payments import (
    BonusTier,
    GatewayEvent,
    Payment,
    SandboxCharge,
    SandboxRefund,
)
from billing.models.reconciliation import GatewayPayout, ReconciliationItem, ReconciliationRun
from billing.models.renewals import AutoRenewal, Reminder, Renewal, renewal_key
from billing.models.support import SupportRequest

__all__ = [
    "AutoRenewal",
    "BonusTier",
    "Coupon",
    "CouponRedemption",
    "Delivery",
    "GatewayEvent",
    "GatewayPayout",
    "JournalEntry",
    "LedgerAccount",
    "Order",
    "OrderLine",
    "Payment",
    "Posting",
    "ReconciliationItem",
    "ReconciliationRun",
    "Refund",
    "Reminder",
    "Renewal",
    "SandboxCharge",
    "SandboxRefund",
    "SupportRequest",
    "renewal_key",
]
