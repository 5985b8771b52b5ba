from django.db import migrations

from accounts.roles import FINANCE, RESELLER_STAFF, grant_role_permissions, revoke_role_permissions

# Both roles look customers up (counter top-ups, orders, refunds); neither edits them.
# Catalog, ledger and billing migrations add their own models' permissions to these groups.
PERMISSIONS = {
    RESELLER_STAFF: ["accounts.view_user"],
    FINANCE: ["accounts.view_user"],
}


def create_roles(apps, schema_editor):
    for role, permissions in PERMISSIONS.items():
        grant_role_permissions(apps, role, permissions)


def remove_roles(apps, schema_editor):
    for role, permissions in PERMISSIONS.items():
        revoke_role_permissions(apps, role, permissions)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
