from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class BillingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "billing"
    verbose_name = _("Billing")

    def ready(self) -> None:
        # Registers the confirmation step of order payments with the payments service.
        import billing.services.orders  # noqa: F401
        from billing.receivers import (
            profiles_imported_receiver,
            stock_arrived_receiver,
            usage_recorded_receiver,
        )
        from billing.services.ledger import system_accounts_forget
        from catalog.signals import profiles_imported, usage_recorded

        profiles_imported.connect(profiles_imported_receiver, dispatch_uid="billing-inventory")
        profiles_imported.connect(stock_arrived_receiver, dispatch_uid="billing-awaiting-stock")
        usage_recorded.connect(usage_recorded_receiver, dispatch_uid="billing-usage-notices")
        # A flush (tests) deletes the system accounts and then sends post_migrate.
        post_migrate.connect(system_accounts_forget, dispatch_uid="billing-forget-accounts")
