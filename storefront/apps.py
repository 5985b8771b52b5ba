from django.apps import AppConfig
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.utils.translation import gettext_lazy as _


class StorefrontConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "storefront"
    verbose_name = _("Storefront")

    def ready(self) -> None:
        # The page cache (storefront/cache.py) must forget its pages when the catalog changes,
        # whoever changes it: the admin, an import, a service. Signals are the one place that
        # sees every save and delete, and the receiver only marks the cached pages out of date
        # (one cache write after commit); it is cache invalidation, not business logic, so the
        # rule against logic in signals does not apply. Bulk writes (bulk_create, update())
        # send no signal; their pages age out within SIMDESK_PAGE_CACHE_SECONDS.
        from catalog.models import Device, Plan, PlanPrice, Region
        from storefront.cache import catalog_changed

        for model in (Plan, PlanPrice, Region, Device):
            uid = f"storefront-page-cache-{model._meta.label_lower}"
            post_save.connect(catalog_changed, sender=model, dispatch_uid=f"{uid}-save")
            post_delete.connect(catalog_changed, sender=model, dispatch_uid=f"{uid}-delete")
        m2m_changed.connect(
            catalog_changed, sender=Plan.fits.through, dispatch_uid="storefront-page-cache-fits"
        )
