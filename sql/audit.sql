-- Audit: the trigger on every tenant table, what a record holds, the hash
-- chain and its tamper evidence, append-only, purge, partitions, history.
-- Runs last (see the Makefile) and prints no ids or clocks, so its output
-- does not depend on what ran before.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS invoice CASCADE;
CREATE EXTENSION IF NOT EXISTS pgcrypto;
\set VERBOSITY terse

CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;

-- every tenant table carries the three audit triggers
SELECT c.relname, array_agg(t.tgname::text ORDER BY t.tgname COLLATE "C") AS triggers
  FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
 WHERE c.relnamespace = 'invoice'::regnamespace AND NOT c.relispartition
   AND t.tgname::text LIKE 'audit%' AND c.relname <> 'audit_log'
 GROUP BY c.relname ORDER BY c.relname COLLATE "C";

SELECT coalesce(max(audit_id), 0) AS mark FROM invoice.audit_log \gset

-- the story of a tenant, told through the API by an application role
SELECT invoice.create_organization('audit-a', 'Joyería Auditada', '900123456-8') AS a \gset
SELECT invoice.create_organization('audit-b', 'Otra Joyería') AS b \gset
CREATE ROLE regress_audit_app LOGIN;
GRANT invoice_app TO regress_audit_app;
SELECT invoice.grant_tenant('regress_audit_app', :a);
SELECT invoice.grant_tenant('regress_audit_app', :b);
BEGIN;
SELECT invoice.set_tenant(:a);
SELECT invoice.add_user('Ana Admin', 'admin') AS ana \gset
COMMIT;
SET ROLE regress_audit_app;
BEGIN;
SELECT invoice.set_tenant(:a, :ana);
SELECT invoice.upsert_customer('CC', '1020304050', 'María Pérez') AS cust \gset
SELECT invoice.upsert_customer('CC', '1020304050', 'María Pérez', 'maria@example.com') AS cust \gset
SELECT invoice.create_invoice(:cust, '[{"description": "Anillo oro 18k", "quantity": 1, "unit_price": 1250000, "material": "oro", "karat": 18, "weight_grams": 3.5},
                                        {"description": "Cadena", "quantity": 2, "unit_price": 100000, "tax_rate": 0}]') AS inv \gset
SELECT invoice.update_item(:inv, 2, '{"quantity": 1.5}');
SELECT invoice.remove_item(:inv, 2);
SELECT invoice.issue(:inv) IS NOT NULL AS issued;
SELECT invoice.record_payment(:inv, 1487500, 'card') IS NOT NULL AS paid;
SELECT invoice.void(:inv, 'error de digitación');
COMMIT;
RESET ROLE;
SELECT invoice.update_organization(:a, '{"prefix": "FA"}');
SELECT invoice.revoke_tenant('regress_audit_app', :b);

-- one line per audit row since the mark: which tenant, table, operation,
-- who, the key's columns and the changed columns
CREATE TEMP VIEW trail AS
SELECT row_number() OVER (ORDER BY audit_id) AS n,
       CASE org_id WHEN :a THEN 'a' WHEN :b THEN 'b' ELSE '?' END AS org,
       table_name, operation, db_role = session_user AS by_session,
       db_current_role, app_user_id = :ana AS by_ana,
       (SELECT string_agg(k, ',' ORDER BY k COLLATE "C") FROM jsonb_object_keys(row_key) k) AS key,
       (SELECT string_agg(k, ',' ORDER BY k COLLATE "C") FROM jsonb_object_keys(changed) k) AS changed
  FROM invoice.audit_log WHERE audit_id > :mark;
SELECT * FROM trail ORDER BY n;

-- old and new rows keep JSON types: numbers, booleans, null, text, and
-- timestamps in ISO 8601 (UTC)
SELECT jsonb_typeof(new_row->'quantity') AS quantity, new_row->'quantity' AS q,
       jsonb_typeof(new_row->'karat') AS karat, new_row->>'material' AS material,
       jsonb_typeof(new_row->'sku') AS sku, new_row->>'description' AS description
  FROM invoice.audit_log
 WHERE audit_id > :mark AND table_name = 'invoice.invoice_items' AND operation = 'INSERT'
 ORDER BY audit_id LIMIT 1;
SELECT jsonb_typeof(new_row->'is_deleted') AS is_deleted,
       new_row->>'created_at' ~ '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00$' AS iso_created_at,
       new_row->'total' AS total, jsonb_typeof(new_row->'number') AS number
  FROM invoice.audit_log
 WHERE audit_id > :mark AND table_name = 'invoice.invoices' AND operation = 'INSERT';
-- changed holds [old, new] of the changed columns only
SELECT changed->'quantity' AS quantity, changed->'line_total' AS line_total
  FROM invoice.audit_log
 WHERE audit_id > :mark AND table_name = 'invoice.invoice_items' AND operation = 'UPDATE';
SELECT changed->'status' AS status, changed->'void_reason' AS void_reason
  FROM invoice.audit_log
 WHERE audit_id > :mark AND table_name = 'invoice.invoices' AND changed ? 'void_reason';
-- a DELETE keeps the whole old row
SELECT old_row->>'description' AS description, new_row IS NULL AS no_new_row
  FROM invoice.audit_log
 WHERE audit_id > :mark AND table_name = 'invoice.invoice_items' AND operation = 'DELETE';
-- the transaction id of the API calls above is one and the same
SELECT count(DISTINCT txid) FROM invoice.audit_log WHERE audit_id > :mark AND app_user_id = :ana;

-- a direct write by a superuser is audited too, without application user
SELECT max(audit_id) AS mark FROM invoice.audit_log \gset
UPDATE invoice.customers SET phone = '3001234567' WHERE org_id = :a AND customer_id = :cust;
-- an UPDATE that changes nothing is recorded with an empty "changed" ...
UPDATE invoice.customers SET name = name WHERE org_id = :a AND customer_id = :cust;
-- ... unless invoice.audit_skip_noop_updates says otherwise
SET invoice.audit_skip_noop_updates = on;
UPDATE invoice.customers SET name = name WHERE org_id = :a AND customer_id = :cust;
RESET invoice.audit_skip_noop_updates;
SELECT * FROM trail ORDER BY n;
SELECT changed FROM invoice.audit_log WHERE audit_id > :mark ORDER BY audit_id;

-- bulk statements: 10 000 rows inserted by one INSERT ... SELECT, then a
-- multi-row UPDATE and DELETE; one record per row, chained in order
SELECT max(audit_id) AS mark FROM invoice.audit_log \gset
INSERT INTO invoice.customers (org_id, id_type, id_number, name)
SELECT :b, 'CC', 'bulk-' || i, 'Cliente ' || i FROM generate_series(1, 10000) i;
UPDATE invoice.customers SET email = id_number || '@example.com' WHERE org_id = :b AND id_number LIKE 'bulk-%' AND id_number < 'bulk-5' COLLATE "C";
DELETE FROM invoice.customers WHERE org_id = :b AND id_number IN ('bulk-1', 'bulk-2');
SELECT operation, count(*), count(DISTINCT row_key) AS keys,
       count(*) FILTER (WHERE (SELECT array_agg(k) FROM jsonb_object_keys(changed) k) = ARRAY['email']) AS email_only
  FROM invoice.audit_log WHERE audit_id > :mark GROUP BY operation ORDER BY operation COLLATE "C";
-- audit_ids follow the order of the statements
SELECT max(audit_id) FILTER (WHERE operation = 'INSERT') < min(audit_id) FILTER (WHERE operation = 'UPDATE')
       AND max(audit_id) FILTER (WHERE operation = 'UPDATE') < min(audit_id) FILTER (WHERE operation = 'DELETE') AS in_order
  FROM invoice.audit_log WHERE audit_id > :mark;
-- row images of 128 bytes or more are stored compressed (lz4) in the row,
-- shorter ones (these "changed") as they are; reading them is unchanged
SELECT operation, pg_column_compression(old_row) AS old_row, pg_column_compression(new_row) AS new_row,
       pg_column_compression(changed) AS changed, count(*),
       bool_and(coalesce(new_row, old_row) ->> 'id_number' LIKE 'bulk-%') AS readable
  FROM invoice.audit_log WHERE audit_id > :mark
 GROUP BY 1, 2, 3, 4 ORDER BY operation COLLATE "C";
SELECT org_id = :b AS is_b, rows_checked >= 10000 AS all_checked, first_bad_audit_id
  FROM invoice.audit_verify(:b);

-- "the history of this row" (the query of row_history) is a scan of the
-- row index; "what did this user do between t1 and t2", which has no index
-- of its own, reads only the tenant's rows, through an index
ANALYZE invoice.audit_log;
CREATE FUNCTION pg_temp.index_scan(q text, pattern text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    line text;
    found boolean := false;
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
        found := found OR line ~ pattern;
    END LOOP;
    RETURN found;
END
$$;
SELECT pg_temp.index_scan(format($$SELECT * FROM invoice.audit_log WHERE org_id = %s
    AND invoice.audit_row_ord(row_key) = invoice.audit_row_ord('{"customer_id": 5}')
    AND table_name = 'invoice.customers' AND row_key = '{"customer_id": 5}' ORDER BY audit_id$$, :b),
    'Index Scan using audit_log_y\d+m\d+_org_id_audit_row_ord_idx') AS row_history_uses_index;
-- the row index's position of a key: its largest integer other than
-- org_id, with or without org_id; a hash of the members otherwise
SELECT k, invoice.audit_row_ord(k::jsonb) AS ord
  FROM (VALUES ('{"org_id": 7, "customer_id": 42}'), ('{"customer_id": 42}'),
               ('{"org_id": 7, "invoice_id": 42, "line_no": 3}'), ('{"invoice_id": 42.0}'),
               ('{"org_id": 99999999999, "payment_id": -5}'),
               ('{"id": 9223372036854775807}')) v(k);
SELECT invoice.audit_row_ord('{"org_id": 7, "code": "AB"}') = invoice.audit_row_ord('{"code": "AB"}') AS text_key_ignores_org,
       invoice.audit_row_ord('{"code": "AB"}') <> invoice.audit_row_ord('{"code": "AC"}') AS text_keys_differ,
       invoice.audit_row_ord('{"id": 1.5}') <> 1 AS fraction_is_hashed,
       invoice.audit_row_ord('{"id": 1.5, "n": 2}') = 2 AS integer_wins,
       invoice.audit_row_ord('{"id": 92233720368547758070}') <> 0 AS too_big_is_hashed,
       invoice.audit_row_ord('[1, 2]') IS NOT NULL AS not_an_object;
-- (here the tenant holds most of the log, so a sequential scan is cheaper)
BEGIN;
SET LOCAL enable_seqscan = off;
SELECT pg_temp.index_scan(format($$SELECT * FROM invoice.audit_log WHERE org_id = %s AND app_user_id = 1
    AND occurred_at BETWEEN now() - interval '1 day' AND now()$$, :b),
    '(Index|Bitmap Index) Scan (using|on) audit_log_y\d+m\d+_') AS user_activity_uses_index;
COMMIT;

-- a transaction or subtransaction that rolls back leaves no audit rows and
-- no hole in the chain
SELECT max(audit_id) AS mark FROM invoice.audit_log \gset
BEGIN;
SELECT invoice.set_tenant(:a);
SELECT invoice.upsert_customer('CC', '777', 'Se va') IS NOT NULL;
ROLLBACK;
BEGIN;
SELECT invoice.set_tenant(:a);
SAVEPOINT s1;
SELECT invoice.upsert_customer('CC', '778', 'También se va') IS NOT NULL;
ROLLBACK TO SAVEPOINT s1;
SELECT invoice.upsert_customer('CC', '779', 'Se queda') IS NOT NULL;
COMMIT;
-- a failing call writes nothing either
BEGIN;
SELECT invoice.set_tenant(:a);
SELECT pg_temp.err($$SELECT invoice.create_invoice(1, '[{"description": "x", "quantity": 0, "unit_price": 1}]')$$);
COMMIT;
SELECT operation, new_row->>'name' AS name FROM invoice.audit_log WHERE audit_id > :mark ORDER BY audit_id;
SELECT org_id = :a AS is_a, first_bad_audit_id FROM invoice.audit_verify(:a);

-- a commit with records left unwritten is refused rather than unaudited
ALTER TABLE invoice.customers DISABLE TRIGGER audit_write;
BEGIN;
SELECT invoice.set_tenant(:a);
SELECT invoice.upsert_customer('CC', '780', 'Sin auditoría') IS NOT NULL;
COMMIT;
ALTER TABLE invoice.customers ENABLE TRIGGER audit_write;
SELECT count(*) AS unaudited FROM invoice.customers WHERE org_id = :a AND id_number = '780';

-- every chain is intact so far
SELECT count(*) FILTER (WHERE first_bad_audit_id IS NOT NULL) AS broken
  FROM invoice.audit_verify();

/*
 * Tamper evidence: a superuser with the triggers off edits, deletes,
 * reorders or forges rows; audit_verify names the first bad row.  Each
 * attack is rolled back.
 */
SELECT min(audit_id) FILTER (WHERE table_name = 'invoice.invoices') AS t_edit,
       max(audit_id) AS t_last
  FROM invoice.audit_log WHERE org_id = :a \gset
SELECT min(audit_id) AS t_next FROM invoice.audit_log WHERE org_id = :a AND audit_id > :t_edit \gset
SELECT max(audit_id) AS t_prev FROM invoice.audit_log WHERE org_id = :a AND audit_id < :t_last \gset
SET session_replication_role = replica;
-- an edited value
BEGIN;
UPDATE invoice.audit_log SET new_row = jsonb_set(new_row, '{total}', '1') WHERE org_id = :a AND audit_id = :t_edit;
SELECT first_bad_audit_id = :t_edit AS edit_found FROM invoice.audit_verify(:a);
ROLLBACK;
-- an edited value with its own hash recomputed: the next row no longer follows
BEGIN;
UPDATE invoice.audit_log SET db_role = 'someone_else', row_hash = digest('forged', 'sha256')
 WHERE org_id = :a AND audit_id = :t_edit;
SELECT first_bad_audit_id = :t_edit AS rehash_found FROM invoice.audit_verify(:a);
ROLLBACK;
-- a deleted row in the middle
BEGIN;
DELETE FROM invoice.audit_log WHERE org_id = :a AND audit_id = :t_edit;
SELECT first_bad_audit_id = :t_next AS delete_found FROM invoice.audit_verify(:a);
ROLLBACK;
-- the newest row deleted: the head kept apart notices
BEGIN;
DELETE FROM invoice.audit_log WHERE org_id = :a AND audit_id = :t_last;
SELECT first_bad_audit_id = :t_last AS newest_delete_found FROM invoice.audit_verify(:a);
ROLLBACK;
-- two rows swapped (their audit_ids exchanged)
BEGIN;
UPDATE invoice.audit_log SET audit_id = -1 WHERE org_id = :a AND audit_id = :t_edit;
UPDATE invoice.audit_log SET audit_id = :t_edit WHERE org_id = :a AND audit_id = :t_next;
UPDATE invoice.audit_log SET audit_id = :t_next WHERE org_id = :a AND audit_id = -1;
SELECT first_bad_audit_id = :t_edit AS swap_found FROM invoice.audit_verify(:a);
ROLLBACK;
-- a forged row appended after the head
BEGIN;
INSERT INTO invoice.audit_log
SELECT org_id, audit_id + 1000000, occurred_at, txid, db_role, db_current_role, app_user_id, table_name,
       operation, row_key, old_row, new_row, changed, row_hash, row_hash
  FROM invoice.audit_log WHERE org_id = :a AND audit_id = :t_last;
SELECT first_bad_audit_id = :t_last + 1000000 AS forged_found FROM invoice.audit_verify(:a);
ROLLBACK;
-- a row moved to another tenant
BEGIN;
UPDATE invoice.audit_log SET org_id = :b WHERE org_id = :a AND audit_id = :t_prev;
SELECT org_id = :a AS is_a, first_bad_audit_id = :t_last AS gap_found,
       (SELECT first_bad_audit_id IS NOT NULL FROM invoice.audit_verify(:b)) AS b_broken
  FROM invoice.audit_verify(:a);
ROLLBACK;
RESET session_replication_role;
SELECT first_bad_audit_id FROM invoice.audit_verify(:a);

/*
 * Append-only: UPDATE, DELETE and TRUNCATE fail for every role, the owner
 * (here a superuser) included, on the log and on each partition.
 */
SELECT pg_temp.err(format('UPDATE invoice.audit_log SET db_role = %L WHERE audit_id = %s', 'x', :t_last));
SELECT pg_temp.err(format('DELETE FROM invoice.audit_log WHERE audit_id = %s', :t_last));
SELECT pg_temp.err('DELETE FROM invoice.audit_log WHERE false');
SELECT pg_temp.err('TRUNCATE invoice.audit_log');
SELECT pg_temp.err(format('DELETE FROM %s WHERE audit_id = %s', tableoid::regclass, audit_id)) = 'ok' AS partition_delete_allowed
  FROM invoice.audit_log WHERE audit_id = :t_last;
SELECT pg_temp.err(format('UPDATE %s SET row_hash = row_hash', tableoid::regclass)) = 'ok' AS partition_update_allowed
  FROM invoice.audit_log WHERE audit_id = :t_last;
SELECT pg_temp.err('TRUNCATE invoice.audit_log_default');
SELECT pg_temp.err('UPDATE invoice.audit_log_default SET db_role = db_role');

-- TRUNCATE of an audited table would leave no trace
SELECT pg_temp.err('TRUNCATE invoice.customers CASCADE');

/*
 * row_history: one row's story, oldest first, in the current tenant
 */
BEGIN;
SELECT invoice.set_tenant(:a);
SELECT operation, (SELECT string_agg(k, ',' ORDER BY k COLLATE "C") FROM jsonb_object_keys(changed) k) AS changed
  FROM invoice.row_history('invoice.invoices', jsonb_build_object('invoice_id', :inv));
SELECT count(*) AS with_org_id FROM invoice.row_history('invoice.invoices', jsonb_build_object('org_id', :a, 'invoice_id', :inv));
SELECT count(*) AS lines FROM invoice.row_history('invoice.invoice_items', jsonb_build_object('invoice_id', :inv, 'line_no', 2));
SELECT pg_temp.err($$SELECT * FROM invoice.row_history('invoice.invoices', '[1]')$$);
SELECT pg_temp.err($$SELECT * FROM invoice.row_history('invoice.invoices', NULL)$$);
COMMIT;
-- another tenant's row is simply not there
BEGIN;
SELECT invoice.set_tenant(:b);
SELECT count(*) AS from_b FROM invoice.row_history('invoice.invoices', jsonb_build_object('invoice_id', :inv));
COMMIT;
SELECT pg_temp.err($$SELECT * FROM invoice.row_history('invoice.invoices', '{"invoice_id": 1}')$$);

/*
 * audit_enable: any table with a bigint org_id and a primary key
 */
CREATE TABLE public.regress_notes (
    org_id bigint NOT NULL REFERENCES invoice.organizations (org_id),
    note_id int NOT NULL,
    body text,
    PRIMARY KEY (org_id, note_id));
CREATE TABLE public.regress_no_org (id int PRIMARY KEY);
CREATE TABLE public.regress_no_pk (org_id bigint);
SELECT invoice.audit_enable('public.regress_notes');
SET client_min_messages = notice;
SELECT invoice.audit_enable('public.regress_notes');
SET client_min_messages = warning;
SELECT pg_temp.err($$SELECT invoice.audit_enable('public.regress_no_org')$$);
SELECT pg_temp.err($$SELECT invoice.audit_enable('public.regress_no_pk')$$);
SELECT pg_temp.err($$SELECT invoice.audit_enable('invoice.audit_log')$$);
SELECT pg_temp.err($$SELECT invoice.audit_enable(NULL)$$);
SET ROLE regress_audit_app;
SELECT pg_temp.err($$SELECT invoice.audit_enable('public.regress_no_pk')$$);
RESET ROLE;
INSERT INTO public.regress_notes VALUES (:a, 1, 'hola'), (:b, 1, 'hello');
UPDATE public.regress_notes SET body = 'adiós' WHERE org_id = :a;
-- a row that moves to another tenant is recorded in both chains
UPDATE public.regress_notes SET org_id = :a, note_id = 2 WHERE org_id = :b;
SELECT CASE org_id WHEN :a THEN 'a' ELSE 'b' END AS org, operation, row_key - 'org_id' AS key, changed - 'org_id' AS changed
  FROM invoice.audit_log WHERE table_name = 'public.regress_notes' ORDER BY audit_id;
SELECT count(*) FILTER (WHERE first_bad_audit_id IS NOT NULL) AS broken
  FROM invoice.audit_verify();

/*
 * Partitions: this month and the next exist; creating them again does
 * nothing; rows that landed in the default partition move to their month
 */
SELECT count(*) FILTER (WHERE c.relname ~ '^audit_log_y\d{4}m\d\d$') >= 2 AS months,
       count(*) FILTER (WHERE c.relname = 'audit_log_default') AS default_partition
  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
 WHERE i.inhparent = 'invoice.audit_log'::regclass;
SELECT invoice.audit_create_partitions(1);
BEGIN;
SET LOCAL session_replication_role = replica;
INSERT INTO invoice.audit_log
SELECT org_id, audit_id + 2000000, now() + interval '4 months', txid, db_role, db_current_role, app_user_id,
       table_name, operation, row_key, old_row, new_row, changed, prev_hash, row_hash
  FROM invoice.audit_log WHERE audit_id = :t_last;
SELECT tableoid::regclass AS partition FROM invoice.audit_log WHERE audit_id = :t_last + 2000000;
SELECT invoice.audit_create_partitions(4) >= 1 AS created;
SELECT tableoid::regclass::text ~ '^invoice\.audit_log_y\d{4}m\d\d$' AS moved,
       (SELECT count(*) FROM invoice.audit_log_default) AS left_in_default
  FROM invoice.audit_log WHERE audit_id = :t_last + 2000000;
ROLLBACK;
SELECT pg_temp.err('SELECT invoice.audit_create_partitions(-1)');
SELECT pg_temp.err('SELECT invoice.audit_create_partitions(NULL)');

/*
 * The writer routes each record as an INSERT into the log would: to its
 * month's partition, to the default partition when the month has none, to
 * a partition whose columns sit in another order; it never goes past a
 * partition's INSERT trigger.  SET CONSTRAINTS ALL IMMEDIATE writes the
 * records at once, so each case is checked before its ROLLBACK.
 */
SELECT format('invoice.audit_log_y%s', to_char(now() AT TIME ZONE 'UTC', 'YYYY"m"MM')) AS this_month,
       date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS month_from,
       (date_trunc('month', now() AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC' AS month_to \gset
BEGIN;
ALTER TABLE invoice.audit_log DETACH PARTITION :this_month;
SELECT invoice.set_tenant(:a);
SELECT invoice.upsert_customer('CC', '5550001', 'Cliente sin partición') IS NOT NULL AS written;
SET CONSTRAINTS ALL IMMEDIATE;
SELECT tableoid::regclass AS routed_to, operation, new_row->>'name' AS name
  FROM invoice.audit_log WHERE table_name = 'invoice.customers' ORDER BY audit_id DESC LIMIT 1;
ROLLBACK;
BEGIN;
ALTER TABLE invoice.audit_log DETACH PARTITION :this_month;
-- txid moves to the end, behind a dropped column
CREATE TABLE invoice.audit_log_shuffled (LIKE invoice.audit_log INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
ALTER TABLE invoice.audit_log_shuffled DROP COLUMN txid;
ALTER TABLE invoice.audit_log_shuffled ADD COLUMN txid bigint NOT NULL;
ALTER TABLE invoice.audit_log ATTACH PARTITION invoice.audit_log_shuffled
  FOR VALUES FROM (:'month_from') TO (:'month_to');
SELECT invoice.set_tenant(:a);
SELECT invoice.upsert_customer('CC', '5550002', 'Cliente en otro orden') IS NOT NULL AS written;
SET CONSTRAINTS ALL IMMEDIATE;
SELECT tableoid::regclass AS routed_to, txid = txid_current() AS txid_kept, new_row->>'name' AS name
  FROM invoice.audit_log WHERE table_name = 'invoice.customers' ORDER BY audit_id DESC LIMIT 1;
ROLLBACK;
BEGIN;
CREATE FUNCTION pg_temp.noop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER regress_copy_out BEFORE INSERT ON :this_month FOR EACH ROW EXECUTE FUNCTION pg_temp.noop();
SELECT invoice.set_tenant(:a);
SELECT invoice.upsert_customer('CC', '5550003', 'Cliente con disparador') IS NOT NULL AS written;
SELECT regexp_replace(pg_temp.err('SET CONSTRAINTS ALL IMMEDIATE'), 'y\d{4}m\d\d', 'yYYYYmMM') AS refused;
ROLLBACK;
BEGIN;
CREATE FUNCTION pg_temp.noop_stmt() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
CREATE TRIGGER regress_copy_out AFTER INSERT ON invoice.audit_log FOR EACH STATEMENT EXECUTE FUNCTION pg_temp.noop_stmt();
SELECT invoice.set_tenant(:a);
SELECT invoice.upsert_customer('CC', '5550004', 'Cliente con disparador de sentencia') IS NOT NULL AS written;
SELECT pg_temp.err('SET CONSTRAINTS ALL IMMEDIATE') AS refused;
ROLLBACK;
-- the writer moves the chain heads without a statement: an UPDATE trigger on
-- the heads would not fire, so the commit is refused
BEGIN;
CREATE FUNCTION pg_temp.noop_stmt() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
CREATE TRIGGER regress_head_watch AFTER UPDATE ON invoice.audit_heads FOR EACH STATEMENT EXECUTE FUNCTION pg_temp.noop_stmt();
SELECT invoice.set_tenant(:a);
SELECT invoice.upsert_customer('CC', '5550005', 'Cliente con disparador en la cabeza') IS NOT NULL AS written;
SELECT pg_temp.err('SET CONSTRAINTS ALL IMMEDIATE') AS refused;
ROLLBACK;
-- a head that moves off its page (an index on a moved column rules out a
-- HOT update) gets entries in every index of the heads, twice in one
-- transaction too
BEGIN;
CREATE INDEX regress_heads_by_hash ON invoice.audit_heads (head_hash);
SELECT invoice.set_tenant(:a);
SELECT invoice.upsert_customer('CC', '5550006', 'Cliente fuera de la página') IS NOT NULL AS written;
SET CONSTRAINTS ALL IMMEDIATE;
SET CONSTRAINTS ALL DEFERRED;
SELECT invoice.upsert_customer('CC', '5550007', 'Cliente fuera de la página 2') IS NOT NULL AS written;
SET CONSTRAINTS ALL IMMEDIATE;
SET LOCAL enable_seqscan = off;
SET LOCAL enable_bitmapscan = off;
SELECT count(*) AS by_hash FROM invoice.audit_heads h
 WHERE h.head_hash = (SELECT row_hash FROM invoice.audit_log WHERE org_id = :a ORDER BY audit_id DESC LIMIT 1);
SELECT count(*) AS by_org, bool_and(last_audit_id = (SELECT max(audit_id) FROM invoice.audit_log WHERE org_id = :a)) AS at_last
  FROM invoice.audit_heads WHERE org_id = :a;
SELECT rows_checked > 0 AS checked, first_bad_audit_id FROM invoice.audit_verify(:a);
ROLLBACK;
-- the heads' constraints hold for the writer's moves too
BEGIN;
ALTER TABLE invoice.audit_heads ADD CONSTRAINT regress_never_moved CHECK (last_audit_id IS NULL) NOT VALID;
SELECT invoice.set_tenant(:a);
SELECT invoice.upsert_customer('CC', '5550008', 'Cliente con la cabeza restringida') IS NOT NULL AS written;
SELECT pg_temp.err('SET CONSTRAINTS ALL IMMEDIATE') AS refused;
ROLLBACK;
-- and the chains are as they were
SELECT count(*) FILTER (WHERE first_bad_audit_id IS NOT NULL) AS broken FROM invoice.audit_verify();

/*
 * audit_purge: removes the prefix of each chain older than the cutoff and
 * leaves an anchor, so the chain still verifies; empty partitions wholly
 * before the cutoff are dropped
 */
SELECT pg_temp.err($$SELECT invoice.audit_purge(NULL)$$);
SELECT pg_temp.err($$SELECT invoice.audit_purge('-1 day')$$);
SET ROLE regress_audit_app;
SELECT pg_temp.err($$SELECT invoice.audit_purge('1 day')$$);
RESET ROLE;
CREATE TABLE invoice.audit_log_y2001m01 PARTITION OF invoice.audit_log
    FOR VALUES FROM ('2001-01-01 00:00+00') TO ('2001-02-01 00:00+00');
-- nothing is a year old yet
SELECT invoice.audit_purge('1 year');
SELECT to_regclass('invoice.audit_log_y2001m01') IS NULL AS old_partition_dropped;
SELECT count(*) AS rows_a, max(audit_id) AS last_a FROM invoice.audit_log WHERE org_id = :a \gset
-- a new transaction: everything before it is older than a microsecond
SELECT invoice.audit_purge('1 microsecond') >= :rows_a AS purged;
SELECT count(*) AS left_a FROM invoice.audit_log WHERE org_id = :a;
SELECT org_id = :a AS is_a, rows_checked, first_bad_audit_id FROM invoice.audit_verify(:a);
SELECT anchor_audit_id = :last_a AS anchored_at_last, purged_rows = :rows_a AS purged_all,
       anchor_hash = head_hash AS anchor_is_head
  FROM invoice.audit_heads WHERE org_id = :a;
-- new rows chain on from the anchor
BEGIN;
SELECT invoice.set_tenant(:a);
SELECT invoice.upsert_customer('CC', '781', 'Después de la purga') IS NOT NULL;
COMMIT;
SELECT org_id = :a AS is_a, rows_checked, first_bad_audit_id FROM invoice.audit_verify(:a);
-- a forged row before the anchor is found
SET session_replication_role = replica;
BEGIN;
INSERT INTO invoice.audit_log
SELECT org_id, :last_a, occurred_at, txid, db_role, db_current_role, app_user_id,
       table_name, operation, row_key, old_row, new_row, changed, prev_hash, row_hash
  FROM invoice.audit_log WHERE org_id = :a;
SELECT first_bad_audit_id = :last_a AS pre_anchor_found FROM invoice.audit_verify(:a);
ROLLBACK;
RESET session_replication_role;

DROP TABLE public.regress_notes, public.regress_no_org, public.regress_no_pk;
DROP OWNED BY regress_audit_app;
DROP ROLE regress_audit_app;
