"""The storefront's pages, one module per topic: wallet (top-ups), checkout (orders, payment,
receipts), esims (my eSIMs, refunds, top-up by card number, bound cards)."""
