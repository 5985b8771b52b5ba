"""The billing admin's own pages, one module per topic: ledger accounts (statement, wallet
adjustments), finance's reports, money received at the counter, refunds (an order refunded by
staff, a customer's request approved or rejected, the refund queue), and reconciliation
(reconcile, record a payout, resolve what a run found missing in the ledger).

Mounted by the ModelAdmins' get_urls() through `admin_site.admin_view`, which passes
`admin_site` and `model_admin` to `as_view`. The money pages validate with a form, make one
service call and redirect to what it wrote. These modules import nothing from the ModelAdmin
modules of billing.admin, which import them.
"""
