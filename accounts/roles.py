"""Staff roles: Django groups with the permissions each job needs.

Data migrations call `grant_role_permissions` so a fresh database and an upgraded one end up
with the same groups. Later apps add their models' permissions through their own migrations.
"""

from collections.abc import Iterable
from typing import Any

RESELLER_STAFF = "Reseller staff"
FINANCE = "Finance"
ROLES = (RESELLER_STAFF, FINANCE)


def grant_role_permissions(apps: Any, role: str, permissions: Iterable[str]) -> None:
    """Give `role` each permission named "app_label.codename"; creates the group if needed.

    Runs inside migrations, where permissions may not exist yet: they are created first.
    """
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None

    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    group, _ = group_model.objects.get_or_create(name=role)
    for name in permissions:
        app_label, codename = name.split(".", 1)
        permission = permission_model.objects.get(
            content_type__app_label=app_label, codename=codename
        )
        group.permissions.add(permission)


def revoke_role_permissions(apps: Any, role: str, permissions: Iterable[str]) -> None:
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    group = group_model.objects.filter(name=role).first()
    if group is None:
        return
    for name in permissions:
        app_label, codename = name.split(".", 1)
        group.permissions.remove(
            *permission_model.objects.filter(content_type__app_label=app_label, codename=codename)
        )
