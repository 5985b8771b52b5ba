from django.contrib.admin.apps import AdminConfig


class SimdeskAdminConfig(AdminConfig):
    """django.contrib.admin with the staff console's site (config.admin.SimdeskAdminSite)."""

    default_site = "config.admin.SimdeskAdminSite"
