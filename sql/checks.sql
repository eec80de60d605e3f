-- CHECK constraints prepared once per backend (src/checks.c): the API's
-- statements are given kept states, which must obey every constraint as
-- PostgreSQL's own preparation would, however the constraints change, and
-- must not grow.  Prints no ids.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS invoice CASCADE;
\set VERBOSITY terse

CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || regexp_replace(SQLERRM, '(invoice|tenant|customer) [0-9]+', '\1 N', 'g');
END
$$;

SELECT invoice.create_organization('checks-a', 'Joyería Controles') AS org \gset
CREATE ROLE regress_checks;
GRANT invoice_app TO regress_checks;
SELECT invoice.grant_tenant('regress_checks', :org);
BEGIN;
SELECT invoice.set_tenant(:org);
SELECT invoice.upsert_customer('CC', '71000001', 'Ana Controles') AS ana \gset
COMMIT;

-- a sale of `qty` pieces described by `descr`, by the shop's role
CREATE FUNCTION pg_temp.sale(qty numeric, descr text DEFAULT 'Aretes', notes text DEFAULT NULL)
RETURNS text LANGUAGE sql AS $$
SELECT pg_temp.err(format('SELECT invoice.create_and_issue(%s, %L, %L)',
    current_setting('regress.ana'),
    jsonb_build_array(jsonb_build_object('description', descr, 'quantity', qty, 'unit_price', 1000)),
    notes))
$$;
SELECT set_config('regress.ana', :'ana', false) IS NOT NULL AS customer_set;

-- what is kept, by table (the log's partitions are named by date)
CREATE TEMP VIEW kept AS
SELECT CASE WHEN ident LIKE 'audit\_log\_%' THEN 'a partition of audit_log' ELSE ident END AS set_of,
       count(*) > 0 AS kept
FROM pg_backend_memory_contexts WHERE name = 'invoice check set'
GROUP BY 1 ORDER BY 1;

----------------------------------------------------------------------
-- the API's tables get kept states; other statements do not
----------------------------------------------------------------------
CREATE TABLE public.regress_plain (x int CHECK (x > 0));
INSERT INTO public.regress_plain VALUES (1);
SELECT pg_temp.err('INSERT INTO public.regress_plain VALUES (0)');
SELECT * FROM kept;
SET ROLE regress_checks;
BEGIN;
SELECT invoice.set_tenant(:org);
SELECT pg_temp.sale(1);
SELECT pg_temp.sale(2);
COMMIT;
RESET ROLE;
SELECT * FROM kept;

----------------------------------------------------------------------
-- a constraint added later is obeyed, and no longer once dropped
----------------------------------------------------------------------
ALTER TABLE invoice.invoice_items
    ADD CONSTRAINT regress_few CHECK (quantity OPERATOR(pg_catalog.<) 100) NOT VALID;
SET ROLE regress_checks;
BEGIN;
SELECT invoice.set_tenant(:org);
SELECT pg_temp.sale(500) AS five_hundred, pg_temp.sale(5) AS five;
COMMIT;
RESET ROLE;
ALTER TABLE invoice.invoice_items DROP CONSTRAINT regress_few;
SET ROLE regress_checks;
BEGIN;
SELECT invoice.set_tenant(:org);
SELECT pg_temp.sale(500) AS five_hundred_again;
COMMIT;
RESET ROLE;

----------------------------------------------------------------------
-- a constraint calling a user's function follows the function's body;
-- one reading the whole row is prepared for each statement too
----------------------------------------------------------------------
CREATE FUNCTION public.regress_allowed(notes text) RETURNS boolean
IMMUTABLE LANGUAGE sql AS $$ SELECT notes IS DISTINCT FROM 'prohibido' $$;
ALTER TABLE invoice.invoices
    ADD CONSTRAINT regress_allowed CHECK (public.regress_allowed(notes)) NOT VALID;
ALTER TABLE invoice.invoice_items
    ADD CONSTRAINT regress_short_row CHECK (pg_catalog.length(invoice_items::text) OPERATOR(pg_catalog.<) 400) NOT VALID;
SET ROLE regress_checks;
BEGIN;
SELECT invoice.set_tenant(:org);
SELECT pg_temp.sale(1, 'Dije', 'prohibido') AS forbidden, pg_temp.sale(1, 'Dije', 'permitido') AS allowed;
SELECT pg_temp.sale(1, repeat('Dije ', 80)) AS long_row, pg_temp.sale(1, 'Dije') AS short_row,
       pg_temp.sale(1, repeat('Dije ', 80)) AS long_row_again;
COMMIT;
RESET ROLE;
CREATE OR REPLACE FUNCTION public.regress_allowed(notes text) RETURNS boolean
IMMUTABLE LANGUAGE sql AS $$ SELECT notes IS DISTINCT FROM 'también prohibido' $$;
SET ROLE regress_checks;
BEGIN;
SELECT invoice.set_tenant(:org);
SELECT pg_temp.sale(1, 'Dije', 'prohibido') AS once_forbidden,
       pg_temp.sale(1, 'Dije', 'también prohibido') AS now_forbidden;
COMMIT;
RESET ROLE;
ALTER TABLE invoice.invoices DROP CONSTRAINT regress_allowed;
ALTER TABLE invoice.invoice_items DROP CONSTRAINT regress_short_row;
DROP FUNCTION public.regress_allowed(text);
DROP TABLE public.regress_plain;

----------------------------------------------------------------------
-- invoice.keep_checks = off: PostgreSQL's own preparation; the payments'
-- method check calls a function of the extension, so it is prepared for
-- each statement while the table's other checks are kept
----------------------------------------------------------------------
SET invoice.keep_checks = off;
SET ROLE regress_checks;
BEGIN;
SELECT invoice.set_tenant(:org);
SELECT invoice.create_and_issue(:ana, '[{"description": "Anillo", "quantity": 1, "unit_price": 100}]', NULL, 'cash') ->> 'status' AS paid_unkept;
COMMIT;
RESET ROLE;
SELECT * FROM kept WHERE set_of = 'payments';
RESET invoice.keep_checks;
SET ROLE regress_checks;
BEGIN;
SELECT invoice.set_tenant(:org);
SELECT invoice.create_and_issue(:ana, '[{"description": "Anillo", "quantity": 1, "unit_price": 100}]', NULL, 'cash') ->> 'status' AS paid_kept;
COMMIT;
RESET ROLE;
SELECT * FROM kept WHERE set_of = 'payments';

----------------------------------------------------------------------
-- the kept states do not grow with use, and replaced ones are freed
----------------------------------------------------------------------
SELECT sum(total_bytes) AS bytes_before FROM pg_backend_memory_contexts
WHERE name IN ('invoice checks', 'invoice check set') \gset
SET ROLE regress_checks;
BEGIN;
SELECT invoice.set_tenant(:org);
SELECT count(*) FILTER (WHERE pg_temp.sale(i % 7 + 1, 'Pulsera', 'nota ' || i) = 'ok') AS sales
FROM generate_series(1, 300) AS i;
COMMIT;
RESET ROLE;
SELECT sum(total_bytes) - :bytes_before AS grown_by FROM pg_backend_memory_contexts
WHERE name IN ('invoice checks', 'invoice check set');
SELECT * FROM kept;
