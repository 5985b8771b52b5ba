from django.db import migrations

from accounts.roles import RESELLER_STAFF, grant_role_permissions, revoke_role_permissions

PERMISSIONS = {
    # Resellers import the usage the network reports; nobody edits a record once stored.
    RESELLER_STAFF: ["catalog.add_usagerecord", "catalog.view_usagerecord"],
}


def grant(apps, schema_editor):
    for role, permissions in PERMISSIONS.items():
        grant_role_permissions(apps, role, permissions)


def revoke(apps, schema_editor):
    for role, permissions in PERMISSIONS.items():
        revoke_role_permissions(apps, role, permissions)


class Migration(migrations.Migration):
    dependencies = [("catalog", "0006_usage_records"), ("accounts", "0002_staff_roles")]

    operations = [migrations.RunPython(grant, revoke)]
