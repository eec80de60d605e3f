-- test/upgrade/fill.sql: data written through the API of the oldest
-- version (0.1), which every later version keeps: two tenants, users,
-- customers, drafts, issued, paid and void invoices, payments, and the
-- audit rows all of it leaves.  Run as a superuser.
SET client_min_messages = warning;
SELECT invoice.create_organization('upg-uno', 'Joyería Uno', '900123456-8',
	'{"prefix": "FV", "number_from": 100, "number_to": 100000, "resolution": "Resolución DIAN 18760000001",
	  "valid_from": "2026-01-01", "valid_to": "2099-12-31"}') AS o1 \gset
SELECT invoice.create_organization('upg-dos', 'Joyería "Dos" & Cía') AS o2 \gset

BEGIN;
SELECT invoice.set_tenant(:o1);
SELECT invoice.add_user('Ana Admin', 'admin') AS u1 \gset
SELECT invoice.set_tenant(:o1, :u1);
SELECT invoice.add_user('Carlos Vendedor', 'seller', 777001);
SELECT invoice.upsert_customer('CC', '1020304050', 'María Pérez', 'maria@example.com', '3001234567', 'Cra 7 # 12-34') AS c1 \gset
SELECT invoice.upsert_customer('NIT', '800197268-4', 'Empresa S.A.S.') AS c2 \gset
SELECT invoice.issue(invoice.create_invoice(:c1, '[{"description": "Anillo oro 18k", "quantity": 1, "unit_price": 1250000, "material": "oro", "karat": 18, "weight_grams": 3.5},
	{"description": "Cadena plata", "quantity": 3, "unit_price": 333.33, "discount_pct": 10}]', 'primera'));
SELECT invoice.issue(invoice.create_invoice(:c2, '[{"description": "Reloj", "quantity": 2, "unit_price": 99999.99, "tax_rate": 5}]')) AS n2 \gset
SELECT invoice.record_payment(invoice_id, total, 'transfer') FROM invoice.invoices WHERE number_text = :'n2';
SELECT invoice.issue(invoice.create_invoice(:c1, '[{"description": "Aretes", "quantity": 1, "unit_price": 45000}]')) AS n3 \gset
SELECT invoice.record_payment(invoice_id, 10000, 'nequi') FROM invoice.invoices WHERE number_text = :'n3';
SELECT invoice.void(invoice_id, 'error en el precio') FROM invoice.invoices WHERE number_text = :'n3';
SELECT invoice.create_invoice(:c1, '[{"description": "Borrador", "quantity": 1, "unit_price": 1}]') AS d1 \gset
SELECT invoice.add_item(:d1, '{"description": "Otro", "quantity": 2.5, "unit_price": 10}');
SELECT invoice.create_invoice(:c2) AS d2 \gset
SELECT invoice.delete_draft(:d2);
SELECT invoice.upsert_customer('CC', '1020304050', 'María Pérez de Gómez');
COMMIT;

BEGIN;
SELECT invoice.set_tenant(:o2);
SELECT invoice.upsert_customer('CE', '123456', 'Cliente Extranjero') AS c3 \gset
SELECT invoice.issue(invoice.create_invoice(:c3, '[{"description": "Dije", "quantity": 1, "unit_price": 85000}]'));
SELECT invoice.issue(invoice.create_invoice(:c3, '[{"description": "Pulsera", "quantity": 1, "unit_price": 120000.5}]'));
COMMIT;
SELECT invoice.update_organization(:o1, '{"resolution": "Resolución DIAN 18760000002"}');
