from django.db import migrations

from accounts.roles import FINANCE, RESELLER_STAFF, grant_role_permissions, revoke_role_permissions

CRUD = ("add", "change", "view")
PERMISSIONS = {
    # Resellers run the catalog and the inventory. Viewing matching IDs and confirmation codes
    # is a separate permission ("view_profile_secrets"), granted person by person.
    RESELLER_STAFF: [
        *(f"catalog.{a}_{m}" for a in (*CRUD, "delete") for m in ("region", "plan", "device")),
        *(f"catalog.{a}_esimprofile" for a in CRUD),
        "catalog.view_planprice",
        "catalog.view_planpricechange",
        "catalog.view_importbatch",
        "catalog.view_bundle",
    ],
    # Finance values the inventory and checks costs; it edits nothing here.
    FINANCE: [
        "catalog.view_plan",
        "catalog.view_planprice",
        "catalog.view_planpricechange",
        "catalog.view_esimprofile",
        "catalog.view_importbatch",
        "catalog.view_region",
    ],
}


def grant(apps, schema_editor):
    for role, permissions in PERMISSIONS.items():
        grant_role_permissions(apps, role, permissions)


def revoke(apps, schema_editor):
    for role, permissions in PERMISSIONS.items():
        revoke_role_permissions(apps, role, permissions)


class Migration(migrations.Migration):
    dependencies = [("catalog", "0002_profile_guard_trigger"), ("accounts", "0002_staff_roles")]

    operations = [migrations.RunPython(grant, revoke)]
