--
-- invoice.totals(items jsonb, default_tax_rate numeric DEFAULT 19)
--
-- The per-line arithmetic of README.md "Invoices and money" (round per line, half away
-- from zero, 2 decimals), the shape of the result, and every kind of bad
-- input with its SQLSTATE and message.
--
-- quiet, so that the output is the same whether an earlier file of the
-- run has already created the extension or not
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS invoice CASCADE;
RESET client_min_messages;

-- the result as rows: one per line, one per tax rate ("base" is the net
-- taxed at that rate) and the totals (subtotal, discount_total, tax_total,
-- total); numeric keeps the scale written in the JSON (100.00, 19)
CREATE FUNCTION pg_temp.show(items jsonb, default_tax_rate numeric DEFAULT 19)
RETURNS TABLE (part text, line_no int, base numeric, discount numeric,
			   net numeric, tax numeric, line_total numeric, rate numeric)
LANGUAGE sql AS $$
	WITH r AS (SELECT invoice.totals(items, default_tax_rate) AS t)
	SELECT part, line_no, base, discount, net, tax, line_total, rate FROM (
		SELECT 1 AS o, n, 'line' AS part, (l->>'line_no')::int AS line_no,
			   (l->>'base')::numeric AS base, (l->>'discount')::numeric AS discount,
			   (l->>'net')::numeric AS net, (l->>'tax')::numeric AS tax,
			   (l->>'line_total')::numeric AS line_total,
			   (l->>'tax_rate')::numeric AS rate
		FROM r, jsonb_array_elements(r.t->'lines') WITH ORDINALITY AS e(l, n)
		UNION ALL
		SELECT 2, n, 'taxes', NULL, (x->>'base')::numeric, NULL, NULL,
			   (x->>'tax')::numeric, NULL, (x->>'rate')::numeric
		FROM r, jsonb_array_elements(r.t->'taxes') WITH ORDINALITY AS e(x, n)
		UNION ALL
		SELECT 3, 1, 'total', NULL, (r.t->>'subtotal')::numeric,
			   (r.t->>'discount_total')::numeric, NULL,
			   (r.t->>'tax_total')::numeric, (r.t->>'total')::numeric, NULL
		FROM r
	) s
	ORDER BY o, n
$$;

-- the SQLSTATE, message, detail and hint of a failing call
CREATE FUNCTION pg_temp.fails(items jsonb, default_tax_rate numeric DEFAULT 19)
RETURNS TABLE (code text, message text, detail_hint text)
LANGUAGE plpgsql AS $$
DECLARE
	d text;
	h text;
BEGIN
	PERFORM invoice.totals(items, default_tax_rate);
	code := '-';
	message := 'no error';
	RETURN NEXT;
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
		d = PG_EXCEPTION_DETAIL, h = PG_EXCEPTION_HINT;
	detail_hint := concat_ws(' / ', nullif(d, ''), nullif(h, ''));
	RETURN NEXT;
END
$$;

--
-- The worked example: quantity 3, unit_price 333.33, discount_pct 10,
-- tax_rate 19: base 999.99, discount 100.00, net 899.99, tax 171.00,
-- line_total 1070.99.
--
SELECT jsonb_pretty(invoice.totals('[{"description": "Anillo oro 18k",
	"quantity": 3, "unit_price": 333.33, "discount_pct": 10, "tax_rate": 19}]'));

-- exactly these keys, amounts with exactly 2 decimals as JSON numbers
SELECT array_agg(k ORDER BY k COLLATE "C") AS keys
FROM jsonb_object_keys(invoice.totals('[]')) AS k;
SELECT array_agg(k ORDER BY k COLLATE "C") AS line_keys
FROM jsonb_object_keys(invoice.totals('[{"description": "x", "quantity": 1, "unit_price": 1}]')->'lines'->0) AS k;
SELECT jsonb_typeof(t->'total') AS total_type, t->>'total' AS total,
	   jsonb_typeof(t->'lines'->0->'line_no') AS line_no_type,
	   t->'lines'->0->>'tax_rate' AS tax_rate
FROM invoice.totals('[{"description": "x", "quantity": 2, "unit_price": 50}]') AS t;

-- an empty invoice
SELECT invoice.totals('[]');
SELECT invoice.totals('[]', 0);

-- the default rate applies when tax_rate is absent or null, and not when
-- it is given (0 included)
SELECT * FROM pg_temp.show('[
	{"description": "no rate", "quantity": 1, "unit_price": 100},
	{"description": "null rate", "quantity": 1, "unit_price": 100, "tax_rate": null},
	{"description": "zero rate", "quantity": 1, "unit_price": 100, "tax_rate": 0}
]', 16);
SELECT * FROM pg_temp.show('[{"description": "x", "quantity": 1, "unit_price": 100}]');

-- zero-tax items: a zero default and zero rates
SELECT * FROM pg_temp.show('[
	{"description": "a", "quantity": 2, "unit_price": 10.50},
	{"description": "b", "quantity": 1, "unit_price": 0.01, "tax_rate": 0}
]', 0);

-- 100 % discount: nothing to pay, nothing taxed; a free item (price 0)
SELECT * FROM pg_temp.show('[
	{"description": "gift", "quantity": 1, "unit_price": 250000, "discount_pct": 100},
	{"description": "free", "quantity": 5, "unit_price": 0, "discount_pct": 0}
]');

-- halves round away from zero at every step, just below half rounds down:
--   0.005 * 1.00 = 0.005 -> 0.01;  1.5 * 0.01 = 0.015 -> 0.02
--   0.004 * 1.00 = 0.004 -> 0.00;  0.001 * 4.99 = 0.00499 -> 0.00
--   base 0.01, discount 50 % = 0.005 -> 0.01 (net 0.00)
--   base 0.03, discount 50 % = 0.015 -> 0.02 (net 0.01)
--   net 0.10 at 5 % = 0.005 -> 0.01;  net 0.30 at 12.5 % = 0.0375 -> 0.04
--   net 0.20 at 12.5 % = 0.025 -> 0.03;  net 1.00 at 0.5 % = 0.005 -> 0.01
SELECT * FROM pg_temp.show('[
	{"description": "h1", "quantity": 0.005, "unit_price": 1.00, "tax_rate": 0},
	{"description": "h2", "quantity": 1.5, "unit_price": 0.01, "tax_rate": 0},
	{"description": "h3", "quantity": 0.004, "unit_price": 1.00, "tax_rate": 0},
	{"description": "h4", "quantity": 0.001, "unit_price": 4.99, "tax_rate": 0},
	{"description": "h5", "quantity": 1, "unit_price": 0.01, "discount_pct": 50, "tax_rate": 0},
	{"description": "h6", "quantity": 1, "unit_price": 0.03, "discount_pct": 50, "tax_rate": 0},
	{"description": "h7", "quantity": 1, "unit_price": 0.10, "tax_rate": 5},
	{"description": "h8", "quantity": 1, "unit_price": 0.30, "tax_rate": 12.5},
	{"description": "h9", "quantity": 1, "unit_price": 0.20, "tax_rate": 12.5},
	{"description": "h10", "quantity": 1, "unit_price": 1.00, "tax_rate": 0.5}
]');

-- mixed rates: "taxes" groups net and tax by effective rate, rate
-- ascending, whatever the order of the items; equal rates written
-- differently (19, 19.0, 1.9e1) are one group
SELECT * FROM pg_temp.show('[
	{"description": "a", "quantity": 1, "unit_price": 100, "tax_rate": 19},
	{"description": "b", "quantity": 1, "unit_price": 200, "tax_rate": 0},
	{"description": "c", "quantity": 1, "unit_price": 300},
	{"description": "d", "quantity": 1, "unit_price": 400, "tax_rate": 12.5},
	{"description": "e", "quantity": 1, "unit_price": 500, "tax_rate": 19.0},
	{"description": "f", "quantity": 1, "unit_price": 600, "tax_rate": 1.9e1},
	{"description": "g", "quantity": 1, "unit_price": 700, "tax_rate": 0.0001},
	{"description": "h", "quantity": 1, "unit_price": 800, "tax_rate": 100}
]', 5);

-- decimals count by value: 1.2500 is 1.25, 2.000000 is 2, 10.0000000 is 10
SELECT * FROM pg_temp.show('[{"description": "x", "quantity": 2.000000,
	"unit_price": 1.2500, "discount_pct": 10.0000000, "tax_rate": 19.00000}]');
-- exponents are numbers like any other
SELECT * FROM pg_temp.show('[{"description": "x", "quantity": 1.5E-1,
	"unit_price": 1e2, "tax_rate": 1.95e1}]');
-- the most decimals each field takes
SELECT * FROM pg_temp.show('[{"description": "x", "quantity": 1.234,
	"unit_price": 5.67, "discount_pct": 3.3333, "tax_rate": 16.6667}]');

-- the optional descriptive keys are accepted (and null for all of them)
SELECT * FROM pg_temp.show('[
	{"description": "  Cadena  ", "quantity": 1, "unit_price": 10, "material": "oro",
	 "karat": 18, "weight_grams": 12.345, "sku": "CAD-18-001"},
	{"description": "Aretes", "quantity": 1, "unit_price": 10, "material": null,
	 "karat": null, "weight_grams": null, "sku": null, "discount_pct": null},
	{"description": "Pulso", "quantity": 1, "unit_price": 10, "karat": 24.0}
]');

-- exact arithmetic: 10000000005000.01 * 99.9999 % is 9999990005000.00499999,
-- which rounds to ...000.00.  (Evaluated literally in SQL, "/ 100" rounds
-- the quotient to 6 decimals first and gives ...000.01; the engine does not.)
SELECT * FROM pg_temp.show('[{"description": "x", "quantity": 1,
	"unit_price": 10000000005000.01, "discount_pct": 99.9999, "tax_rate": 0}]');
SELECT round(10000000005000.01 * 99.9999 * 0.01, 2) AS exact,
	   round(10000000005000.01 * 99.9999 / 100, 2) AS sql_division;

-- the largest amounts: numeric(18,2) and numeric(18,3) at their limits
SELECT * FROM pg_temp.show('[{"description": "x", "quantity": 1,
	"unit_price": 9999999999999999.99, "tax_rate": 0}]');
SELECT * FROM pg_temp.show('[{"description": "x", "quantity": 999999999999999.999,
	"unit_price": 0.01, "tax_rate": 0}]');
SELECT * FROM pg_temp.show('[{"description": "x", "quantity": 1,
	"unit_price": 5000000000000000.00, "tax_rate": 99.9999}]');

-- up to 1000 items
SELECT jsonb_array_length(t->'lines') AS lines, t->>'total' AS total,
	   t->'lines'->999->>'line_no' AS last_line_no
FROM invoice.totals((SELECT jsonb_agg(jsonb_build_object('description', 'item ' || i,
		'quantity', 1, 'unit_price', i)) FROM generate_series(1, 1000) AS i)) AS t;

--
-- Bad input.  Each call goes through pg_temp.fails(), which shows the
-- SQLSTATE next to the message.
--

-- NULL arguments (22004)
SELECT * FROM pg_temp.fails(NULL);
SELECT * FROM pg_temp.fails('[]', NULL);

-- default_tax_rate: 0..100, at most 4 decimals (22023)
SELECT i, r, f.* FROM (VALUES (1, 100.0001), (2, -0.0001), (3, 19.00001), (4, 101),
	(5, 'NaN'), (6, 'Infinity'), (7, '-Infinity')) AS v(i, r),
	pg_temp.fails('[]', v.r::numeric) AS f ORDER BY i;
SELECT i, r, f.* FROM (VALUES (1, 0), (2, 100), (3, 19.1234), (4, 19.12340000)) AS v(i, r),
	pg_temp.fails('[]', v.r::numeric) AS f ORDER BY i;

-- the shape of the input (22023); the item is counted from 1
SELECT i, f.* FROM (VALUES
	(1, '{}'),
	(2, '{"description": "x", "quantity": 1, "unit_price": 1}'),
	(3, '"items"'),
	(4, '7'),
	(5, 'null'),
	(6, '[1]'),
	(7, '[{"description": "x", "quantity": 1, "unit_price": 1}, null]'),
	(8, '[{"description": "x", "quantity": 1, "unit_price": 1}, [], {}]'),
	(9, '[{"description": "a", "quantity": 1, "unit_price": 1},
		  {"description": "b", "quantity": 1, "unit_price": 1},
		  {"description": "c", "quantity": 1, "unit_price": 1},
		  "d"]')
) AS v(i, items), pg_temp.fails(v.items::jsonb) AS f ORDER BY i;

-- more than 1000 items (22023)
SELECT * FROM pg_temp.fails((SELECT jsonb_agg(jsonb_build_object('description', 'item ' || i,
		'quantity', 1, 'unit_price', 1)) FROM generate_series(1, 1001) AS i));

-- required keys, unknown keys (22023)
SELECT i, f.* FROM (VALUES
	(1, '[{"quantity": 1, "unit_price": 1}]'),
	(2, '[{"description": "", "quantity": 1, "unit_price": 1}]'),
	(3, '[{"description": " \t\n ", "quantity": 1, "unit_price": 1}]'),
	(4, '[{"description": "x", "unit_price": 1}]'),
	(5, '[{"description": "x", "quantity": 1}]'),
	(6, '[{}]'),
	(7, '[{"description": "x", "quantity": 1, "unit_price": 1},
		  {"description": "y", "quantity": 1, "unit_price": 1, "colour": "red"}]'),
	(8, '[{"description": "x", "Quantity": 1, "unit_price": 1}]'),
	(9, '[{"description": "x", "quantity": 1, "unit_price": 1, "tax": 19}]'),
	(10, '[{"description": "x", "quantity": 1, "unit_price": 1, "line_no": 1}]'),
	(11, '[{"description": "x", "quantity": 1, "unit_price": 1,
		   "a_key_much_longer_than_anything_an_item_would_ever_need_to_carry_at_all": 1}]')
) AS v(i, items), pg_temp.fails(v.items::jsonb) AS f ORDER BY i;

-- wrong JSON types, JSON null for a required key (22023)
SELECT i, f.* FROM (VALUES
	(1, '[{"description": "x", "quantity": "2", "unit_price": 1}]'),
	(2, '[{"description": "x", "quantity": 1, "unit_price": "1.00"}]'),
	(3, '[{"description": "x", "quantity": 1, "unit_price": 1, "tax_rate": "19"}]'),
	(4, '[{"description": "x", "quantity": 1, "unit_price": 1, "discount_pct": true}]'),
	(5, '[{"description": 5, "quantity": 1, "unit_price": 1}]'),
	(6, '[{"description": ["x"], "quantity": 1, "unit_price": 1}]'),
	(7, '[{"description": "x", "quantity": 1, "unit_price": 1, "material": 18}]'),
	(8, '[{"description": "x", "quantity": 1, "unit_price": 1, "karat": "18"}]'),
	(9, '[{"description": "x", "quantity": 1, "unit_price": 1, "weight_grams": "2.5"}]'),
	(10, '[{"description": "x", "quantity": 1, "unit_price": 1, "sku": {"code": 1}}]'),
	(11, '[{"description": null, "quantity": 1, "unit_price": 1}]'),
	(12, '[{"description": "x", "quantity": null, "unit_price": 1}]'),
	(13, '[{"description": "x", "quantity": 1, "unit_price": null}]'),
	(14, '[{"description": "x", "quantity": {"value": 1}, "unit_price": 1}]')
) AS v(i, items), pg_temp.fails(v.items::jsonb) AS f ORDER BY i;

-- signs and ranges (22023)
SELECT i, f.* FROM (VALUES
	(1, '[{"description": "x", "quantity": 1, "unit_price": 1},
		  {"description": "y", "quantity": 0, "unit_price": 1}]'),
	(2, '[{"description": "x", "quantity": -1, "unit_price": 1}]'),
	(3, '[{"description": "x", "quantity": -0.0001, "unit_price": 1}]'),
	(4, '[{"description": "x", "quantity": 1, "unit_price": -0.01}]'),
	(5, '[{"description": "x", "quantity": 1, "unit_price": -1e30}]'),
	(6, '[{"description": "x", "quantity": 1, "unit_price": 1, "tax_rate": 100.0001}]'),
	(7, '[{"description": "x", "quantity": 1, "unit_price": 1, "tax_rate": -1}]'),
	(8, '[{"description": "x", "quantity": 1, "unit_price": 1, "tax_rate": 1e30}]'),
	(9, '[{"description": "x", "quantity": 1, "unit_price": 1, "discount_pct": 101}]'),
	(10, '[{"description": "x", "quantity": 1, "unit_price": 1, "discount_pct": -5}]'),
	(11, '[{"description": "x", "quantity": 1, "unit_price": 1, "karat": 0}]'),
	(12, '[{"description": "x", "quantity": 1, "unit_price": 1, "karat": 25}]'),
	(13, '[{"description": "x", "quantity": 1, "unit_price": 1, "karat": 18.5}]'),
	(14, '[{"description": "x", "quantity": 1, "unit_price": 1, "weight_grams": 0}]')
) AS v(i, items), pg_temp.fails(v.items::jsonb) AS f ORDER BY i;

-- too many decimals, counted by value (22023): never rounded
SELECT i, f.* FROM (VALUES
	(1, '[{"description": "x", "quantity": 1.0001, "unit_price": 1}]'),
	(2, '[{"description": "x", "quantity": 1, "unit_price": 1.255}]'),
	(3, '[{"description": "x", "quantity": 1, "unit_price": 1.2550}]'),
	(4, '[{"description": "x", "quantity": 1, "unit_price": 0.001}]'),
	(5, '[{"description": "x", "quantity": 1, "unit_price": 1, "tax_rate": 19.00001}]'),
	(6, '[{"description": "x", "quantity": 1, "unit_price": 1, "discount_pct": 0.00001}]'),
	(7, '[{"description": "x", "quantity": 1, "unit_price": 1, "weight_grams": 1.0005}]'),
	(8, '[{"description": "x", "quantity": 1e-4, "unit_price": 1}]')
) AS v(i, items), pg_temp.fails(v.items::jsonb) AS f ORDER BY i;

-- beyond numeric(18,2) / numeric(18,3) (22003): inputs, line amounts, totals
SELECT i, f.* FROM (VALUES
	(1, '[{"description": "x", "quantity": 1000000000000000, "unit_price": 1}]'),
	(2, '[{"description": "x", "quantity": 1, "unit_price": 10000000000000000}]'),
	(3, '[{"description": "x", "quantity": 1, "unit_price": 1e30}]'),
	(4, '[{"description": "x", "quantity": 1, "unit_price": 1, "weight_grams": 1000000000}]'),
	(5, '[{"description": "x", "quantity": 999999999999999.999, "unit_price": 10000}]'),
	(6, '[{"description": "x", "quantity": 2, "unit_price": 5000000000000000.00, "tax_rate": 0}]'),
	(7, '[{"description": "x", "quantity": 1, "unit_price": 9999999999999999.99, "tax_rate": 0.0001}]'),
	(8, '[{"description": "x", "quantity": 1, "unit_price": 9999999999999999.99, "tax_rate": 0},
		  {"description": "y", "quantity": 1, "unit_price": 0.01, "tax_rate": 0}]'),
	(9, '[{"description": "x", "quantity": 1, "unit_price": 5000000000000000, "tax_rate": 0},
		  {"description": "y", "quantity": 1, "unit_price": 4000000000000000, "tax_rate": 0},
		  {"description": "z", "quantity": 1, "unit_price": 1000000000000000, "tax_rate": 0}]')
) AS v(i, items), pg_temp.fails(v.items::jsonb) AS f ORDER BY i;

-- the function is declared as README.md "Reference" says
SELECT p.oid::regprocedure AS function, p.provolatile, p.proisstrict, p.proparallel,
	   pg_get_function_arguments(p.oid) AS arguments,
	   pg_get_function_result(p.oid) AS result
FROM pg_proc p
WHERE p.oid = 'invoice.totals(jsonb, numeric)'::regprocedure;
