-- Due dates and overdue invoices: the tenant's payment_terms_days, the
-- due_date of create_invoice(), set_due_date(), the due date at issue, and
-- maintenance() marking issued invoices past their due date.  Prints no
-- ids, and no date: dates are compared with the tenant's today.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS invoice CASCADE;
\set VERBOSITY terse

CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    -- ids come from sequences that other files use too; dates from the clock
    RETURN SQLSTATE || ': ' || regexp_replace(regexp_replace(SQLERRM,
        '(invoice|tenant|customer) [0-9]+', '\1 N', 'g'), '[0-9]{4}-[0-9]{2}-[0-9]{2}', 'DATE', 'g');
END
$$;

-- the setting: a whole number of days from 0 to 3650, or null
SELECT pg_temp.err($$SELECT invoice.create_organization('due-bad', 'X', NULL, '{"payment_terms_days": -1}')$$);
SELECT pg_temp.err($$SELECT invoice.create_organization('due-bad', 'X', NULL, '{"payment_terms_days": 1.5}')$$);
SELECT pg_temp.err($$SELECT invoice.create_organization('due-bad', 'X', NULL, '{"payment_terms_days": "30"}')$$);
SELECT pg_temp.err($$SELECT invoice.create_organization('due-bad', 'X', NULL, '{"payment_terms_days": 3651}')$$);
SELECT count(*) AS none_created FROM invoice.organizations WHERE slug = 'due-bad';

SELECT invoice.create_organization('due-a', 'Joyería a Crédito', NULL,
       '{"payment_terms_days": 30}') AS org_a \gset
SELECT invoice.create_organization('due-b', 'Joyería de Contado') AS org_b \gset
SELECT slug, payment_terms_days FROM invoice.organizations
 WHERE slug IN ('due-a', 'due-b') ORDER BY slug COLLATE "C";
SELECT invoice.update_organization(:org_b, '{"payment_terms_days": 0}');
SELECT invoice.update_organization(:org_b, '{"payment_terms_days": null}');
SELECT pg_temp.err(format($$SELECT invoice.update_organization(%s, '{"payment_terms_days": -3}')$$, :org_b));
SELECT slug, payment_terms_days FROM invoice.organizations
 WHERE slug IN ('due-a', 'due-b') ORDER BY slug COLLATE "C";

CREATE ROLE regress_due;
GRANT invoice_app TO regress_due;
SELECT invoice.grant_tenant('regress_due', :org_a);
SELECT invoice.grant_tenant('regress_due', :org_b);
SET ROLE regress_due;

-- no tenant context
SELECT pg_temp.err($$SELECT invoice.set_due_date(1, '2030-01-01')$$);

\set items '[{"description": "Anillo de plata", "quantity": 1, "unit_price": 100000}]'
BEGIN;
SELECT invoice.set_tenant(:org_a);
SELECT (now() AT TIME ZONE 'America/Bogota')::date AS today \gset
SELECT invoice.upsert_customer('CC', '1020304050', 'María Pérez') AS maria \gset
-- no due date given: the tenant's 30 days from the day of issue
SELECT invoice.create_invoice(:maria, :'items') AS terms \gset
SELECT invoice.issue(:terms);
SELECT due_date - :'today'::date AS days_to_pay, overdue FROM invoice.invoices WHERE invoice_id = :terms;
-- a due date given to the draft wins; NULL takes it back
SELECT invoice.create_invoice(:maria, :'items') AS given \gset
SELECT invoice.set_due_date(:given, :'today'::date + 5);
SELECT due_date - :'today'::date AS days_to_pay FROM invoice.invoices WHERE invoice_id = :given;
SELECT invoice.set_due_date(:given, NULL);
SELECT due_date IS NULL AS unset FROM invoice.invoices WHERE invoice_id = :given;
SELECT invoice.set_due_date(:given, :'today');
SELECT invoice.issue(:given);
SELECT due_date = :'today'::date AS due_today FROM invoice.invoices WHERE invoice_id = :given;
-- create_invoice takes the due date too (its last argument), checked as
-- set_due_date checks it
SELECT invoice.create_invoice(:maria, :'items', NULL, NULL, :'today'::date + 10) AS at_create \gset
SELECT due_date - :'today'::date AS days_to_pay FROM invoice.invoices WHERE invoice_id = :at_create;
SELECT invoice.issue(:at_create);
SELECT status, due_date - :'today'::date AS days_to_pay FROM invoice.invoices WHERE invoice_id = :at_create;
SELECT invoice.create_invoice(:maria, :'items', due_date => :'today'::date + 3) AS named \gset
SELECT due_date - :'today'::date AS days_to_pay FROM invoice.invoices WHERE invoice_id = :named;
SELECT invoice.delete_draft(:named);
SELECT pg_temp.err(format($$SELECT invoice.create_invoice(%s, '[]', NULL, NULL, 'infinity')$$, :maria));
SELECT pg_temp.err(format($$SELECT invoice.create_invoice(%s, '[]', NULL, NULL, '-infinity')$$, :maria));
-- a draft with no customer of the tenant writes nothing, due date or not
SELECT pg_temp.err(format($$SELECT invoice.create_invoice(-1, '[]', NULL, NULL, %L)$$, :'today'));
-- the counter sale too, when sold on credit; paid at the counter, it is
-- due nothing
SELECT (invoice.create_and_issue(:maria, :'items')->>'invoice_id')::bigint AS sale \gset
SELECT (invoice.create_and_issue(:maria, :'items', NULL, 'cash')->>'invoice_id')::bigint AS cash_sale \gset
SELECT status, due_date - :'today'::date AS days_to_pay FROM invoice.invoices
 WHERE invoice_id IN (:sale, :cash_sale) ORDER BY invoice_id;
-- drafts only; an unknown invoice; a due date before the day of issue is
-- refused at issue, and the draft stays a draft
SELECT pg_temp.err(format($$SELECT invoice.set_due_date(%s, '2030-01-01')$$, :terms));
SELECT pg_temp.err($$SELECT invoice.set_due_date(-1, '2030-01-01')$$);
SELECT pg_temp.err(format($$SELECT invoice.set_due_date(%s, 'infinity')$$, :given));
SELECT invoice.create_invoice(:maria, :'items') AS early \gset
SELECT invoice.set_due_date(:early, :'today'::date - 1);
SELECT pg_temp.err(format('SELECT invoice.issue(%s)', :early));
SELECT status, number IS NULL AS no_number FROM invoice.invoices WHERE invoice_id = :early;
SELECT invoice.create_invoice(:maria, :'items', due_date => :'today'::date - 1) AS early_created \gset
SELECT pg_temp.err(format('SELECT invoice.issue(%s)', :early_created));
SELECT status, number IS NULL AS no_number FROM invoice.invoices WHERE invoice_id = :early_created;
-- the mark is maintenance()'s: application roles write no row directly
SELECT pg_temp.err(format($$UPDATE invoice.invoices SET overdue = true WHERE invoice_id = %s$$, :terms));
COMMIT;

-- a tenant without payment terms: no due date unless given
BEGIN;
SELECT invoice.set_tenant(:org_b);
SELECT invoice.upsert_customer('CC', '1020304050', 'María Pérez') AS maria_b \gset
SELECT invoice.create_invoice(:maria_b, :'items') AS cash \gset
SELECT invoice.issue(:cash);
SELECT due_date IS NULL AS no_due_date FROM invoice.invoices WHERE invoice_id = :cash;
COMMIT;
RESET ROLE;

-- issued invoices keep their due date, for every role
SELECT pg_temp.err(format($$UPDATE invoice.invoices SET due_date = due_date - 1 WHERE invoice_id = %s$$, :terms));

-- overdue: the clock is moved by moving the due dates back, as a
-- superuser who disables the guard would; 'late', 'late_paid' and
-- 'late_void' are past due, 'terms' is not yet
BEGIN;
SELECT invoice.set_tenant(:org_a);
SELECT invoice.create_invoice(:maria, :'items') AS late \gset
SELECT invoice.issue(:late);
SELECT invoice.create_invoice(:maria, :'items') AS late_paid \gset
SELECT invoice.issue(:late_paid);
SELECT invoice.create_invoice(:maria, :'items') AS late_void \gset
SELECT invoice.issue(:late_void);
COMMIT;
ALTER TABLE invoice.invoices DISABLE TRIGGER invoices_guard;
UPDATE invoice.invoices SET due_date = :'today'::date - 1
 WHERE invoice_id IN (:late, :late_paid, :late_void);
ALTER TABLE invoice.invoices ENABLE TRIGGER invoices_guard;

CREATE TEMP VIEW marks AS
SELECT * FROM (SELECT CASE invoice_id WHEN :terms THEN 'terms' WHEN :given THEN 'given' WHEN :sale THEN 'sale'
       WHEN :late THEN 'late' WHEN :late_paid THEN 'late_paid' WHEN :late_void THEN 'late_void'
       WHEN :cash THEN 'cash' END AS invoice, status, overdue, amount_paid
  FROM invoice.invoices
 WHERE invoice_id IN (:terms, :given, :sale, :late, :late_paid, :late_void, :cash)) m
 ORDER BY invoice COLLATE "C";

SELECT * FROM marks;
SELECT (invoice.maintenance()#>>'{steps,overdue,marked}')::int >= 3 AS marked;
SELECT * FROM marks;
-- a second pass marks nothing more
SELECT (invoice.maintenance()#>'{steps,overdue}') - 'ms' AS again;

-- still issued: payments are recorded as ever; paid in full, or voided,
-- an invoice is no longer overdue, at once
BEGIN;
SELECT invoice.set_tenant(:org_a);
SELECT invoice.record_payment(:late, 40000) IS NOT NULL AS part_paid;
SELECT invoice.record_payment(:late_paid, 119000) IS NOT NULL AS paid;
SELECT invoice.void(:late_void, 'devuelto');
COMMIT;
SELECT * FROM marks;
SELECT (invoice.maintenance()#>'{steps,overdue}') - 'ms' AS after_payment;

-- a due date moved later (by a superuser, as above) clears the mark at the
-- next pass
ALTER TABLE invoice.invoices DISABLE TRIGGER invoices_guard;
UPDATE invoice.invoices SET due_date = :'today'::date + 1 WHERE invoice_id = :late;
ALTER TABLE invoice.invoices ENABLE TRIGGER invoices_guard;
SELECT (invoice.maintenance()#>'{steps,overdue}') - 'ms' AS moved;
SELECT * FROM marks;

DROP OWNED BY regress_due;
DROP ROLE regress_due;
