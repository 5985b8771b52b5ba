"""The billing admin's own pages, one module per topic: ledger accounts (statement, wallet
adjustments), money received at the counter, and refunds (an order refunded by staff, a
customer's request approved or rejected).

Mounted by the ModelAdmins' get_urls() through `admin_site.admin_view`, which passes
`admin_site` and `model_admin` to `as_view`. The money pages validate with a form, make one
service call and redirect to what it wrote. These modules import nothing from the ModelAdmin
modules of billing.admin, which import them.
"""
