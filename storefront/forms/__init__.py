"""The storefront's forms, one module per topic: topup, checkout, cards."""
