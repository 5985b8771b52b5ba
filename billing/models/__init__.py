from billing.models.ledger import JournalEntry, LedgerAccount, Posting
from billing.models.orders import Coupon, CouponRedemption, Delivery, Order, OrderLine, Refund
from billing.models.payments import BonusTier, GatewayEvent, Payment, SandboxCharge
from billing.models.renewals import AutoRenewal, Reminder, Renewal, renewal_key
from billing.models.support import SupportRequest

__all__ = [
    "AutoRenewal",
    "BonusTier",
    "Coupon",
    "CouponRedemption",
    "Delivery",
    "GatewayEvent",
    "JournalEntry",
    "LedgerAccount",
    "Order",
    "OrderLine",
    "Payment",
    "Posting",
    "Refund",
    "Reminder",
    "Renewal",
    "SandboxCharge",
    "SupportRequest",
    "renewal_key",
]
