from billing.models.ledger import JournalEntry, LedgerAccount, Posting
from billing.models.orders import Coupon, CouponRedemption, Delivery, Order, OrderLine, Refund
from billing.models.payments import BonusTier, GatewayEvent, Payment, SandboxCharge

__all__ = [
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
    "SandboxCharge",
]
