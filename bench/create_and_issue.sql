-- bench/create_and_issue.sql: the counter sale through the API, in one
-- transaction: enter a tenant, create_and_issue() the 5 jewelry items of
-- bench/create_issue.sql in one statement.  Variables from bench/run.sh:
-- org_lo, org_hi, user_off, cust_off (as in bench/create_issue.sql).
\set org random(:org_lo, :org_hi)
\set usr :org + :user_off
\set cust :org + :cust_off
BEGIN;
SELECT invoice.set_tenant(:org, :usr);
SELECT invoice.create_and_issue(:cust, '[
  {"description": "Anillo oro amarillo 18k", "quantity": 1, "unit_price": 1250000, "material": "oro", "karat": 18, "weight_grams": 3.5, "sku": "AN-18K-035"},
  {"description": "Cadena plata 925 50 cm", "quantity": 1, "unit_price": 189900, "material": "plata", "weight_grams": 12.8, "sku": "CA-925-050"},
  {"description": "Aretes topo oro 18k", "quantity": 2, "unit_price": 210000, "discount_pct": 5, "material": "oro", "karat": 18, "weight_grams": 2.4, "sku": "AR-18K-024"},
  {"description": "Dije plata 925 con circonia", "quantity": 1, "unit_price": 85000, "material": "plata", "weight_grams": 4.1, "sku": "DI-925-041"},
  {"description": "Pulsera oro rosa 14k", "quantity": 1, "unit_price": 980000, "discount_pct": 10, "material": "oro", "karat": 14, "weight_grams": 6.25, "sku": "PU-14K-062"}
]');
COMMIT;
