from django.db import migrations

# Invariant 7, in PostgreSQL itself: a sold profile never returns to stock and never changes
# hands, whatever code (or admin, or shell) issues the UPDATE. SQLite relies on the services.
GUARD = """
CREATE OR REPLACE FUNCTION catalog_profile_guard() RETURNS trigger AS $$
BEGIN
    IF OLD.status IN ('assigned', 'installed', 'expired')
       AND NEW.status IN ('available', 'reserved') THEN
        RAISE EXCEPTION 'eSIM profile % was sold and cannot return to %', OLD.id, NEW.status
            USING ERRCODE = 'check_violation';
    END IF;
    IF OLD.owner_id IS NOT NULL AND NEW.owner_id IS DISTINCT FROM OLD.owner_id THEN
        RAISE EXCEPTION 'eSIM profile % already belongs to a customer', OLD.id
            USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.iccid <> OLD.iccid THEN
        RAISE EXCEPTION 'the ICCID of eSIM profile % cannot change', OLD.id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER catalog_profile_guard
    BEFORE UPDATE ON catalog_esimprofile
    FOR EACH ROW EXECUTE FUNCTION catalog_profile_guard();
"""

UNGUARD = """
DROP TRIGGER IF EXISTS catalog_profile_guard ON catalog_esimprofile;
DROP FUNCTION IF EXISTS catalog_profile_guard();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(GUARD, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(UNGUARD, params=None)


class Migration(migrations.Migration):
    dependencies = [("catalog", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
