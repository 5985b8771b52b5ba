"""The ledger's invariants in the database itself, and its one-round-trip posting function.

PostgreSQL:
- a deferred constraint trigger refuses, at commit, an entry whose postings do not sum to zero
  per currency, or that has fewer than two postings (invariant 1);
- triggers refuse UPDATE and DELETE of entries and postings (invariant 2);
- a posting's currency is its account's, by a foreign key on (account, currency);
- `billing_ledger_post(...)`: what `billing.services.ledger.ledger_post` runs, in one statement.
SQLite (the embedded default) gets the append-only triggers; the service checks the rest.
"""

from django.db import migrations

PG_INVARIANTS = """
CREATE FUNCTION billing_entry_balanced() RETURNS trigger AS $$
DECLARE
    bad record;
BEGIN
    SELECT p.currency, sum(p.amount) AS total INTO bad
      FROM billing_posting p
     WHERE p.entry_id = NEW.entry_id
     GROUP BY p.currency
    HAVING sum(p.amount) <> 0
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'journal entry % does not balance: its % postings sum to %',
            NEW.entry_id, bad.currency, bad.total
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE CONSTRAINT TRIGGER billing_posting_balanced
    AFTER INSERT ON billing_posting
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION billing_entry_balanced();

CREATE FUNCTION billing_entry_has_postings() RETURNS trigger AS $$
BEGIN
    IF (SELECT count(*) FROM billing_posting WHERE entry_id = NEW.id) < 2 THEN
        RAISE EXCEPTION 'journal entry % needs at least two postings', NEW.id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE CONSTRAINT TRIGGER billing_entry_has_postings
    AFTER INSERT ON billing_journalentry
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION billing_entry_has_postings();

CREATE FUNCTION billing_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: correct a mistake with a new journal entry', TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER billing_posting_append_only
    BEFORE UPDATE OR DELETE ON billing_posting
    FOR EACH ROW EXECUTE FUNCTION billing_append_only();
CREATE TRIGGER billing_journalentry_append_only
    BEFORE UPDATE OR DELETE ON billing_journalentry
    FOR EACH ROW EXECUTE FUNCTION billing_append_only();

ALTER TABLE billing_posting
    ADD CONSTRAINT billing_posting_account_currency
    FOREIGN KEY (account_id, currency) REFERENCES billing_ledgeraccount (id, currency)
    DEFERRABLE INITIALLY DEFERRED;
"""

# One journal entry in one statement, inside the caller's transaction. The caller has checked the
# lines (non-zero, exact, the accounts' currencies, balanced); the triggers above check again at
# commit. Steps:
#  1. lock the customer wallets among the lines, lowest id first, and note the first that would
#     go below zero;
#  2. answer a reused key (after the locks, so a retry racing its first attempt sees it);
#  3. refuse the overdraft;
#  4. write the entry, its postings and the cached balances in one statement: the business's
#     accounts are locked only here (several: just before, lowest id first), so the busiest
#     rows (sales revenue, clearing) are held only from here to commit.
# Every transaction takes its account locks in that same order, wallets then the business's
# accounts, each by id, so two posts never wait on each other in a cycle.
# Outcomes (one row of OUT parameters):
#   posted        entry_id, created_at of the new entry
#   existing      entry_id of the entry already posted with this key and the same lines
#   conflict      entry_id of the entry posted with this key and other lines
#   insufficient  account_id of the first wallet that would go below zero, and its balance
# Nothing is written unless the outcome is "posted". `p_entry` holds the entry's columns (kind,
# memo, idempotency_key, created_by_id and the cause's ids) by name, so links added to the
# table later need no change here.
PG_POST = """
CREATE FUNCTION billing_ledger_post(
    p_entry jsonb, p_accounts bigint[], p_amounts numeric[], p_currencies text[],
    OUT outcome text, OUT entry_id bigint, OUT created_at timestamptz,
    OUT account_id bigint, OUT balance numeric
)
AS $$
#variable_conflict use_column
DECLARE
    e billing_journalentry;
    wallet record;
    delta numeric;
    wallet_count int := 0;
BEGIN
    FOR wallet IN
        SELECT a.id, a.balance FROM billing_ledgeraccount a
         WHERE a.id = ANY(p_accounts) AND a.owner_id IS NOT NULL
         ORDER BY a.id FOR NO KEY UPDATE
    LOOP
        wallet_count := wallet_count + 1;
        delta := 0;
        FOR i IN 1 .. cardinality(p_accounts) LOOP
            IF p_accounts[i] = wallet.id THEN
                delta := delta + p_amounts[i];
            END IF;
        END LOOP;
        -- A wallet is a liability: a debit (positive) lowers what it holds.
        IF account_id IS NULL AND wallet.balance - delta < 0 THEN
            account_id := wallet.id;
            balance := wallet.balance;
        END IF;
    END LOOP;

    SELECT j.id INTO entry_id
      FROM billing_journalentry j WHERE j.idempotency_key = p_entry->>'idempotency_key';
    IF entry_id IS NOT NULL THEN
        outcome := billing_ledger_same_lines(entry_id, p_accounts, p_amounts);
        account_id := NULL;
        balance := NULL;
        RETURN;
    END IF;
    IF account_id IS NOT NULL THEN
        outcome := 'insufficient';
        RETURN;
    END IF;

    -- Several business accounts: locked first, in id order (one is locked by the UPDATE).
    IF cardinality(p_accounts) - wallet_count > 1 THEN
        PERFORM 1 FROM billing_ledgeraccount a
         WHERE a.id = ANY(p_accounts) AND a.owner_id IS NULL ORDER BY a.id FOR NO KEY UPDATE;
    END IF;

    e := jsonb_populate_record(NULL::billing_journalentry, p_entry);
    e.id := nextval('billing_journalentry_id_seq');
    e.created_at := statement_timestamp();
    -- One statement writes the entry, its postings and the balances, or nothing when the key
    -- was committed meanwhile by a post that touched no wallet of ours.
    WITH new_entry AS (
        INSERT INTO billing_journalentry VALUES (e.*)
        ON CONFLICT (idempotency_key) DO NOTHING
        RETURNING id
    ), new_postings AS (
        INSERT INTO billing_posting (entry_id, account_id, amount, currency)
        SELECT n.id, l.acc, l.amt, l.cur
          FROM new_entry n, unnest(p_accounts, p_amounts, p_currencies) AS l(acc, amt, cur)
    )
    UPDATE billing_ledgeraccount a
       SET balance = a.balance
                     + CASE WHEN a.type IN ('asset', 'expense') THEN d.delta ELSE -d.delta END
      FROM (SELECT l.acc, sum(l.amt) AS delta
              FROM new_entry, unnest(p_accounts, p_amounts) AS l(acc, amt) GROUP BY l.acc) d
     WHERE a.id = d.acc;
    IF NOT FOUND THEN
        SELECT j.id INTO entry_id
          FROM billing_journalentry j WHERE j.idempotency_key = e.idempotency_key;
        outcome := billing_ledger_same_lines(entry_id, p_accounts, p_amounts);
        RETURN;
    END IF;
    outcome := 'posted';
    entry_id := e.id;
    created_at := e.created_at;
END;
$$ LANGUAGE plpgsql
-- Plans fit every call alike; re-planning each statement per call would double its cost.
SET plan_cache_mode = force_generic_plan;

CREATE FUNCTION billing_ledger_same_lines(
    p_entry_id bigint, p_accounts bigint[], p_amounts numeric[]
) RETURNS text AS $$
    SELECT CASE WHEN
        (SELECT array_agg(ROW(p.account_id, p.amount) ORDER BY p.account_id, p.amount)
           FROM billing_posting p WHERE p.entry_id = p_entry_id)
        = (SELECT array_agg(ROW(l.acc, l.amt) ORDER BY l.acc, l.amt)
             FROM unnest(p_accounts, p_amounts) AS l(acc, amt))
    THEN 'existing' ELSE 'conflict' END;
$$ LANGUAGE sql STABLE;
"""

PG_DROP = """
DROP FUNCTION IF EXISTS billing_ledger_post(jsonb, bigint[], numeric[], text[]);
DROP FUNCTION IF EXISTS billing_ledger_same_lines(bigint, bigint[], numeric[]);
ALTER TABLE billing_posting DROP CONSTRAINT IF EXISTS billing_posting_account_currency;
DROP TRIGGER IF EXISTS billing_posting_append_only ON billing_posting;
DROP TRIGGER IF EXISTS billing_journalentry_append_only ON billing_journalentry;
DROP TRIGGER IF EXISTS billing_posting_balanced ON billing_posting;
DROP TRIGGER IF EXISTS billing_entry_has_postings ON billing_journalentry;
DROP FUNCTION IF EXISTS billing_append_only();
DROP FUNCTION IF EXISTS billing_entry_balanced();
DROP FUNCTION IF EXISTS billing_entry_has_postings();
"""

SQLITE_APPEND_ONLY = [
    f"""
    CREATE TRIGGER billing_{table}_{action}_refused BEFORE {action} ON billing_{table}
    BEGIN SELECT RAISE(ABORT, 'billing_{table} is append-only'); END;
    """
    for table in ("posting", "journalentry")
    for action in ("update", "delete")
]

SQLITE_DROP = [
    f"DROP TRIGGER IF EXISTS billing_{table}_{action}_refused"
    for table in ("posting", "journalentry")
    for action in ("update", "delete")
]


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_INVARIANTS, params=None)
        schema_editor.execute(PG_POST, params=None)
    elif vendor == "sqlite":
        for statement in SQLITE_APPEND_ONLY:
            schema_editor.execute(statement, params=None)


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_DROP, params=None)
    elif vendor == "sqlite":
        for statement in SQLITE_DROP:
            schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_ledger")]

    operations = [migrations.RunPython(forwards, backwards)]
