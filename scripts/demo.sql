/*
 * scripts/demo.sql: the demo tenant "Joyería Demo", loaded by scripts/run.
 *
 * Run it with psql as a superuser in a database that has the extension:
 *   psql -X -v ON_ERROR_STOP=1 -d invoice -f scripts/demo.sql
 * Every object is created only when it is missing, so a second run changes
 * nothing.  It creates:
 *   - login roles demo_admin and demo_seller (members of invoice_app, both
 *     granted the tenant; no password: the scripts/run cluster trusts local
 *     connections);
 *   - the tenant, with the series FV1..FV5000 authorized from the first of
 *     January of the year it is created, for two years, and its address,
 *     phone, e-mail and IVA regime;
 *   - its application users "Ana Dueña" (admin) and "Carlos Vendedor" (seller);
 *   - two customers (one CC, one NIT);
 *   - one issued invoice with three jewelry items, and one draft.
 * The superuser bypasses row level security, so the guards below can look
 * at the tables without a tenant context.
 */
\set ON_ERROR_STOP on
SET client_min_messages = warning;

-- login roles for people trying the demo
DO $$
DECLARE
	r text;
BEGIN
	FOREACH r IN ARRAY ARRAY['demo_admin', 'demo_seller']
	LOOP
		IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r) THEN
			EXECUTE format('CREATE ROLE %I LOGIN', r);
		END IF;
		IF NOT pg_catalog.pg_has_role(r, 'invoice_app', 'MEMBER') THEN
			EXECUTE format('GRANT invoice_app TO %I', r);
		END IF;
	END LOOP;
END
$$;

-- the tenant; the NIT's DIAN check digit: 901234567 -> 7
DO $$
DECLARE
	-- the resolution is in force from January 1st of this year, for two years
	valid_from date := date_trunc('year', current_date)::date;
	valid_to date := (date_trunc('year', current_date) + interval '2 years - 1 day')::date;
BEGIN
	IF NOT EXISTS (SELECT 1 FROM invoice.organizations WHERE slug = 'joyeria-demo') THEN
		PERFORM invoice.create_organization('joyeria-demo', 'Joyería Demo', '901234567-7',
			jsonb_build_object(
				'prefix', 'FV',
				'number_from', 1,
				'number_to', 5000,
				-- only the resolution itself: the documents print the
				-- authorized range and the validity from the settings
				'resolution', format('DIAN 18764000000001 del %s', to_char(valid_from, 'DD/MM/YYYY')),
				'valid_from', to_char(valid_from, 'YYYY-MM-DD'),
				'valid_to', to_char(valid_to, 'YYYY-MM-DD'),
				'address', 'Cra 43A # 1-50, local 120',
				'city', 'Medellín',
				'department', 'Antioquia',
				'phone', '604 444 1234',
				'email', 'ventas@joyeriademo.co',
				'tax_regime', 'responsable_iva'));
	END IF;
END
$$;

SELECT org_id AS demo_org FROM invoice.organizations WHERE slug = 'joyeria-demo' \gset

-- both login roles may enter the tenant
DO $$
DECLARE
	r text;
	org bigint := (SELECT org_id FROM invoice.organizations WHERE slug = 'joyeria-demo');
BEGIN
	FOREACH r IN ARRAY ARRAY['demo_admin', 'demo_seller']
	LOOP
		IF NOT EXISTS (SELECT 1 FROM invoice.tenant_grants g
						WHERE g.org_id = org AND g.role_oid = r::regrole::oid) THEN
			PERFORM invoice.grant_tenant(r::name, org);
		END IF;
	END LOOP;
END
$$;

-- the shop's admin user, added by the platform (superuser)
BEGIN;
SELECT invoice.set_tenant(:demo_org) \gset entered_
DO $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM invoice.users
					WHERE org_id = invoice.current_org() AND display_name = 'Ana Dueña') THEN
		PERFORM invoice.add_user('Ana Dueña', 'admin');
	END IF;
END
$$;
COMMIT;

SELECT user_id AS demo_admin_user FROM invoice.users
 WHERE org_id = :demo_org AND display_name = 'Ana Dueña' \gset

-- the admin adds the seller and the customers
BEGIN;
SELECT invoice.set_tenant(:demo_org, :demo_admin_user) \gset entered_
DO $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM invoice.users
					WHERE org_id = invoice.current_org() AND display_name = 'Carlos Vendedor') THEN
		PERFORM invoice.add_user('Carlos Vendedor', 'seller');
	END IF;
	IF NOT EXISTS (SELECT 1 FROM invoice.customers
					WHERE org_id = invoice.current_org() AND id_type = 'CC' AND id_number = '1020304050') THEN
		PERFORM invoice.upsert_customer('CC', '1020304050', 'María Pérez Gómez',
										'maria.perez@example.com', '+57 300 123 4567',
										'Calle 10 # 43-12, Medellín');
	END IF;
	-- 900765432 -> check digit 6
	IF NOT EXISTS (SELECT 1 FROM invoice.customers
					WHERE org_id = invoice.current_org() AND id_type = 'NIT' AND id_number = '900765432-6') THEN
		PERFORM invoice.upsert_customer('NIT', '900765432-6', 'Eventos La Candelaria S.A.S.',
										'compras@example.com', '+57 601 555 0101',
										'Carrera 7 # 12-45, Bogotá');
	END IF;
END
$$;
COMMIT;

SELECT user_id AS demo_seller_user FROM invoice.users
 WHERE org_id = :demo_org AND display_name = 'Carlos Vendedor' \gset

-- the seller's invoices: one issued, one draft (found again by their notes)
BEGIN;
SELECT invoice.set_tenant(:demo_org, :demo_seller_user) \gset entered_
DO $$
DECLARE
	org bigint := invoice.current_org();
	cc bigint := (SELECT customer_id FROM invoice.customers
				   WHERE org_id = org AND id_type = 'CC' AND id_number = '1020304050');
	nit bigint := (SELECT customer_id FROM invoice.customers
					WHERE org_id = org AND id_type = 'NIT' AND id_number = '900765432-6');
BEGIN
	IF NOT EXISTS (SELECT 1 FROM invoice.invoices
					WHERE org_id = org AND notes = 'Demo: venta de mostrador') THEN
		PERFORM invoice.issue(invoice.create_invoice(cc, $items$[
			{"description": "Anillo de compromiso oro amarillo 18k", "quantity": 1,
			 "unit_price": 1250000, "material": "oro", "karat": 18, "weight_grams": 3.5,
			 "sku": "AN-18K-035"},
			{"description": "Cadena plata 925 tejido cartier 50 cm", "quantity": 1,
			 "unit_price": 189900, "material": "plata", "weight_grams": 12.8,
			 "sku": "CA-925-050"},
			{"description": "Grabado láser en el anillo", "quantity": 1,
			 "unit_price": 35000, "discount_pct": 50}
		]$items$::jsonb, 'Demo: venta de mostrador'));
	END IF;
	IF NOT EXISTS (SELECT 1 FROM invoice.invoices
					WHERE org_id = org AND notes = 'Demo: cotización para evento') THEN
		PERFORM invoice.create_invoice(nit, $items$[
			{"description": "Aretes topo oro 18k", "quantity": 12,
			 "unit_price": 210000, "discount_pct": 5, "material": "oro", "karat": 18,
			 "weight_grams": 1.2, "sku": "AR-18K-012"}
		]$items$::jsonb, 'Demo: cotización para evento');
	END IF;
END
$$;
COMMIT;

RESET client_min_messages;
SELECT o.org_id, o.name,
	   (SELECT count(*) FROM invoice.users u WHERE u.org_id = o.org_id) AS users,
	   (SELECT count(*) FROM invoice.customers c WHERE c.org_id = o.org_id) AS customers,
	   (SELECT string_agg(coalesce(i.number_text, 'draft') || ' ' || i.total, ', ' ORDER BY i.invoice_id)
		  FROM invoice.invoices i WHERE i.org_id = o.org_id) AS invoices
  FROM invoice.organizations o
 WHERE o.slug = 'joyeria-demo';
