"""Billing in the staff console. The ledger, payments and gateway events are read-only for
everyone, superusers included; bonus tiers are kept here by reseller staff.

Money moves through services only. The admin shows accounts, entries and postings, an account's
statement, payments and gateway events, and the money pages (billing.admin.views): Finance's
wallet adjustments (`wallet_adjust`) and money received at the counter (`counter_topup_record`).
Replaying a failed event is an action calling `gateway_event_replay`. Nothing here saves a
ledger row, a payment or an event.

Coupons are kept by reseller staff; orders and refunds are read-only, fulfilled again by an
action calling `order_fulfil` and refunded through finance's pages (`refund_issue`,
`refund_approve`, `refund_reject`); finance's refund queue (billing.admin.views.refund_queue) lists
the open requests with their facts. Coupons and bonus tiers keep a change history
(django-simple-history, catalog.admin_history), shown on their History pages.
"""

from billing.admin import (  # noqa: F401  (registers)
    ledger,
    orders,
    payments,
    reconciliation,
    renewals,
    support,
)
