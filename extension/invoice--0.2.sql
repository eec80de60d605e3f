/* extension/invoice--0.2.sql */
\echo Use "CREATE EXTENSION invoice CASCADE" to load this file. \quit

/*
 * Roles are cluster-wide while extensions live in one database: create the
 * roles only when they are missing, so that the extension can be installed
 * in several databases of one cluster, and never drop them with the
 * extension (they are not members of it).
 */
DO $roles$
DECLARE
	r text;
BEGIN
	FOREACH r IN ARRAY ARRAY['invoice_app', 'invoice_service', 'invoice_admin', 'invoice_bridge']
	LOOP
		IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) r) THEN
			EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', r);
		END IF;
	END LOOP;
END
$roles$;

/* ------------------------------------------------------------------------
 * Tenancy
 * ------------------------------------------------------------------------ */

CREATE SEQUENCE invoice.org_id_seq;

CREATE TABLE invoice.organizations (
	org_id				bigint NOT NULL DEFAULT pg_catalog.nextval('invoice.org_id_seq'),
	slug				text NOT NULL,
	name				text NOT NULL,
	tax_id				text,
	currency			text NOT NULL DEFAULT 'COP',
	default_tax_rate	numeric(7,4) NOT NULL DEFAULT 19,
	prefix				text NOT NULL DEFAULT '',
	number_from			bigint NOT NULL DEFAULT 1,
	number_to			bigint,
	resolution			text,
	valid_from			date,
	valid_to			date,
	timezone			text NOT NULL DEFAULT 'America/Bogota',
	rounding			text NOT NULL DEFAULT 'line',
	is_active			boolean NOT NULL DEFAULT true,
	created_at			timestamptz NOT NULL DEFAULT pg_catalog.now(),
	address				text,
	city				text,
	department			text,
	phone				text,
	email				text,
	tax_regime			text,
	-- Operations (issue 15): due dates and audit retention, last
	-- (invoice--0.1--0.2.sql adds them after the shop's identity)
	payment_terms_days	integer,
	audit_retention_days integer,
	CONSTRAINT organizations_pkey PRIMARY KEY (org_id),
	CONSTRAINT organizations_slug_key UNIQUE (slug),
	CONSTRAINT organizations_slug_check CHECK (slug OPERATOR(pg_catalog.~) '^[a-z0-9][a-z0-9-]{1,62}$'),
	CONSTRAINT organizations_name_check CHECK (pg_catalog.btrim(name) OPERATOR(pg_catalog.<>) ''),
	CONSTRAINT organizations_currency_check CHECK (currency OPERATOR(pg_catalog.~) '^[A-Z]{3}$'),
	CONSTRAINT organizations_tax_rate_check CHECK (default_tax_rate OPERATOR(pg_catalog.>=) 0 AND default_tax_rate OPERATOR(pg_catalog.<=) 100),
	CONSTRAINT organizations_prefix_check CHECK (prefix OPERATOR(pg_catalog.~) '^[A-Za-z0-9-]{0,10}$'),
	CONSTRAINT organizations_range_check CHECK (number_from OPERATOR(pg_catalog.>) 0 AND (number_to IS NULL OR number_to OPERATOR(pg_catalog.>=) number_from)),
	CONSTRAINT organizations_validity_check CHECK (valid_to IS NULL OR valid_from IS NULL OR valid_to OPERATOR(pg_catalog.>=) valid_from),
	CONSTRAINT organizations_rounding_check CHECK (rounding OPERATOR(pg_catalog.=) 'line'),
	CONSTRAINT organizations_tax_regime_check CHECK (tax_regime OPERATOR(pg_catalog.=) ANY (ARRAY['responsable_iva', 'no_responsable_iva'])),
	CONSTRAINT organizations_payment_terms_check CHECK (payment_terms_days OPERATOR(pg_catalog.>=) 0),
	CONSTRAINT organizations_audit_retention_check CHECK (audit_retention_days OPERATOR(pg_catalog.>) 0)
);
COMMENT ON TABLE invoice.organizations IS 'tenants: one row per shop, with its invoicing settings';

-- the numbering lock of each tenant: issue() locks its row (FOR UPDATE,
-- never updating it, so a busy tenant leaves no dead row versions) and
-- reads the last number from invoices_number_key; the row is apart from
-- the organization row, which foreign key checks lock FOR KEY SHARE
CREATE TABLE invoice.invoice_counters (
	org_id				bigint NOT NULL,
	CONSTRAINT invoice_counters_pkey PRIMARY KEY (org_id),
	CONSTRAINT invoice_counters_org_fkey FOREIGN KEY (org_id) REFERENCES invoice.organizations (org_id)
);
COMMENT ON TABLE invoice.invoice_counters IS 'one row per tenant, locked by issue() and by numbering changes until commit';

CREATE TABLE invoice.tenant_grants (
	org_id				bigint NOT NULL,
	role_oid			oid NOT NULL,
	role_name			name NOT NULL,
	granted_at			timestamptz NOT NULL DEFAULT pg_catalog.now(),
	CONSTRAINT tenant_grants_pkey PRIMARY KEY (org_id, role_oid),
	CONSTRAINT tenant_grants_org_fkey FOREIGN KEY (org_id) REFERENCES invoice.organizations (org_id)
);
COMMENT ON TABLE invoice.tenant_grants IS 'which database roles may enter which tenant (see grant_tenant); a grant counts only while role_oid still has role_name, so a dropped role''s OID reused by a new role grants nothing';

CREATE SEQUENCE invoice.user_id_seq;

CREATE TABLE invoice.users (
	org_id				bigint NOT NULL,
	user_id				bigint NOT NULL DEFAULT pg_catalog.nextval('invoice.user_id_seq'),
	display_name		text NOT NULL,
	role				text NOT NULL DEFAULT 'seller',
	telegram_user_id	bigint,
	is_active			boolean NOT NULL DEFAULT true,
	created_at			timestamptz NOT NULL DEFAULT pg_catalog.now(),
	CONSTRAINT users_pkey PRIMARY KEY (org_id, user_id),
	CONSTRAINT users_telegram_key UNIQUE (org_id, telegram_user_id),
	CONSTRAINT users_org_fkey FOREIGN KEY (org_id) REFERENCES invoice.organizations (org_id),
	CONSTRAINT users_role_check CHECK (role OPERATOR(pg_catalog.=) ANY (ARRAY['admin', 'seller'])),
	CONSTRAINT users_name_check CHECK (pg_catalog.btrim(display_name) OPERATOR(pg_catalog.<>) '')
);
COMMENT ON TABLE invoice.users IS 'application users of a tenant (shop staff)';

/* ------------------------------------------------------------------------
 * Customers
 * ------------------------------------------------------------------------ */

CREATE SEQUENCE invoice.customer_id_seq;

CREATE TABLE invoice.customers (
	org_id				bigint NOT NULL,
	customer_id			bigint NOT NULL DEFAULT pg_catalog.nextval('invoice.customer_id_seq'),
	id_type				text NOT NULL,
	id_number			text NOT NULL,
	name				text NOT NULL,
	email				text,
	phone				text,
	address				text,
	created_at			timestamptz NOT NULL DEFAULT pg_catalog.now(),
	updated_at			timestamptz NOT NULL DEFAULT pg_catalog.now(),
	CONSTRAINT customers_pkey PRIMARY KEY (org_id, customer_id),
	CONSTRAINT customers_ident_key UNIQUE (org_id, id_type, id_number),
	CONSTRAINT customers_org_fkey FOREIGN KEY (org_id) REFERENCES invoice.organizations (org_id),
	CONSTRAINT customers_id_type_check CHECK (id_type OPERATOR(pg_catalog.=) ANY (ARRAY['CC', 'CE', 'NIT', 'PP', 'TI', 'NUIP', 'FOREIGN']))
);
COMMENT ON TABLE invoice.customers IS 'customers of a tenant, unique per (id_type, id_number)';

/* ------------------------------------------------------------------------
 * Invoices
 * ------------------------------------------------------------------------ */

CREATE SEQUENCE invoice.invoice_id_seq;

CREATE TABLE invoice.invoices (
	org_id				bigint NOT NULL,
	invoice_id			bigint NOT NULL DEFAULT pg_catalog.nextval('invoice.invoice_id_seq'),
	number				bigint,
	number_text			text,
	status				text NOT NULL DEFAULT 'draft',
	customer_id			bigint NOT NULL,
	created_by			bigint,
	created_at			timestamptz NOT NULL DEFAULT pg_catalog.now(),
	issued_at			timestamptz,
	paid_at				timestamptz,
	voided_at			timestamptz,
	void_reason			text,
	notes				text,
	currency			text NOT NULL,
	subtotal			numeric(18,2) NOT NULL DEFAULT 0,
	discount_total		numeric(18,2) NOT NULL DEFAULT 0,
	tax_total			numeric(18,2) NOT NULL DEFAULT 0,
	total				numeric(18,2) NOT NULL DEFAULT 0,
	amount_paid			numeric(18,2) NOT NULL DEFAULT 0,
	item_count			integer NOT NULL DEFAULT 0,
	next_line_no		integer NOT NULL DEFAULT 1,
	is_deleted			boolean NOT NULL DEFAULT false,
	seller_snapshot		jsonb,
	customer_snapshot	jsonb,
	due_date			date,
	-- Operations (issue 15): these three stay last, after the columns that
	-- "Issued invoices keep the seller and customer" adds (seller_snapshot,
	-- customer_snapshot, due_date), as in invoice--0.1--0.2.sql
	branch_id			bigint,
	sale_location		geography(Point, 4326),
	overdue				boolean NOT NULL DEFAULT false,
	CONSTRAINT invoices_pkey PRIMARY KEY (org_id, invoice_id),
	CONSTRAINT invoices_org_fkey FOREIGN KEY (org_id) REFERENCES invoice.organizations (org_id),
	CONSTRAINT invoices_customer_fkey FOREIGN KEY (org_id, customer_id) REFERENCES invoice.customers (org_id, customer_id),
	CONSTRAINT invoices_created_by_fkey FOREIGN KEY (org_id, created_by) REFERENCES invoice.users (org_id, user_id),
	CONSTRAINT invoices_status_check CHECK (status OPERATOR(pg_catalog.=) ANY (ARRAY['draft', 'issued', 'paid', 'void'])),
	CONSTRAINT invoices_number_check CHECK ((number IS NULL) OPERATOR(pg_catalog.=) (status OPERATOR(pg_catalog.=) 'draft')),
	CONSTRAINT invoices_deleted_check CHECK (NOT is_deleted OR status OPERATOR(pg_catalog.=) 'draft'),
	CONSTRAINT invoices_paid_check CHECK (amount_paid OPERATOR(pg_catalog.>=) 0 AND amount_paid OPERATOR(pg_catalog.<=) total),
	CONSTRAINT invoices_void_check CHECK ((status OPERATOR(pg_catalog.=) 'void') OPERATOR(pg_catalog.=) (void_reason IS NOT NULL)),
	CONSTRAINT invoices_snapshot_check CHECK ((status OPERATOR(pg_catalog.=) 'draft') OPERATOR(pg_catalog.=) (seller_snapshot IS NULL) AND (status OPERATOR(pg_catalog.=) 'draft') OPERATOR(pg_catalog.=) (customer_snapshot IS NULL))
);
COMMENT ON TABLE invoice.invoices IS 'invoice headers; totals are kept by the API, never written directly';

-- one number per tenant; drafts (no number yet) stay out of the index, so
-- creating a draft writes one index entry fewer.  It also serves the reads
-- by number and issue()'s "last number issued".
CREATE UNIQUE INDEX invoices_number_key ON invoice.invoices (org_id, number) WHERE number IS NOT NULL;

-- everyday reads through RLS: newest first, by status, by customer (the
-- policy supplies org_id as the leading key)
CREATE INDEX invoices_recent_idx ON invoice.invoices (org_id, created_at DESC, invoice_id DESC) WHERE NOT is_deleted;
CREATE INDEX invoices_status_idx ON invoice.invoices (org_id, status, created_at DESC) WHERE NOT is_deleted;
CREATE INDEX invoices_customer_idx ON invoice.invoices (org_id, customer_id, created_at DESC) WHERE NOT is_deleted;

CREATE TABLE invoice.invoice_items (
	org_id				bigint NOT NULL,
	invoice_id			bigint NOT NULL,
	line_no				integer NOT NULL,
	description			text NOT NULL,
	quantity			numeric(18,3) NOT NULL,
	unit_price			numeric(18,2) NOT NULL,
	tax_rate			numeric(7,4) NOT NULL,
	discount_pct		numeric(7,4) NOT NULL DEFAULT 0,
	base				numeric(18,2) NOT NULL,
	discount			numeric(18,2) NOT NULL,
	net					numeric(18,2) NOT NULL,
	tax					numeric(18,2) NOT NULL,
	line_total			numeric(18,2) NOT NULL,
	material			text,
	karat				smallint,
	weight_grams		numeric(12,3),
	sku					text,
	CONSTRAINT invoice_items_pkey PRIMARY KEY (org_id, invoice_id, line_no),
	CONSTRAINT invoice_items_invoice_fkey FOREIGN KEY (org_id, invoice_id) REFERENCES invoice.invoices (org_id, invoice_id),
	CONSTRAINT invoice_items_quantity_check CHECK (quantity OPERATOR(pg_catalog.>) 0),
	CONSTRAINT invoice_items_price_check CHECK (unit_price OPERATOR(pg_catalog.>=) 0),
	CONSTRAINT invoice_items_rates_check CHECK (tax_rate OPERATOR(pg_catalog.>=) 0 AND tax_rate OPERATOR(pg_catalog.<=) 100
		AND discount_pct OPERATOR(pg_catalog.>=) 0 AND discount_pct OPERATOR(pg_catalog.<=) 100),
	CONSTRAINT invoice_items_karat_check CHECK (karat OPERATOR(pg_catalog.>=) 1 AND karat OPERATOR(pg_catalog.<=) 24)
);
COMMENT ON TABLE invoice.invoice_items IS 'invoice lines with their rounded amounts';

-- the accepted payment methods: one list, in C (src/payment_methods.c),
-- read by payments_method_check, record_payment() and the documents
CREATE FUNCTION invoice.payment_methods()
RETURNS text[]
AS 'MODULE_PATHNAME', 'invoice_payment_methods'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION invoice.payment_methods() IS 'the accepted payment methods, as payments.method stores them';

CREATE FUNCTION invoice.payment_method_labels()
RETURNS text[]
AS 'MODULE_PATHNAME', 'invoice_payment_method_labels'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION invoice.payment_method_labels() IS 'the printed label of each payment method, in the order of payment_methods()';

CREATE SEQUENCE invoice.payment_id_seq;

CREATE TABLE invoice.payments (
	org_id				bigint NOT NULL,
	payment_id			bigint NOT NULL DEFAULT pg_catalog.nextval('invoice.payment_id_seq'),
	invoice_id			bigint NOT NULL,
	amount				numeric(18,2) NOT NULL,
	method				text NOT NULL,
	paid_at				timestamptz NOT NULL DEFAULT pg_catalog.now(),
	created_by			bigint,
	CONSTRAINT payments_pkey PRIMARY KEY (org_id, payment_id),
	CONSTRAINT payments_invoice_fkey FOREIGN KEY (org_id, invoice_id) REFERENCES invoice.invoices (org_id, invoice_id),
	CONSTRAINT payments_created_by_fkey FOREIGN KEY (org_id, created_by) REFERENCES invoice.users (org_id, user_id),
	CONSTRAINT payments_amount_check CHECK (amount OPERATOR(pg_catalog.>) 0),
	CONSTRAINT payments_method_check CHECK (method OPERATOR(pg_catalog.=) ANY (invoice.payment_methods()))
);
CREATE INDEX payments_invoice_idx ON invoice.payments (org_id, invoice_id);
COMMENT ON TABLE invoice.payments IS 'payments received against issued invoices';

/* ------------------------------------------------------------------------
 * The C library
 * ------------------------------------------------------------------------ */

-- tenant context
CREATE FUNCTION invoice.set_tenant(org_id bigint, user_id bigint DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'invoice_set_tenant'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION invoice.set_tenant(bigint, bigint) IS 'enters a tenant (and optionally acts as one of its users) until the end of the transaction';

CREATE FUNCTION invoice.current_org()
RETURNS bigint
AS 'MODULE_PATHNAME', 'invoice_current_org'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION invoice.current_org() IS 'the tenant entered with set_tenant in this transaction, or NULL';

CREATE FUNCTION invoice.current_user_id()
RETURNS bigint
AS 'MODULE_PATHNAME', 'invoice_current_user_id'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION invoice.current_user_id() IS 'the application user given to set_tenant in this transaction, or NULL';

-- tenants, grants, users
CREATE FUNCTION invoice.create_organization(slug text, name text, tax_id text DEFAULT NULL, settings jsonb DEFAULT '{}')
RETURNS bigint
AS 'MODULE_PATHNAME', 'invoice_create_organization'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION invoice.create_organization(text, text, text, jsonb) IS 'creates a tenant with its invoicing settings (invoice_admin)';

CREATE FUNCTION invoice.update_organization(org_id bigint, settings jsonb)
RETURNS void
AS 'MODULE_PATHNAME', 'invoice_update_organization'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION invoice.update_organization(bigint, jsonb) IS 'changes the settings of a tenant (invoice_admin or the tenant''s admin user)';

CREATE FUNCTION invoice.grant_tenant(role_name name, org_id bigint)
RETURNS void
AS 'MODULE_PATHNAME', 'invoice_grant_tenant'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION invoice.grant_tenant(name, bigint) IS 'lets a database role (and its members) enter a tenant (invoice_admin)';

CREATE FUNCTION invoice.revoke_tenant(role_name name, org_id bigint)
RETURNS void
AS 'MODULE_PATHNAME', 'invoice_revoke_tenant'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION invoice.revoke_tenant(name, bigint) IS 'takes back grant_tenant (invoice_admin)';

CREATE FUNCTION invoice.add_user(display_name text, role text DEFAULT 'seller', telegram_user_id bigint DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'invoice_add_user'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION invoice.add_user(text, text, bigint) IS 'adds an application user to the current tenant (tenant admin or invoice_admin)';

-- customers
CREATE FUNCTION invoice.upsert_customer(id_type text, id_number text, name text, email text DEFAULT NULL, phone text DEFAULT NULL, address text DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'invoice_upsert_customer'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION invoice.upsert_customer(text, text, text, text, text, text) IS 'creates or updates a customer of the current tenant by (id_type, id_number)';

-- invoices
CREATE FUNCTION invoice.create_invoice(customer_id bigint, items jsonb DEFAULT '[]', notes text DEFAULT NULL, branch_id bigint DEFAULT NULL, due_date date DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'invoice_create_invoice'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION invoice.create_invoice(bigint, jsonb, text, bigint, date) IS 'creates a draft invoice with its items and totals, optionally at one of the tenant''s branches and with a due date';

CREATE FUNCTION invoice.add_item(invoice_id bigint, item jsonb)
RETURNS integer
AS 'MODULE_PATHNAME', 'invoice_add_item'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION invoice.add_item(bigint, jsonb) IS 'appends an item to a draft; returns its line number';

CREATE FUNCTION invoice.update_item(invoice_id bigint, line_no integer, item jsonb)
RETURNS void
AS 'MODULE_PATHNAME', 'invoice_update_item'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION invoice.update_item(bigint, integer, jsonb) IS 'replaces the given fields of a draft''s item';

CREATE FUNCTION invoice.remove_item(invoice_id bigint, line_no integer)
RETURNS void
AS 'MODULE_PATHNAME', 'invoice_remove_item'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION invoice.remove_item(bigint, integer) IS 'removes an item from a draft (line numbers of the others do not change)';

CREATE FUNCTION invoice.set_customer(invoice_id bigint, customer_id bigint)
RETURNS void
AS 'MODULE_PATHNAME', 'invoice_set_customer'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION invoice.set_customer(bigint, bigint) IS 'changes the customer of a draft';

CREATE FUNCTION invoice.issue(invoice_id bigint)
RETURNS text
AS 'MODULE_PATHNAME', 'invoice_issue'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION invoice.issue(bigint) IS 'gives a draft the next gapless number of the tenant''s series and makes it immutable';

CREATE FUNCTION invoice.create_and_issue(customer_id bigint, items jsonb, notes text DEFAULT NULL, paid_with text DEFAULT NULL)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'invoice_create_and_issue'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION invoice.create_and_issue(bigint, jsonb, text, text) IS 'the counter sale: creates an invoice already issued (and paid in full when paid_with names a method) in one statement';

CREATE FUNCTION invoice.void(invoice_id bigint, reason text)
RETURNS void
AS 'MODULE_PATHNAME', 'invoice_void'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION invoice.void(bigint, text) IS 'voids an issued or paid invoice; it keeps its number';

CREATE FUNCTION invoice.record_payment(invoice_id bigint, amount numeric, method text DEFAULT 'cash')
RETURNS bigint
AS 'MODULE_PATHNAME', 'invoice_record_payment'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION invoice.record_payment(bigint, numeric, text) IS 'records a payment on an issued invoice; marks it paid when fully paid';

CREATE FUNCTION invoice.delete_draft(invoice_id bigint)
RETURNS void
AS 'MODULE_PATHNAME', 'invoice_delete_draft'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION invoice.delete_draft(bigint) IS 'soft-deletes a draft';

-- exports
CREATE FUNCTION invoice.to_json(invoice_id bigint)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'invoice_to_json'
LANGUAGE C STABLE PARALLEL UNSAFE;
COMMENT ON FUNCTION invoice.to_json(bigint) IS 'one invoice of the current tenant as a jsonb document: invoice, seller, customer, items, totals, taxes and payments';

CREATE FUNCTION invoice.render_html(invoice_id bigint)
RETURNS text
AS 'MODULE_PATHNAME', 'invoice_render_html'
LANGUAGE C STABLE PARALLEL UNSAFE;
COMMENT ON FUNCTION invoice.render_html(bigint) IS 'one invoice of the current tenant as a self-contained HTML5 page (Spanish, Colombian formats, all user text escaped)';

CREATE FUNCTION invoice.render_pdf(invoice_id bigint)
RETURNS bytea
AS 'MODULE_PATHNAME', 'invoice_render_pdf'
LANGUAGE C STABLE PARALLEL UNSAFE;
COMMENT ON FUNCTION invoice.render_pdf(bigint) IS 'one invoice of the current tenant as an A4 PDF (Helvetica, WinAnsiEncoding; characters outside it print as ?)';

CREATE FUNCTION invoice.totals(items jsonb, default_tax_rate numeric DEFAULT 19)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'invoice_totals'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION invoice.totals(jsonb, numeric) IS 'computes the totals of a list of items (pure; no tenant needed)';

-- guards (triggers)
CREATE FUNCTION invoice.guard_invoice()
RETURNS trigger
AS 'MODULE_PATHNAME', 'invoice_guard_invoice'
LANGUAGE C;
COMMENT ON FUNCTION invoice.guard_invoice() IS 'trigger: issued invoices change only by the lifecycle transitions';

CREATE FUNCTION invoice.guard_invoice_item()
RETURNS trigger
AS 'MODULE_PATHNAME', 'invoice_guard_invoice_item'
LANGUAGE C;
COMMENT ON FUNCTION invoice.guard_invoice_item() IS 'trigger: items of issued invoices never change';

CREATE FUNCTION invoice.guard_payment()
RETURNS trigger
AS 'MODULE_PATHNAME', 'invoice_guard_payment'
LANGUAGE C;
COMMENT ON FUNCTION invoice.guard_payment() IS 'trigger: recorded payments never change';

CREATE FUNCTION invoice.invalidate_cache()
RETURNS trigger
AS 'MODULE_PATHNAME', 'invoice_invalidate_cache'
LANGUAGE C;
COMMENT ON FUNCTION invoice.invalidate_cache() IS 'trigger: tells every backend to drop its cached tenant settings and grants';

CREATE TRIGGER invoices_guard BEFORE UPDATE OR DELETE ON invoice.invoices
	FOR EACH ROW EXECUTE FUNCTION invoice.guard_invoice();
CREATE TRIGGER invoice_items_guard BEFORE INSERT OR UPDATE OR DELETE ON invoice.invoice_items
	FOR EACH ROW EXECUTE FUNCTION invoice.guard_invoice_item();
CREATE TRIGGER invoices_no_truncate BEFORE TRUNCATE ON invoice.invoices
	FOR EACH STATEMENT EXECUTE FUNCTION invoice.guard_invoice();
CREATE TRIGGER invoice_items_no_truncate BEFORE TRUNCATE ON invoice.invoice_items
	FOR EACH STATEMENT EXECUTE FUNCTION invoice.guard_invoice_item();

CREATE TRIGGER payments_guard BEFORE UPDATE OR DELETE ON invoice.payments
	FOR EACH ROW EXECUTE FUNCTION invoice.guard_payment();
CREATE TRIGGER payments_no_truncate BEFORE TRUNCATE ON invoice.payments
	FOR EACH STATEMENT EXECUTE FUNCTION invoice.guard_payment();

CREATE TRIGGER organizations_invalidate AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON invoice.organizations
	FOR EACH STATEMENT EXECUTE FUNCTION invoice.invalidate_cache();
CREATE TRIGGER tenant_grants_invalidate AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON invoice.tenant_grants
	FOR EACH STATEMENT EXECUTE FUNCTION invoice.invalidate_cache();
CREATE TRIGGER users_invalidate AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON invoice.users
	FOR EACH STATEMENT EXECUTE FUNCTION invoice.invalidate_cache();

/* ------------------------------------------------------------------------
 * Row level security: enabled and forced on every tenant table
 * ------------------------------------------------------------------------ */

ALTER TABLE invoice.organizations ENABLE ROW LEVEL SECURITY;
ALTER TABLE invoice.organizations FORCE ROW LEVEL SECURITY;
ALTER TABLE invoice.invoice_counters ENABLE ROW LEVEL SECURITY;
ALTER TABLE invoice.invoice_counters FORCE ROW LEVEL SECURITY;
ALTER TABLE invoice.tenant_grants ENABLE ROW LEVEL SECURITY;
ALTER TABLE invoice.tenant_grants FORCE ROW LEVEL SECURITY;
ALTER TABLE invoice.users ENABLE ROW LEVEL SECURITY;
ALTER TABLE invoice.users FORCE ROW LEVEL SECURITY;
ALTER TABLE invoice.customers ENABLE ROW LEVEL SECURITY;
ALTER TABLE invoice.customers FORCE ROW LEVEL SECURITY;
ALTER TABLE invoice.invoices ENABLE ROW LEVEL SECURITY;
ALTER TABLE invoice.invoices FORCE ROW LEVEL SECURITY;
ALTER TABLE invoice.invoice_items ENABLE ROW LEVEL SECURITY;
ALTER TABLE invoice.invoice_items FORCE ROW LEVEL SECURITY;
ALTER TABLE invoice.payments ENABLE ROW LEVEL SECURITY;
ALTER TABLE invoice.payments FORCE ROW LEVEL SECURITY;

CREATE POLICY tenant_isolation ON invoice.organizations
	USING (org_id OPERATOR(pg_catalog.=) (SELECT invoice.current_org()))
	WITH CHECK (org_id OPERATOR(pg_catalog.=) (SELECT invoice.current_org()));
CREATE POLICY tenant_isolation ON invoice.invoice_counters
	USING (org_id OPERATOR(pg_catalog.=) (SELECT invoice.current_org()))
	WITH CHECK (org_id OPERATOR(pg_catalog.=) (SELECT invoice.current_org()));
CREATE POLICY tenant_isolation ON invoice.tenant_grants
	USING (org_id OPERATOR(pg_catalog.=) (SELECT invoice.current_org()))
	WITH CHECK (org_id OPERATOR(pg_catalog.=) (SELECT invoice.current_org()));
CREATE POLICY tenant_isolation ON invoice.users
	USING (org_id OPERATOR(pg_catalog.=) (SELECT invoice.current_org()))
	WITH CHECK (org_id OPERATOR(pg_catalog.=) (SELECT invoice.current_org()));
CREATE POLICY tenant_isolation ON invoice.customers
	USING (org_id OPERATOR(pg_catalog.=) (SELECT invoice.current_org()))
	WITH CHECK (org_id OPERATOR(pg_catalog.=) (SELECT invoice.current_org()));
CREATE POLICY tenant_isolation ON invoice.invoices
	USING (org_id OPERATOR(pg_catalog.=) (SELECT invoice.current_org()))
	WITH CHECK (org_id OPERATOR(pg_catalog.=) (SELECT invoice.current_org()));
CREATE POLICY tenant_isolation ON invoice.invoice_items
	USING (org_id OPERATOR(pg_catalog.=) (SELECT invoice.current_org()))
	WITH CHECK (org_id OPERATOR(pg_catalog.=) (SELECT invoice.current_org()));
CREATE POLICY tenant_isolation ON invoice.payments
	USING (org_id OPERATOR(pg_catalog.=) (SELECT invoice.current_org()))
	WITH CHECK (org_id OPERATOR(pg_catalog.=) (SELECT invoice.current_org()));

-- platform admins list every tenant and its grants (read only)
CREATE POLICY admin_read ON invoice.organizations FOR SELECT TO invoice_admin USING (true);
CREATE POLICY admin_read ON invoice.tenant_grants FOR SELECT TO invoice_admin USING (true);

/* ------------------------------------------------------------------------
 * pg_dump keeps the data of every table and the state of every sequence
 * ------------------------------------------------------------------------ */

SELECT pg_catalog.pg_extension_config_dump('invoice.organizations', '');
SELECT pg_catalog.pg_extension_config_dump('invoice.invoice_counters', '');
SELECT pg_catalog.pg_extension_config_dump('invoice.tenant_grants', '');
SELECT pg_catalog.pg_extension_config_dump('invoice.users', '');
SELECT pg_catalog.pg_extension_config_dump('invoice.customers', '');
SELECT pg_catalog.pg_extension_config_dump('invoice.invoices', '');
SELECT pg_catalog.pg_extension_config_dump('invoice.invoice_items', '');
SELECT pg_catalog.pg_extension_config_dump('invoice.payments', '');
SELECT pg_catalog.pg_extension_config_dump('invoice.org_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('invoice.user_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('invoice.customer_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('invoice.invoice_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('invoice.payment_id_seq', '');

/* ------------------------------------------------------------------------
 * Audit (src/audit*.c): every change on a tenant table, chained per tenant
 * ------------------------------------------------------------------------ */

-- CACHE 1 (the default), so that ids taken under a tenant's chain lock
-- follow the chain's order
CREATE SEQUENCE invoice.audit_id_seq CACHE 1;

CREATE TABLE invoice.audit_log (
	org_id				bigint NOT NULL,
	audit_id			bigint NOT NULL,
	occurred_at			timestamptz NOT NULL,
	txid				bigint NOT NULL,
	db_role				text NOT NULL,
	db_current_role		text,
	app_user_id			bigint,
	table_name			text NOT NULL,
	operation			text NOT NULL,
	row_key				jsonb NOT NULL,
	old_row				jsonb,
	new_row				jsonb,
	changed				jsonb,
	prev_hash			bytea NOT NULL,
	row_hash			bytea NOT NULL,
	CONSTRAINT audit_log_pkey PRIMARY KEY (org_id, audit_id, occurred_at),
	CONSTRAINT audit_log_operation_check CHECK (operation OPERATOR(pg_catalog.=) ANY (ARRAY['INSERT', 'UPDATE', 'DELETE']))
) PARTITION BY RANGE (occurred_at);
COMMENT ON TABLE invoice.audit_log IS 'every INSERT, UPDATE and DELETE on the tenant tables, hash-chained per tenant; append-only';

-- where a row's records sit in the row index: the largest integer of its
-- key other than org_id (new rows get growing ids, so their records are
-- appended, not scattered), or a hash of the key when it has no integer
CREATE FUNCTION invoice.audit_row_ord(row_key jsonb)
RETURNS bigint
AS 'MODULE_PATHNAME', 'invoice_audit_row_ord'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION invoice.audit_row_ord(jsonb) IS 'the position of a row key in the audit log''s row index: its largest integer member other than org_id, else a hash of its members';

-- "the history of this row": a row is found by (org_id,
-- audit_row_ord(row_key)), then rechecked on row_key and table_name.
-- Records of new rows land at the right end of their tenant's part of the
-- index, in pages already in memory and already logged since the last
-- checkpoint (a hash index put every record on a random page: a page read
-- and a full-page image in the WAL for most of them).  "What did this user
-- do between t1 and t2" has no index of its own (0.1 had one: 0.6 kB of
-- WAL per invoice, every audit row paying for an occasional question): it
-- reads the tenant's rows of the months the range reaches, through the
-- primary key or the row index (bench/README.md, issue 16).
CREATE INDEX audit_log_row_idx ON invoice.audit_log (org_id, invoice.audit_row_ord(row_key));

-- the head of each tenant's chain, kept apart from the log so that rows
-- removed from (or added to) the end of the log are noticed, and the
-- anchor the chain starts from after a purge
CREATE TABLE invoice.audit_heads (
	org_id				bigint NOT NULL,
	last_audit_id		bigint,
	head_hash			bytea NOT NULL DEFAULT pg_catalog.decode(pg_catalog.repeat('00', 32), 'hex'),
	row_count			bigint NOT NULL DEFAULT 0,
	anchor_audit_id		bigint,
	anchor_hash			bytea NOT NULL DEFAULT pg_catalog.decode(pg_catalog.repeat('00', 32), 'hex'),
	purged_rows			bigint NOT NULL DEFAULT 0,
	CONSTRAINT audit_heads_pkey PRIMARY KEY (org_id),
	CONSTRAINT audit_heads_org_fkey FOREIGN KEY (org_id) REFERENCES invoice.organizations (org_id)
);
COMMENT ON TABLE invoice.audit_heads IS 'per tenant: the last audit row written, its hash, and the anchor left by audit_purge';

CREATE FUNCTION invoice.audit_row()
RETURNS trigger
AS 'MODULE_PATHNAME', 'invoice_audit_row'
LANGUAGE C;
COMMENT ON FUNCTION invoice.audit_row() IS 'trigger: turns a row change into an audit record (written at commit by audit_flush)';

CREATE FUNCTION invoice.audit_flush()
RETURNS trigger
AS 'MODULE_PATHNAME', 'invoice_audit_flush'
LANGUAGE C;
COMMENT ON FUNCTION invoice.audit_flush() IS 'deferred constraint trigger: chains and writes the audit records of the transaction';

CREATE FUNCTION invoice.audit_write_needed()
RETURNS boolean
AS 'MODULE_PATHNAME', 'invoice_audit_write_needed'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION invoice.audit_write_needed() IS 'WHEN clause of the audit_write triggers: queues one write per transaction';

CREATE FUNCTION invoice.audit_log_guard()
RETURNS trigger
AS 'MODULE_PATHNAME', 'invoice_audit_log_guard'
LANGUAGE C;
COMMENT ON FUNCTION invoice.audit_log_guard() IS 'trigger: the audit log refuses UPDATE, DELETE and TRUNCATE';

CREATE FUNCTION invoice.audit_enable(tbl regclass)
RETURNS void
AS 'MODULE_PATHNAME', 'invoice_audit_enable'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION invoice.audit_enable(regclass) IS 'attaches the audit triggers to a table with an org_id column and a primary key (invoice_admin)';

CREATE FUNCTION invoice.audit_verify(org_id bigint DEFAULT NULL)
RETURNS TABLE(org_id bigint, rows_checked bigint, first_bad_audit_id bigint)
AS 'MODULE_PATHNAME', 'invoice_audit_verify'
LANGUAGE C STABLE PARALLEL UNSAFE;
COMMENT ON FUNCTION invoice.audit_verify(bigint) IS 'recomputes the hash chain of one tenant (or all, for invoice_admin); first_bad_audit_id is NULL when intact';

CREATE FUNCTION invoice.audit_purge(older_than interval)
RETURNS bigint
AS 'MODULE_PATHNAME', 'invoice_audit_purge'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION invoice.audit_purge(interval) IS 'removes audit rows older than the interval, keeping each chain verifiable from an anchor (invoice_admin)';

CREATE FUNCTION invoice.audit_create_partitions(months_ahead integer DEFAULT 2)
RETURNS integer
AS 'MODULE_PATHNAME', 'invoice_audit_create_partitions'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION invoice.audit_create_partitions(integer) IS 'creates the monthly partitions of the audit log for this month and the months ahead (invoice_admin)';

CREATE FUNCTION invoice.row_history(tbl regclass, row_key jsonb)
RETURNS SETOF invoice.audit_log
AS 'MODULE_PATHNAME', 'invoice_row_history'
LANGUAGE C STABLE PARALLEL UNSAFE;
COMMENT ON FUNCTION invoice.row_history(regclass, jsonb) IS 'the audit rows of one row of the current tenant, oldest first';

-- append-only: row triggers reach every partition, statement triggers are
-- added to each partition by audit_create_partitions
CREATE TRIGGER audit_log_append_only_row BEFORE UPDATE OR DELETE ON invoice.audit_log
	FOR EACH ROW EXECUTE FUNCTION invoice.audit_log_guard();
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON invoice.audit_log
	FOR EACH STATEMENT EXECUTE FUNCTION invoice.audit_log_guard();

ALTER TABLE invoice.audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE invoice.audit_log FORCE ROW LEVEL SECURITY;
ALTER TABLE invoice.audit_heads ENABLE ROW LEVEL SECURITY;
ALTER TABLE invoice.audit_heads FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON invoice.audit_log
	USING (org_id OPERATOR(pg_catalog.=) (SELECT invoice.current_org()));
CREATE POLICY admin_read ON invoice.audit_log FOR SELECT TO invoice_admin USING (true);
CREATE POLICY tenant_isolation ON invoice.audit_heads
	USING (org_id OPERATOR(pg_catalog.=) (SELECT invoice.current_org()));

/* ------------------------------------------------------------------------
 * Planner statistics: none on free text and personal data
 *
 * Any role that may read a table may EXPLAIN a query on it without a
 * tenant, and the row estimate comes from statistics over every tenant:
 * another tenant's frequent values (and, through the histogram bounds,
 * any value) could be confirmed.  No plan needs statistics on these
 * columns; their estimates fall back to the defaults.  The partitions of
 * the audit log get the log's targets from audit_create_partitions.
 * ------------------------------------------------------------------------ */

ALTER TABLE invoice.organizations ALTER COLUMN slug SET STATISTICS 0,
	ALTER COLUMN name SET STATISTICS 0, ALTER COLUMN tax_id SET STATISTICS 0,
	ALTER COLUMN resolution SET STATISTICS 0, ALTER COLUMN address SET STATISTICS 0,
	ALTER COLUMN city SET STATISTICS 0, ALTER COLUMN department SET STATISTICS 0,
	ALTER COLUMN phone SET STATISTICS 0, ALTER COLUMN email SET STATISTICS 0;
ALTER TABLE invoice.tenant_grants ALTER COLUMN role_name SET STATISTICS 0;
ALTER TABLE invoice.users ALTER COLUMN display_name SET STATISTICS 0;
ALTER TABLE invoice.customers ALTER COLUMN id_number SET STATISTICS 0,
	ALTER COLUMN name SET STATISTICS 0, ALTER COLUMN email SET STATISTICS 0,
	ALTER COLUMN phone SET STATISTICS 0, ALTER COLUMN address SET STATISTICS 0;
ALTER TABLE invoice.invoices ALTER COLUMN number_text SET STATISTICS 0,
	ALTER COLUMN void_reason SET STATISTICS 0, ALTER COLUMN notes SET STATISTICS 0,
	ALTER COLUMN seller_snapshot SET STATISTICS 0, ALTER COLUMN customer_snapshot SET STATISTICS 0;
ALTER TABLE invoice.invoice_items ALTER COLUMN description SET STATISTICS 0,
	ALTER COLUMN material SET STATISTICS 0, ALTER COLUMN sku SET STATISTICS 0;
ALTER TABLE invoice.audit_log ALTER COLUMN db_role SET STATISTICS 0,
	ALTER COLUMN db_current_role SET STATISTICS 0, ALTER COLUMN row_key SET STATISTICS 0,
	ALTER COLUMN old_row SET STATISTICS 0, ALTER COLUMN new_row SET STATISTICS 0,
	ALTER COLUMN changed SET STATISTICS 0;

SELECT invoice.audit_create_partitions(1);
SELECT invoice.audit_enable(t) FROM (VALUES
	('invoice.organizations'::pg_catalog.regclass), ('invoice.invoice_counters'), ('invoice.tenant_grants'),
	('invoice.users'), ('invoice.customers'), ('invoice.invoices'), ('invoice.invoice_items'),
	('invoice.payments')) AS tables(t);

SELECT pg_catalog.pg_extension_config_dump('invoice.audit_heads', '');
SELECT pg_catalog.pg_extension_config_dump('invoice.audit_id_seq', '');

/* ------------------------------------------------------------------------
 * Telegram (src/bridge/, the bridge; the conversation lives here)
 * ------------------------------------------------------------------------ */

/*
 * The bridge (src/bridge/) relays Bot API updates into telegram_handle()
 * and sends back what it wrote to the outbox; it decides nothing.  Each
 * update_id is recorded in the inbox in the same transaction as its
 * handling and its replies, so a redelivered update changes nothing.  The
 * bridge's role (invoice_bridge) reaches these tables only through the
 * functions below; the outbox holds tenants' data (the replies' text).
 */
CREATE TABLE invoice.telegram_inbox (
	update_id		bigint NOT NULL,
	received_at		timestamptz NOT NULL DEFAULT pg_catalog.now(),
	handled_at		timestamptz,
	CONSTRAINT telegram_inbox_pkey PRIMARY KEY (update_id)
);
COMMENT ON TABLE invoice.telegram_inbox IS 'Telegram updates already handled, by update_id; forgotten by telegram_forget()';

CREATE SEQUENCE invoice.telegram_action_id_seq;

-- the replies to send, in action_id order; pending while neither sent_at
-- nor dropped_at is set
CREATE TABLE invoice.telegram_outbox (
	action_id		bigint NOT NULL DEFAULT pg_catalog.nextval('invoice.telegram_action_id_seq'),
	update_id		bigint,
	org_id			bigint,
	chat_id			bigint NOT NULL,
	method			text NOT NULL,
	params			jsonb NOT NULL,
	document		jsonb,
	created_at		timestamptz NOT NULL DEFAULT pg_catalog.now(),
	sent_at			timestamptz,
	dropped_at		timestamptz,
	attempts		integer NOT NULL DEFAULT 0,
	last_error		text,
	file_id			text,
	CONSTRAINT telegram_outbox_pkey PRIMARY KEY (action_id),
	CONSTRAINT telegram_outbox_method_check CHECK (method OPERATOR(pg_catalog.=) ANY
		(ARRAY['sendMessage', 'editMessageText', 'editMessageReplyMarkup',
			   'answerCallbackQuery', 'sendDocument']::text[])),
	CONSTRAINT telegram_outbox_params_check CHECK (pg_catalog.jsonb_typeof(params) OPERATOR(pg_catalog.=) 'object'),
	CONSTRAINT telegram_outbox_document_check CHECK
		((document IS NOT NULL) OPERATOR(pg_catalog.=) (method OPERATOR(pg_catalog.=) 'sendDocument'))
);
COMMENT ON TABLE invoice.telegram_outbox IS 'Bot API calls written by telegram_handle() for the bridge to perform';

CREATE INDEX telegram_outbox_pending_idx ON invoice.telegram_outbox (action_id)
	WHERE sent_at IS NULL AND dropped_at IS NULL;
-- a document sent once is sent again by its Telegram file_id
CREATE INDEX telegram_outbox_file_idx ON invoice.telegram_outbox (document)
	WHERE file_id IS NOT NULL;

-- no policy: nobody but the owner of the bridge's SECURITY DEFINER
-- functions (a superuser, who bypasses it) reaches a row
ALTER TABLE invoice.telegram_inbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE invoice.telegram_inbox FORCE ROW LEVEL SECURITY;
ALTER TABLE invoice.telegram_outbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE invoice.telegram_outbox FORCE ROW LEVEL SECURITY;

SELECT pg_catalog.pg_extension_config_dump('invoice.telegram_inbox', '');
SELECT pg_catalog.pg_extension_config_dump('invoice.telegram_outbox', '');
SELECT pg_catalog.pg_extension_config_dump('invoice.telegram_action_id_seq', '');

-- the chat an update came from (NULL when it has none).  This helper and
-- the few below that every update calls (telegram_html, telegram_say,
-- telegram_answer, telegram_status) are written so that the planner
-- inlines them into their callers' cached plans (a SQL function that is
-- not inlined is planned again in every transaction): no SET clause, so
-- every name in them is qualified instead; STRICT only when their body
-- is; no stricter volatility than their body's.
CREATE FUNCTION invoice.telegram_chat_id(upd jsonb)
RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
	SELECT CAST(COALESCE(upd OPERATOR(pg_catalog.#>>) '{message,chat,id}',
						 upd OPERATOR(pg_catalog.#>>) '{callback_query,message,chat,id}',
						 upd OPERATOR(pg_catalog.#>>) '{callback_query,from,id}') AS pg_catalog.int8)
$$;
COMMENT ON FUNCTION invoice.telegram_chat_id(jsonb) IS 'the chat of a Bot API update, or NULL';

-- what an account linked to no user gets, whatever it sends: a polite
-- refusal that names nothing of any tenant
CREATE FUNCTION invoice.telegram_refuse(upd jsonb)
RETURNS jsonb
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE
		WHEN upd ? 'callback_query' THEN
			pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
				'method', 'answerCallbackQuery',
				'params', pg_catalog.jsonb_build_object(
					'callback_query_id', upd #>> '{callback_query,id}',
					'text', 'Esta cuenta de Telegram no está vinculada a ninguna tienda.',
					'show_alert', true)))
		WHEN invoice.telegram_chat_id(upd) IS NOT NULL THEN
			pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
				'method', 'sendMessage',
				'params', pg_catalog.jsonb_build_object(
					'chat_id', invoice.telegram_chat_id(upd),
					'parse_mode', 'HTML',
					'text', E'Hola. Esta cuenta de Telegram no está vinculada a ninguna tienda.\n\n'
						'Si trabajas en una joyería que usa este servicio, pide a quien la '
						'administra un código de invitación y envíalo así: '
						'<code>/start CÓDIGO</code>')))
		ELSE '[]'::jsonb
	END
$$;
COMMENT ON FUNCTION invoice.telegram_refuse(jsonb) IS 'the reply to an update from a Telegram account linked to no user';

/*
 * The conversation's own rows.  An invitation belongs to a tenant (row
 * level security, audited); only the SHA-256 of its code is kept, so the
 * table and the audit log hold nothing that could be used to link an
 * account.  A session belongs to a Telegram account, which may work for
 * several shops: it keeps the shop chosen with /tienda, the step of a
 * conversation in progress and the rate limit's window, each with its
 * time to live; only the functions below reach it.
 */
CREATE TABLE invoice.telegram_invitations (
	org_id				bigint NOT NULL,
	code_hash			bytea NOT NULL,
	user_id				bigint NOT NULL,
	created_by			bigint,
	created_at			timestamptz NOT NULL DEFAULT pg_catalog.now(),
	expires_at			timestamptz NOT NULL,
	used_at				timestamptz,
	used_by				bigint,
	CONSTRAINT telegram_invitations_pkey PRIMARY KEY (org_id, code_hash),
	CONSTRAINT telegram_invitations_user_fkey FOREIGN KEY (org_id, user_id) REFERENCES invoice.users (org_id, user_id),
	CONSTRAINT telegram_invitations_used_check CHECK ((used_at IS NULL) OPERATOR(pg_catalog.=) (used_by IS NULL))
);
COMMENT ON TABLE invoice.telegram_invitations IS 'one-time codes (kept as their SHA-256) that link a Telegram account to a user with /start CODE (see invite_user)';
-- "/start CODE" finds the code without knowing its tenant
CREATE UNIQUE INDEX telegram_invitations_code_idx ON invoice.telegram_invitations (code_hash);
-- random bytes: a histogram of them is useless and would copy them to pg_statistic
ALTER TABLE invoice.telegram_invitations ALTER COLUMN code_hash SET STATISTICS 0;

ALTER TABLE invoice.telegram_invitations ENABLE ROW LEVEL SECURITY;
ALTER TABLE invoice.telegram_invitations FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON invoice.telegram_invitations
	USING (org_id OPERATOR(pg_catalog.=) (SELECT invoice.current_org()))
	WITH CHECK (org_id OPERATOR(pg_catalog.=) (SELECT invoice.current_org()));
SELECT invoice.audit_enable('invoice.telegram_invitations');
SELECT pg_catalog.pg_extension_config_dump('invoice.telegram_invitations', '');

CREATE TABLE invoice.telegram_sessions (
	telegram_user_id	bigint NOT NULL,
	shop_org_id			bigint,
	shop_expires_at		timestamptz,
	state				jsonb,
	state_expires_at	timestamptz,
	window_started_at	timestamptz NOT NULL DEFAULT pg_catalog.now(),
	window_updates		integer NOT NULL DEFAULT 0,
	CONSTRAINT telegram_sessions_pkey PRIMARY KEY (telegram_user_id)
);
COMMENT ON TABLE invoice.telegram_sessions IS 'per Telegram account: the shop chosen with /tienda, the conversation''s step and the rate limit''s window, each with its time to live';
-- no policy: only the conversation's functions (their owner) reach a row
ALTER TABLE invoice.telegram_sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE invoice.telegram_sessions FORCE ROW LEVEL SECURITY;
SELECT pg_catalog.pg_extension_config_dump('invoice.telegram_sessions', '');
-- every update looks its account's users up across tenants
CREATE INDEX users_telegram_user_idx ON invoice.users (telegram_user_id)
	WHERE telegram_user_id IS NOT NULL;

CREATE FUNCTION invoice.invite_user(user_id bigint, ttl interval DEFAULT '1 day')
RETURNS text
AS 'MODULE_PATHNAME', 'invoice_invite_user'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION invoice.invite_user(bigint, interval) IS 'a one-time code that links a Telegram account to a user of the current tenant with /start CODE; expires after ttl (tenant admin user or invoice_admin)';

/*
 * The conversation, in Spanish, parse_mode HTML.  telegram_dispatch picks
 * a handler; each command is a function of its own that runs inside the
 * linked user's tenant (set_tenant(org, user)), so the business rules,
 * row level security and the audit (app_user_id) are those of any other
 * client.  The functions run as the extension's owner, which bypasses row
 * level security: every query below names the tenant (current_org())
 * explicitly.  Whatever a user typed is escaped (telegram_html) before it
 * is echoed; callback_data is a letter and an id ("v:12"), looked up in
 * the user's tenant again when pressed.  Each update is one transaction,
 * and a SQL-language function that the planner does not inline is parsed
 * and planned again in every transaction: the functions that query tables
 * are plpgsql (plans cached for the session), the small helpers below are
 * SQL written to be inlined.
 */

-- text for parse_mode HTML: &, < and > escaped (and " for attributes)
CREATE FUNCTION invoice.telegram_html(t text)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
	SELECT pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(
		t, '&', '&amp;'), '<', '&lt;'), '>', '&gt;'), '"', '&quot;')
$$;
COMMENT ON FUNCTION invoice.telegram_html(text) IS 'text escaped for Telegram''s parse_mode HTML';

-- an amount as the PDF prints it: "$ 1.250.000,00", "-$ 5,00"
CREATE FUNCTION invoice.telegram_money(amount numeric)
RETURNS text
AS 'MODULE_PATHNAME', 'invoice_telegram_money'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION invoice.telegram_money(numeric) IS 'an amount written as in the PDF: "$ 1.250.000,00"';

-- a sendMessage to the update's chat, of the current tenant when inside one
CREATE FUNCTION invoice.telegram_say(upd jsonb, html text, markup jsonb DEFAULT NULL)
RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
	SELECT pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
		'method', 'sendMessage',
		'org_id', invoice.current_org(),
		'params', pg_catalog.jsonb_build_object(
			'chat_id', invoice.telegram_chat_id(upd),
			'parse_mode', 'HTML',
			'text', html,
			'reply_markup', markup)))
$$;
COMMENT ON FUNCTION invoice.telegram_say(jsonb, text, jsonb) IS 'a sendMessage action (parse_mode HTML) to the chat of an update';

-- the answer every button press gets
CREATE FUNCTION invoice.telegram_answer(upd jsonb, text text DEFAULT NULL)
RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
	SELECT pg_catalog.jsonb_build_array(pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
		'method', 'answerCallbackQuery',
		'params', pg_catalog.jsonb_build_object(
			'callback_query_id', upd OPERATOR(pg_catalog.#>>) '{callback_query,id}',
			'text', text))))
$$;
COMMENT ON FUNCTION invoice.telegram_answer(jsonb, text) IS 'the answerCallbackQuery action for a button press (empty when the update is none)';

-- the session row of an account, created when missing and locked
CREATE FUNCTION invoice.telegram_session(telegram_user_id bigint)
RETURNS invoice.telegram_sessions
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	s			invoice.telegram_sessions;
BEGIN
	INSERT INTO invoice.telegram_sessions AS t (telegram_user_id) VALUES ($1)
		ON CONFLICT ON CONSTRAINT telegram_sessions_pkey DO UPDATE SET telegram_user_id = t.telegram_user_id
		RETURNING * INTO s;
	RETURN s;
END
$$;
COMMENT ON FUNCTION invoice.telegram_session(bigint) IS 'the conversation''s row of a Telegram account, locked for this transaction';

/*
 * telegram_rate: counts one more update of an account in its current
 * one-minute window (the caller allows 20) and returns its session row,
 * created when missing and locked: the one write an update makes to it.
 */
CREATE FUNCTION invoice.telegram_rate(telegram_user_id bigint)
RETURNS invoice.telegram_sessions
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	s			invoice.telegram_sessions;
BEGIN
	INSERT INTO invoice.telegram_sessions AS t (telegram_user_id, window_started_at, window_updates)
	VALUES ($1, now(), 1)
		ON CONFLICT ON CONSTRAINT telegram_sessions_pkey DO UPDATE
		SET window_started_at = CASE WHEN t.window_started_at > now() - interval '1 minute'
									 THEN t.window_started_at ELSE now() END,
			window_updates = CASE WHEN t.window_started_at > now() - interval '1 minute'
								  THEN t.window_updates + 1 ELSE 1 END
		RETURNING * INTO s;
	RETURN s;
END
$$;
COMMENT ON FUNCTION invoice.telegram_rate(bigint) IS 'counts an update of a Telegram account in its one-minute window; returns its session row (window_updates: the count), locked';

-- enters the tenant of a linked user for the rest of the transaction:
-- set_tenant's checks, without its warning for a client's set_tenant()
-- in autocommit (the bridge calls telegram_handle outside a transaction
-- block, and the context is meant to last exactly that statement)
CREATE FUNCTION invoice.telegram_enter(org_id bigint, user_id bigint)
RETURNS void
AS 'MODULE_PATHNAME', 'invoice_telegram_enter'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION invoice.telegram_enter(bigint, bigint) IS 'set_tenant(org_id, user_id) for the conversation''s own nested call, without the warning meant for a client''s set_tenant() in autocommit';

/*
 * telegram_link: "/start CODE".  A valid code (unused, unexpired) links
 * the account to the invited user, once; anything else gets the same
 * polite refusal, which names no tenant.
 */
CREATE FUNCTION invoice.telegram_link(upd jsonb, code text)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_tg		bigint := (upd #>> '{message,from,id}')::bigint;
	v_inv		invoice.telegram_invitations;
	v_user		text;
	v_shop		text;
BEGIN
	SELECT i.* INTO v_inv
	  FROM invoice.telegram_invitations i
	  JOIN invoice.users u ON u.org_id = i.org_id AND u.user_id = i.user_id AND u.is_active
	  JOIN invoice.organizations o ON o.org_id = i.org_id AND o.is_active
	 WHERE i.code_hash = sha256(convert_to(lower(code), 'UTF8'))
	   AND i.used_at IS NULL AND i.expires_at > now()
	   FOR UPDATE OF i;
	IF NOT FOUND OR v_tg IS NULL THEN
		RETURN jsonb_build_array(invoice.telegram_say(upd,
			E'Ese código no es válido: puede que ya se haya usado o que haya vencido.\n\n'
			'Si tu cuenta de Telegram no está vinculada a ninguna tienda, pide a quien '
			'administra la joyería un código nuevo y envíalo así: <code>/start CÓDIGO</code>'));
	END IF;
	IF EXISTS (SELECT 1 FROM invoice.users u
				WHERE u.org_id = v_inv.org_id AND u.telegram_user_id = v_tg
				  AND u.user_id <> v_inv.user_id) THEN
		RETURN jsonb_build_array(invoice.telegram_say(upd,
			'Esta cuenta de Telegram ya está vinculada a otro usuario de esa tienda. '
			'Pide a quien la administra que lo revise.'));
	END IF;

	-- the linked user writes the link, so the audit names them
	PERFORM invoice.telegram_enter(v_inv.org_id, v_inv.user_id);
	UPDATE invoice.users u SET telegram_user_id = v_tg
	 WHERE u.org_id = v_inv.org_id AND u.user_id = v_inv.user_id
	RETURNING u.display_name INTO v_user;
	UPDATE invoice.telegram_invitations i SET used_at = now(), used_by = v_tg
	 WHERE i.org_id = v_inv.org_id AND i.code_hash = v_inv.code_hash;
	PERFORM invoice.telegram_session(v_tg);
	UPDATE invoice.telegram_sessions s
	   SET shop_org_id = v_inv.org_id, shop_expires_at = now() + interval '30 days',
		   state = NULL, state_expires_at = NULL
	 WHERE s.telegram_user_id = v_tg;
	SELECT o.name INTO v_shop FROM invoice.organizations o WHERE o.org_id = v_inv.org_id;
	RETURN jsonb_build_array(invoice.telegram_say(upd,
		format(E'¡Listo, %s! Tu cuenta quedó vinculada a <b>%s</b>.\n\nEscribe /ayuda para ver lo que puedo hacer.',
			   invoice.telegram_html(v_user), invoice.telegram_html(v_shop))));
END
$$;
COMMENT ON FUNCTION invoice.telegram_link(jsonb, text) IS '/start CODE: links the sender''s Telegram account to the invited user, once';

-- the shops an account works for, to choose from
CREATE FUNCTION invoice.telegram_shops(upd jsonb, telegram_user_id bigint, intro text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN (
		SELECT jsonb_build_array(invoice.telegram_say(upd,
			coalesce(intro, '') || '¿En qué tienda vas a trabajar?',
			jsonb_build_object('inline_keyboard', jsonb_agg(jsonb_build_array(jsonb_build_object(
				'text', o.name, 'callback_data', 't:' || o.org_id)) ORDER BY o.name COLLATE "C", o.org_id))))
		  FROM invoice.users u
		  JOIN invoice.organizations o ON o.org_id = u.org_id AND o.is_active
		 WHERE u.telegram_user_id = $2 AND u.is_active);
END
$$;
COMMENT ON FUNCTION invoice.telegram_shops(jsonb, bigint, text) IS '/tienda: the buttons to choose among the shops an account is linked to';

-- a button "t:ORG": the shop to work in, if the account works for it
CREATE FUNCTION invoice.telegram_choose_shop(upd jsonb, telegram_user_id bigint, org_id bigint)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_shop		text;
BEGIN
	SELECT o.name INTO v_shop
	  FROM invoice.users u
	  JOIN invoice.organizations o ON o.org_id = u.org_id AND o.is_active
	 WHERE u.telegram_user_id = $2 AND u.org_id = $3 AND u.is_active;
	IF NOT FOUND THEN
		RETURN invoice.telegram_answer(upd, 'Esa opción ya no está disponible.');
	END IF;
	UPDATE invoice.telegram_sessions s
	   SET shop_org_id = $3, shop_expires_at = now() + interval '30 days',
		   state = NULL, state_expires_at = NULL
	 WHERE s.telegram_user_id = $2;
	RETURN invoice.telegram_answer(upd, 'Tienda elegida')
		|| jsonb_build_array(invoice.telegram_say(upd,
			format('Ahora trabajas en <b>%s</b>. Escribe /ayuda para ver los comandos.', invoice.telegram_html(v_shop))));
END
$$;
COMMENT ON FUNCTION invoice.telegram_choose_shop(jsonb, bigint, bigint) IS 'a /tienda button: the shop an account works in from now on';

CREATE FUNCTION invoice.telegram_help(upd jsonb)
RETURNS jsonb
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN (
		SELECT jsonb_build_array(invoice.telegram_say(upd,
			E'<b>Comandos</b>\n' ||
			E'/nueva: crear una factura paso a paso\n' ||
			E'/facturas: las 10 facturas más recientes\n' ||
			E'/ver NÚMERO: ver una factura\n' ||
			E'/pdf NÚMERO: recibir el PDF de una factura\n' ||
			E'/buscar TEXTO: buscar por cliente, documento o número\n' ||
			E'/pago NÚMERO MONTO [método]: registrar un pago (efectivo, tarjeta, transferencia, nequi, daviplata, cheque, otro)\n' ||
			E'/anular NÚMERO MOTIVO: anular una factura (administradores)\n' ||
			E'/tienda: elegir la tienda en la que trabajas\n' ||
			E'Compartir tu ubicación: la factura en curso queda en la sucursal más cercana\n' ||
			E'/cancelar: cancelar lo que está en curso\n' ||
			E'/ayuda: esta lista')));
END
$$;
COMMENT ON FUNCTION invoice.telegram_help(jsonb) IS '/ayuda: the list of commands';

-- an issued invoice of the current tenant by what the user typed:
-- its number text ("FV123") or its number ("123")
CREATE FUNCTION invoice.telegram_find(number text)
RETURNS bigint
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN (
		SELECT i.invoice_id
		  FROM invoice.invoices i
		 WHERE i.org_id = invoice.current_org() AND i.number IS NOT NULL
		   AND (upper(i.number_text) = upper(btrim($1))
				OR i.number = CASE WHEN btrim($1) ~ '^[0-9]{1,18}$' THEN btrim($1)::bigint END)
		 ORDER BY (upper(i.number_text) = upper(btrim($1))) DESC
		 LIMIT 1);
END
$$;
COMMENT ON FUNCTION invoice.telegram_find(text) IS 'the issued invoice of the current tenant with that number (as "FV123" or "123"), or NULL';

-- the status of an invoice, in Spanish
CREATE FUNCTION invoice.telegram_status(status text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
	SELECT CASE WHEN status OPERATOR(pg_catalog.=) 'draft' THEN 'borrador'
				WHEN status OPERATOR(pg_catalog.=) 'issued' THEN 'emitida'
				WHEN status OPERATOR(pg_catalog.=) 'paid' THEN 'pagada'
				WHEN status OPERATOR(pg_catalog.=) 'void' THEN 'anulada' ELSE status END
$$;
COMMENT ON FUNCTION invoice.telegram_status(text) IS 'an invoice status in Spanish';

-- one line per invoice and a row of buttons (Ver, PDF) for each
CREATE FUNCTION invoice.telegram_list(upd jsonb, title text, ids bigint[])
RETURNS jsonb
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN (
		SELECT jsonb_build_array(CASE WHEN count(*) = 0
			THEN invoice.telegram_say(upd, title || E'\n\nNo encontré facturas.')
			ELSE invoice.telegram_say(upd,
				title || E'\n\n' || string_agg(format('<b>%s</b> · %s · %s · %s · %s',
					invoice.telegram_html(i.number_text),
					to_char(i.issued_at AT TIME ZONE o.timezone, 'YYYY-MM-DD'),
					invoice.telegram_html(c.name), invoice.telegram_money(i.total),
					invoice.telegram_status(i.status)), E'\n' ORDER BY t.ord),
				jsonb_build_object('inline_keyboard', jsonb_agg(jsonb_build_array(
					jsonb_build_object('text', 'Ver ' || i.number_text, 'callback_data', 'v:' || i.invoice_id),
					jsonb_build_object('text', 'PDF', 'callback_data', 'p:' || i.invoice_id)) ORDER BY t.ord)))
			END)
		  FROM unnest(ids) WITH ORDINALITY AS t(id, ord)
		  JOIN invoice.invoices i ON i.org_id = invoice.current_org() AND i.invoice_id = t.id
		  JOIN invoice.customers c ON c.org_id = i.org_id AND c.customer_id = i.customer_id
		  JOIN invoice.organizations o ON o.org_id = i.org_id);
END
$$;
COMMENT ON FUNCTION invoice.telegram_list(jsonb, text, bigint[]) IS 'a list of invoices of the current tenant with buttons to view each or get its PDF';

CREATE FUNCTION invoice.telegram_invoices(upd jsonb)
RETURNS jsonb
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN (
		SELECT invoice.telegram_list(upd, '<b>Facturas recientes</b>',
			coalesce((SELECT array_agg(x.invoice_id ORDER BY x.issued_at DESC, x.invoice_id DESC)
						FROM (SELECT i.invoice_id, i.issued_at FROM invoice.invoices i
							   WHERE i.org_id = invoice.current_org() AND i.number IS NOT NULL
							   ORDER BY i.issued_at DESC, i.invoice_id DESC LIMIT 10) x), '{}')));
END
$$;
COMMENT ON FUNCTION invoice.telegram_invoices(jsonb) IS '/facturas: the latest 10 issued invoices of the current tenant';

CREATE FUNCTION invoice.telegram_search(upd jsonb, arg text)
RETURNS jsonb
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_pat		text;
	v_ids		bigint[];
BEGIN
	IF btrim(arg) = '' THEN
		RETURN jsonb_build_array(invoice.telegram_say(upd, 'Escribe qué buscar, por ejemplo: <code>/buscar María</code>'));
	END IF;
	v_pat := '%' || replace(replace(replace(btrim(arg), '\', '\\'), '%', '\%'), '_', '\_') || '%';
	SELECT coalesce(array_agg(x.invoice_id ORDER BY x.issued_at DESC, x.invoice_id DESC), '{}') INTO v_ids
	  FROM (SELECT i.invoice_id, i.issued_at
			  FROM invoice.invoices i
			  JOIN invoice.customers c ON c.org_id = i.org_id AND c.customer_id = i.customer_id
			 WHERE i.org_id = invoice.current_org() AND i.number IS NOT NULL
			   AND (c.name ILIKE v_pat OR c.id_number ILIKE v_pat OR i.number_text ILIKE v_pat)
			 ORDER BY i.issued_at DESC, i.invoice_id DESC LIMIT 10) x;
	RETURN invoice.telegram_list(upd, format('<b>Resultados para «%s»</b>', invoice.telegram_html(btrim(arg))), v_ids);
END
$$;
COMMENT ON FUNCTION invoice.telegram_search(jsonb, text) IS '/buscar TEXTO: issued invoices of the current tenant by customer name, document or number';

-- the details of an invoice of the current tenant, with a PDF button
CREATE FUNCTION invoice.telegram_show(upd jsonb, invoice_id bigint)
RETURNS jsonb
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN (
		SELECT jsonb_build_array(invoice.telegram_say(upd,
			format(E'<b>Factura %s</b> (%s)\nCliente: %s (%s %s)\nFecha: %s\n\n%s\n\nSubtotal: %s\nDescuentos: %s\nIVA: %s\n<b>Total: %s</b>\nPagado: %s\nSaldo: %s',
				invoice.telegram_html(i.number_text), invoice.telegram_status(i.status),
				invoice.telegram_html(c.name), c.id_type, invoice.telegram_html(c.id_number),
				to_char(i.issued_at AT TIME ZONE o.timezone, 'YYYY-MM-DD HH24:MI'),
				(SELECT string_agg(format('%s × %s: %s', replace(trim_scale(it.quantity)::text, '.', ','),
										  invoice.telegram_html(it.description), invoice.telegram_money(it.line_total)),
								   E'\n' ORDER BY it.line_no)
				   FROM invoice.invoice_items it WHERE it.org_id = i.org_id AND it.invoice_id = i.invoice_id),
				invoice.telegram_money(i.subtotal), invoice.telegram_money(i.discount_total),
				invoice.telegram_money(i.tax_total), invoice.telegram_money(i.total),
				invoice.telegram_money(i.amount_paid), invoice.telegram_money(i.total - i.amount_paid)),
			jsonb_build_object('inline_keyboard', jsonb_build_array(jsonb_build_array(
				jsonb_build_object('text', 'PDF', 'callback_data', 'p:' || i.invoice_id))))))
		  FROM invoice.invoices i
		  JOIN invoice.customers c ON c.org_id = i.org_id AND c.customer_id = i.customer_id
		  JOIN invoice.organizations o ON o.org_id = i.org_id
		 WHERE i.org_id = invoice.current_org() AND i.invoice_id = $2 AND i.number IS NOT NULL);
END
$$;
COMMENT ON FUNCTION invoice.telegram_show(jsonb, bigint) IS 'an issued invoice of the current tenant: customer, items, totals and balance';

-- the sendDocument of an invoice's PDF (telegram_document renders it)
CREATE FUNCTION invoice.telegram_pdf_action(upd jsonb, invoice_id bigint)
RETURNS jsonb
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN (
		SELECT jsonb_build_array(jsonb_build_object(
			'method', 'sendDocument',
			'org_id', i.org_id,
			'params', jsonb_build_object(
				'chat_id', invoice.telegram_chat_id(upd),
				'parse_mode', 'HTML',
				'caption', format('Factura <b>%s</b> · %s', invoice.telegram_html(i.number_text), invoice.telegram_money(i.total))),
			'document', jsonb_build_object(
				'invoice_id', i.invoice_id, 'format', 'pdf',
				'filename', coalesce(nullif(regexp_replace(i.number_text, '[^A-Za-z0-9_-]', '', 'g'), ''), 'factura') || '.pdf')))
		  FROM invoice.invoices i
		 WHERE i.org_id = invoice.current_org() AND i.invoice_id = $2 AND i.number IS NOT NULL);
END
$$;
COMMENT ON FUNCTION invoice.telegram_pdf_action(jsonb, bigint) IS 'the sendDocument action of an issued invoice''s PDF, for the current tenant';

CREATE FUNCTION invoice.telegram_not_found(upd jsonb, number text)
RETURNS jsonb
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN (
		SELECT jsonb_build_array(invoice.telegram_say(upd,
			CASE WHEN btrim(number) = '' THEN 'Escribe el número de la factura, por ejemplo: <code>/ver FV123</code>'
				 ELSE format('No encontré la factura <b>%s</b> en esta tienda.', invoice.telegram_html(btrim(number))) END)));
END
$$;
COMMENT ON FUNCTION invoice.telegram_not_found(jsonb, text) IS 'the reply when no invoice has the number typed';

CREATE FUNCTION invoice.telegram_view(upd jsonb, arg text)
RETURNS jsonb
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN (
		SELECT coalesce(invoice.telegram_show(upd, invoice.telegram_find(arg)), invoice.telegram_not_found(upd, arg)));
END
$$;
COMMENT ON FUNCTION invoice.telegram_view(jsonb, text) IS '/ver NÚMERO';

CREATE FUNCTION invoice.telegram_pdf(upd jsonb, arg text)
RETURNS jsonb
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN (
		SELECT coalesce(invoice.telegram_pdf_action(upd, invoice.telegram_find(arg)), invoice.telegram_not_found(upd, arg)));
END
$$;
COMMENT ON FUNCTION invoice.telegram_pdf(jsonb, text) IS '/pdf NÚMERO';

-- an amount as people type it: "1.250.000", "1250000", "1.250.000,50", "$ 80.000"
CREATE FUNCTION invoice.telegram_amount(amount text)
RETURNS numeric
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v			text := regexp_replace(amount, '[$\s]', '', 'g');
BEGIN
	IF v ~ '^[0-9]{1,3}(\.[0-9]{3})+(,[0-9]+)?$' OR v ~ '^[0-9]+,[0-9]+$' THEN
		v := replace(replace(v, '.', ''), ',', '.');
	ELSIF v !~ '^[0-9]+(\.[0-9]+)?$' THEN
		RETURN NULL;
	END IF;
	RETURN v::numeric;
END
$$;
COMMENT ON FUNCTION invoice.telegram_amount(text) IS 'an amount typed the Colombian way ("1.250.000,50") or plainly ("1250000.50"), or NULL';

CREATE FUNCTION invoice.telegram_payment(upd jsonb, arg text)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_words		text[] := regexp_split_to_array(btrim(arg), '\s+');
	v_id		bigint;
	v_amount	numeric;
	v_method	text;
	v_state		text;
	v_msg		text;
BEGIN
	IF cardinality(v_words) NOT BETWEEN 2 AND 3 OR v_words[1] = '' THEN
		RETURN jsonb_build_array(invoice.telegram_say(upd,
			'Escribe el número, el monto y, si quieres, el método: <code>/pago FV123 250.000 nequi</code>'));
	END IF;
	v_id := invoice.telegram_find(v_words[1]);
	IF v_id IS NULL THEN
		RETURN invoice.telegram_not_found(upd, v_words[1]);
	END IF;
	v_amount := invoice.telegram_amount(v_words[2]);
	IF v_amount IS NULL THEN
		RETURN jsonb_build_array(invoice.telegram_say(upd,
			format('No entendí el monto «%s». Escríbelo así: <code>250.000</code> o <code>250000,50</code>',
				   invoice.telegram_html(v_words[2]))));
	END IF;
	-- a method by its code or its label ("efectivo"): the one list of
	-- payment_methods() and payment_method_labels()
	v_method := coalesce(
		(SELECT m.code
		   FROM ROWS FROM (pg_catalog.unnest(invoice.payment_methods()), pg_catalog.unnest(invoice.payment_method_labels())) AS m(code, label)
		  WHERE pg_catalog.lower(coalesce(v_words[3], 'cash')) IN (m.code, pg_catalog.lower(m.label))),
		pg_catalog.lower(v_words[3]));
	BEGIN
		PERFORM invoice.record_payment(v_id, v_amount, v_method);
	EXCEPTION WHEN OTHERS THEN
		GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_msg = MESSAGE_TEXT;
		RETURN jsonb_build_array(invoice.telegram_say(upd, CASE
			WHEN v_state = '55000' THEN 'Esa factura no admite pagos: solo se pagan facturas emitidas y sin pagar del todo.'
			WHEN v_msg LIKE '%exceeds the balance%' THEN 'Ese pago es mayor que el saldo de la factura.'
			WHEN v_msg LIKE '%"method"%' THEN format('No conozco el método «%s». Usa uno de estos: %s.',
													invoice.telegram_html(v_words[3]),
													(SELECT pg_catalog.string_agg(pg_catalog.lower(l), ', ')
													   FROM pg_catalog.unnest(invoice.payment_method_labels()) AS l))
			WHEN v_state IN ('22023', '22003') THEN 'Ese monto no es válido: debe ser mayor que cero y tener a lo sumo dos decimales.'
			ELSE 'No pude registrar el pago. Inténtalo de nuevo en un momento.' END));
	END;
	RETURN jsonb_build_array(invoice.telegram_say(upd,
		(SELECT format(E'Pago de %s registrado en la factura <b>%s</b>.\nSaldo: %s%s',
					   invoice.telegram_money(v_amount), invoice.telegram_html(i.number_text),
					   invoice.telegram_money(i.total - i.amount_paid),
					   CASE WHEN i.status = 'paid' THEN ' (pagada)' ELSE '' END)
		   FROM invoice.invoices i WHERE i.org_id = invoice.current_org() AND i.invoice_id = v_id)));
END
$$;
COMMENT ON FUNCTION invoice.telegram_payment(jsonb, text) IS '/pago NÚMERO MONTO [método]: record_payment, its errors in Spanish';

CREATE FUNCTION invoice.telegram_void(upd jsonb, arg text)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_number	text := substring(btrim(arg) from '^\S+');
	v_reason	text := btrim(substring(btrim(arg) from '^\S+\s+(.*)$'));
	v_id		bigint;
	v_state		text;
BEGIN
	IF NOT EXISTS (SELECT 1 FROM invoice.users u
					WHERE u.org_id = invoice.current_org() AND u.user_id = invoice.current_user_id()
					  AND u.role = 'admin') THEN
		RETURN jsonb_build_array(invoice.telegram_say(upd, 'Solo quien administra la tienda puede anular facturas.'));
	END IF;
	IF v_number IS NULL OR coalesce(v_reason, '') = '' THEN
		RETURN jsonb_build_array(invoice.telegram_say(upd,
			'Escribe el número y el motivo: <code>/anular FV123 error en el precio</code>'));
	END IF;
	v_id := invoice.telegram_find(v_number);
	IF v_id IS NULL THEN
		RETURN invoice.telegram_not_found(upd, v_number);
	END IF;
	BEGIN
		PERFORM invoice.void(v_id, v_reason);
	EXCEPTION WHEN OTHERS THEN
		GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE;
		RETURN jsonb_build_array(invoice.telegram_say(upd, CASE
			WHEN v_state = '55000' THEN 'Esa factura no se puede anular: ya está anulada.'
			ELSE 'No pude anular la factura. Inténtalo de nuevo en un momento.' END));
	END;
	RETURN jsonb_build_array(invoice.telegram_say(upd,
		format('Factura <b>%s</b> anulada. Motivo: %s', invoice.telegram_html(v_number), invoice.telegram_html(v_reason))));
END
$$;
COMMENT ON FUNCTION invoice.telegram_void(jsonb, text) IS '/anular NÚMERO MOTIVO: void, for the tenant''s admin users only';

CREATE FUNCTION invoice.telegram_cancel(upd jsonb, telegram_user_id bigint)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM invoice.telegram_drop_draft($2);
	RETURN jsonb_build_array(invoice.telegram_say(upd, 'Listo, cancelé lo que estaba en curso.'));
END
$$;
COMMENT ON FUNCTION invoice.telegram_cancel(jsonb, bigint) IS '/cancelar: forgets the invoice in progress, deleting its draft';

-- a button press of a linked user inside their shop: "v:ID" or "p:ID"
CREATE FUNCTION invoice.telegram_button(upd jsonb, data text)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_id		bigint;
	v_out		jsonb;
BEGIN
	IF data ~ '^[vp]:[0-9]{1,18}$' THEN
		v_id := substr(data, 3)::bigint;
		v_out := CASE left(data, 1) WHEN 'v' THEN invoice.telegram_show(upd, v_id)
									ELSE invoice.telegram_pdf_action(upd, v_id) END;
	ELSIF data ~ '^[cn]:' THEN
		-- the buttons of /nueva answer the press themselves
		RETURN coalesce(invoice.telegram_step_button(upd, (upd #>> '{callback_query,from,id}')::bigint, data),
						invoice.telegram_answer(upd, 'Esa opción ya no está disponible.'));
	END IF;
	IF v_out IS NULL THEN
		RETURN invoice.telegram_answer(upd, 'Esa opción ya no está disponible.');
	END IF;
	RETURN invoice.telegram_answer(upd) || v_out;
END
$$;
COMMENT ON FUNCTION invoice.telegram_button(jsonb, text) IS 'a button press (view, PDF, the steps of /nueva) checked against the current tenant';

/*
 * /nueva, step by step.  The step lives in telegram_sessions.state for an
 * hour: {"step": "customer"}, then {"step": "items", "invoice_id": N} (a
 * draft of the current tenant), then {"step": "confirm", ...}.  An item is
 * one line "descripción; cantidad; precio[; peso en gramos]", or is asked
 * field by field ("Paso a paso"): {"step": "item_desc" | "item_qty" |
 * "item_price" | "item_weight", "invoice_id": N, "item": {...so far}},
 * each field checked by totals() (the API's own item rules) as it comes.
 * A location shared meanwhile puts the draft under the tenant's nearest
 * branch (before the draft exists, and outside /nueva, it is kept in the
 * state as "location" for the next draft).  Each step calls the same API
 * functions as any client (upsert_customer, create_invoice, add_item,
 * nearest_branch, set_branch, issue, delete_draft); their errors become
 * polite messages and leave the step where it was.
 */

-- the step of an account's invoice in progress, in the current tenant
CREATE FUNCTION invoice.telegram_step(telegram_user_id bigint)
RETURNS jsonb
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN (
		SELECT s.state FROM invoice.telegram_sessions s
		 WHERE s.telegram_user_id = $1 AND s.state_expires_at > now()
		   AND (s.state ->> 'org_id')::bigint = invoice.current_org());
END
$$;
COMMENT ON FUNCTION invoice.telegram_step(bigint) IS 'the step of the invoice an account is creating in the current tenant, or NULL';

CREATE FUNCTION invoice.telegram_set_step(telegram_user_id bigint, state jsonb)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	UPDATE invoice.telegram_sessions s
	   SET state = CASE WHEN $2 IS NOT NULL THEN $2 || jsonb_build_object('org_id', invoice.current_org()) END,
		   state_expires_at = CASE WHEN $2 IS NOT NULL THEN now() + interval '1 hour' END
	 WHERE s.telegram_user_id = $1;
END
$$;
COMMENT ON FUNCTION invoice.telegram_set_step(bigint, jsonb) IS 'sets (or, with NULL, forgets) the step of an account''s invoice in progress, for an hour';

CREATE FUNCTION invoice.telegram_new(upd jsonb, telegram_user_id bigint)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_location	jsonb := invoice.telegram_step($2) -> 'location';
BEGIN
	PERFORM invoice.telegram_drop_draft($2);
	PERFORM invoice.telegram_set_step($2, jsonb_strip_nulls(jsonb_build_object('step', 'customer', 'location', v_location)));
	RETURN jsonb_build_array(invoice.telegram_say(upd,
		E'<b>Nueva factura</b>\n¿Para qué cliente? Escribe el documento y el nombre, '
		'por ejemplo <code>CC 1020304050 María Pérez</code>, o parte del nombre para buscarlo.'
		|| CASE WHEN v_location IS NULL
				THEN E'\n\nSi compartes tu ubicación, la factura queda en la sucursal más cercana.' ELSE '' END));
END
$$;
COMMENT ON FUNCTION invoice.telegram_new(jsonb, bigint) IS '/nueva: starts an invoice, asking for the customer (keeping a location shared within the hour)';

-- the draft of the invoice in progress, deleted (nothing when there is none)
CREATE FUNCTION invoice.telegram_drop_draft(telegram_user_id bigint)
RETURNS void
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_id		bigint := (invoice.telegram_step($1) ->> 'invoice_id')::bigint;
BEGIN
	IF v_id IS NOT NULL AND EXISTS (SELECT 1 FROM invoice.invoices i
									 WHERE i.org_id = invoice.current_org() AND i.invoice_id = v_id
									   AND i.status = 'draft' AND NOT i.is_deleted) THEN
		PERFORM invoice.delete_draft(v_id);
	END IF;
	PERFORM invoice.telegram_set_step($1, NULL);
END
$$;
COMMENT ON FUNCTION invoice.telegram_drop_draft(bigint) IS 'forgets the invoice in progress of an account, deleting its draft';

-- the customer chosen: a draft for them (at the place shared, if any), and
-- the items asked for
CREATE FUNCTION invoice.telegram_customer_chosen(upd jsonb, telegram_user_id bigint, customer_id bigint)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_location	jsonb := invoice.telegram_step($2) -> 'location';
	v_id		bigint := invoice.create_invoice($3);
	v_branch	text;
BEGIN
	IF v_location IS NOT NULL THEN
		v_branch := invoice.telegram_place(v_id, (v_location ->> 'lon')::float8, (v_location ->> 'lat')::float8);
	END IF;
	PERFORM invoice.telegram_set_step($2, jsonb_build_object('step', 'items', 'invoice_id', v_id));
	RETURN jsonb_build_array(invoice.telegram_say(upd,
		(SELECT format(E'Cliente: <b>%s</b> (%s %s).%s\n\nAhora los ítems, uno por mensaje: '
					   '<code>descripción; cantidad; precio[; peso en gramos]</code>\n'
					   'Por ejemplo: <code>Anillo oro 18k; 1; 1.250.000; 3,5</code>\n'
					   'O pulsa <b>Paso a paso</b> y te pregunto cada dato.',
					   invoice.telegram_html(c.name), c.id_type, invoice.telegram_html(c.id_number),
					   CASE WHEN v_branch IS NOT NULL
							THEN format(E'\nSucursal: <b>%s</b>.', invoice.telegram_html(v_branch)) ELSE '' END)
		   FROM invoice.customers c WHERE c.org_id = invoice.current_org() AND c.customer_id = $3),
		invoice.telegram_guided_button()));
END
$$;
COMMENT ON FUNCTION invoice.telegram_customer_chosen(jsonb, bigint, bigint) IS 'starts the draft of the invoice in progress for a customer (at the place shared, if any) and asks for the items';

-- the customer step: "CC 1020304050 María Pérez" picks or creates; a name searches
CREATE FUNCTION invoice.telegram_customer(upd jsonb, telegram_user_id bigint, input text)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_m			text[] := regexp_match(btrim(input), '^(CC|CE|NIT|PP|TI|NUIP|FOREIGN)\s+(\S+)\s*(.*)$', 'i');
	v_id		bigint;
	v_buttons	jsonb;
BEGIN
	IF v_m IS NOT NULL THEN
		SELECT c.customer_id INTO v_id FROM invoice.customers c
		 WHERE c.org_id = invoice.current_org() AND c.id_type = upper(v_m[1]) AND c.id_number = v_m[2];
		IF v_id IS NULL AND btrim(v_m[3]) = '' THEN
			RETURN jsonb_build_array(invoice.telegram_say(upd,
				format('No hay un cliente con %s %s. Escribe también su nombre para crearlo.',
					   upper(v_m[1]), invoice.telegram_html(v_m[2]))));
		ELSIF v_id IS NULL THEN
			BEGIN
				v_id := invoice.upsert_customer(upper(v_m[1]), v_m[2], btrim(v_m[3]));
			EXCEPTION WHEN invalid_parameter_value OR string_data_right_truncation OR check_violation THEN
				RETURN jsonb_build_array(invoice.telegram_say(upd,
					format('No pude crear el cliente: revisa el documento «%s».', invoice.telegram_html(v_m[2]))));
			END;
		END IF;
		RETURN invoice.telegram_customer_chosen(upd, $2, v_id);
	END IF;
	SELECT jsonb_agg(jsonb_build_array(jsonb_build_object(
			   'text', format('%s (%s %s)', x.name, x.id_type, x.id_number), 'callback_data', 'c:' || x.customer_id))
			   ORDER BY x.name COLLATE "C", x.customer_id)
	  INTO v_buttons
	  FROM (SELECT c.* FROM invoice.customers c
			 WHERE c.org_id = invoice.current_org()
			   AND c.name ILIKE '%' || replace(replace(replace(btrim(input), '\', '\\'), '%', '\%'), '_', '\_') || '%'
			 ORDER BY c.name COLLATE "C", c.customer_id LIMIT 8) x;
	IF v_buttons IS NULL THEN
		RETURN jsonb_build_array(invoice.telegram_say(upd,
			format('No encontré clientes con «%s». Escribe el documento y el nombre: <code>CC 1020304050 María Pérez</code>',
				   invoice.telegram_html(btrim(input)))));
	END IF;
	RETURN jsonb_build_array(invoice.telegram_say(upd, 'Elige el cliente:',
		jsonb_build_object('inline_keyboard', v_buttons)));
END
$$;
COMMENT ON FUNCTION invoice.telegram_customer(jsonb, bigint, text) IS 'the customer step of /nueva: by document (picks or creates) or by name (buttons)';

-- the draft so far, its running total and what can be done next
CREATE FUNCTION invoice.telegram_draft(upd jsonb, invoice_id bigint)
RETURNS jsonb
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN (
		SELECT jsonb_build_array(invoice.telegram_say(upd,
			format(E'<b>Factura en curso</b> para %s\n\n%s\n\n<b>Total: %s</b>',
				invoice.telegram_html(c.name),
				(SELECT string_agg(format('%s. %s × %s: %s', it.line_no, replace(trim_scale(it.quantity)::text, '.', ','),
										  invoice.telegram_html(it.description), invoice.telegram_money(it.line_total)),
								   E'\n' ORDER BY it.line_no)
				   FROM invoice.invoice_items it WHERE it.org_id = i.org_id AND it.invoice_id = i.invoice_id),
				invoice.telegram_money(i.total)),
			jsonb_build_object('inline_keyboard', jsonb_build_array(jsonb_build_array(
				jsonb_build_object('text', 'Agregar ítem', 'callback_data', 'n:add'),
				jsonb_build_object('text', 'Emitir', 'callback_data', 'n:issue'),
				jsonb_build_object('text', 'Cancelar', 'callback_data', 'n:cancel'))))))
		  FROM invoice.invoices i
		  JOIN invoice.customers c ON c.org_id = i.org_id AND c.customer_id = i.customer_id
		 WHERE i.org_id = invoice.current_org() AND i.invoice_id = $2);
END
$$;
COMMENT ON FUNCTION invoice.telegram_draft(jsonb, bigint) IS 'the invoice in progress: its lines, running total and the buttons Agregar ítem, Emitir, Cancelar';

-- the button that asks an item field by field
CREATE FUNCTION invoice.telegram_guided_button()
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
	SELECT '{"inline_keyboard": [[{"text": "Paso a paso", "callback_data": "n:step"}]]}'::jsonb
$$;
COMMENT ON FUNCTION invoice.telegram_guided_button() IS 'the reply_markup with the button "Paso a paso" (ask an item field by field)';

-- what is wrong with an item, in Spanish and naming the field, from the
-- message of the API's item rules (add_item, totals)
CREATE FUNCTION invoice.telegram_item_error(message text)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE
		WHEN message LIKE '%times%' OR message LIKE '%line_total%'
			THEN 'El total del ítem (cantidad por precio) es demasiado grande.'
		WHEN message LIKE '%"quantity"%'
			THEN 'La cantidad debe ser un número mayor que cero, con a lo sumo 3 decimales.'
		WHEN message LIKE '%"unit_price"%'
			THEN 'El precio debe ser un número, cero o mayor, con a lo sumo 2 decimales.'
		WHEN message LIKE '%"weight_grams"%'
			THEN 'El peso en gramos debe ser un número mayor que cero, con a lo sumo 3 decimales.'
		WHEN message LIKE '%"description"%'
			THEN 'La descripción no puede estar vacía ni ser tan larga (hasta 1000 caracteres y pocas líneas).'
		ELSE 'No pude agregar ese ítem: revisa los valores.' END
$$;
COMMENT ON FUNCTION invoice.telegram_item_error(text) IS 'the Spanish message, naming the field, for an error of the API''s item rules';

-- an item (the fields so far, the others given harmless values) checked by
-- totals(), the API's own item rules: NULL when it passes, else what is wrong
CREATE FUNCTION invoice.telegram_item_check(item jsonb)
RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_msg		text;
BEGIN
	PERFORM invoice.totals(jsonb_build_array('{"quantity": 1, "unit_price": 0}'::jsonb || item));
	RETURN NULL;
EXCEPTION WHEN data_exception THEN
	GET STACKED DIAGNOSTICS v_msg = MESSAGE_TEXT;
	RETURN invoice.telegram_item_error(v_msg);
END
$$;
COMMENT ON FUNCTION invoice.telegram_item_check(jsonb) IS 'NULL when an item (so far) passes the API''s item rules, else what is wrong, in Spanish';

-- adds the item to the draft and shows it, back at the items step; an
-- error leaves the step as it was
CREATE FUNCTION invoice.telegram_item_add(upd jsonb, telegram_user_id bigint, invoice_id bigint, item jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_msg		text;
BEGIN
	BEGIN
		PERFORM invoice.add_item($3, item);
	EXCEPTION WHEN data_exception THEN
		GET STACKED DIAGNOSTICS v_msg = MESSAGE_TEXT;
		RETURN jsonb_build_array(invoice.telegram_say(upd, invoice.telegram_item_error(v_msg)));
	END;
	PERFORM invoice.telegram_set_step($2, jsonb_build_object('step', 'items', 'invoice_id', $3));
	RETURN invoice.telegram_draft(upd, $3);
END
$$;
COMMENT ON FUNCTION invoice.telegram_item_add(jsonb, bigint, bigint, jsonb) IS 'adds an item to the draft in progress and shows the draft; an error becomes a message in Spanish';

-- asks for one field of an item, remembering the fields so far
CREATE FUNCTION invoice.telegram_guided_ask(upd jsonb, telegram_user_id bigint, invoice_id bigint, step text, item jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM invoice.telegram_set_step($2, jsonb_build_object('step', step, 'invoice_id', $3, 'item', coalesce(item, '{}')));
	RETURN jsonb_build_array(CASE step
		WHEN 'item_desc' THEN invoice.telegram_say(upd,
			'¿Cuál es la <b>descripción</b> del ítem? Por ejemplo: <code>Anillo oro 18k</code>')
		WHEN 'item_qty' THEN invoice.telegram_say(upd,
			format(E'Ítem: <b>%s</b>\n¿Cuál es la <b>cantidad</b>? Por ejemplo: <code>1</code> o <code>2,5</code>',
				   invoice.telegram_html(item ->> 'description')))
		WHEN 'item_price' THEN invoice.telegram_say(upd,
			format(E'Ítem: <b>%s</b> × %s\n¿Cuál es el <b>precio</b> de cada unidad? Por ejemplo: <code>1.250.000</code>',
				   invoice.telegram_html(item ->> 'description'),
				   replace(trim_scale((item ->> 'quantity')::numeric)::text, '.', ',')))
		ELSE invoice.telegram_say(upd,
			format(E'Ítem: <b>%s</b> × %s a %s\n¿Cuál es el <b>peso en gramos</b>? Por ejemplo: <code>3,5</code>. '
				   'Si no aplica, pulsa <b>Sin peso</b>.',
				   invoice.telegram_html(item ->> 'description'),
				   replace(trim_scale((item ->> 'quantity')::numeric)::text, '.', ','),
				   invoice.telegram_money((item ->> 'unit_price')::numeric)),
			'{"inline_keyboard": [[{"text": "Sin peso", "callback_data": "n:noweight"}]]}')
		END);
END
$$;
COMMENT ON FUNCTION invoice.telegram_guided_ask(jsonb, bigint, bigint, text, jsonb) IS 'asks for one field of an item (descripción, cantidad, precio, peso), keeping the fields so far in the session for an hour';

-- a field typed at its step of "Paso a paso": checked, then the next asked
CREATE FUNCTION invoice.telegram_guided(upd jsonb, telegram_user_id bigint, state jsonb, input text)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_step		text := state ->> 'step';
	v_id		bigint := (state ->> 'invoice_id')::bigint;
	v_item		jsonb := coalesce(state -> 'item', '{}');
	v_in		text := btrim(input);
	v_key		text;
	v_number	numeric;
	v_error		text;
BEGIN
	IF v_step = 'item_desc' THEN
		v_item := jsonb_build_object('description', v_in);
		v_error := invoice.telegram_item_check(v_item);
		IF v_error IS NOT NULL THEN
			RETURN jsonb_build_array(invoice.telegram_say(upd, v_error || ' Escribe la descripción del ítem.'));
		END IF;
		RETURN invoice.telegram_guided_ask(upd, $2, v_id, 'item_qty', v_item);
	END IF;
	IF v_step = 'item_weight' AND lower(v_in) IN ('sin peso', 'no', 'ninguno', '-') THEN
		RETURN invoice.telegram_item_add(upd, $2, v_id, v_item);
	END IF;
	v_key := CASE v_step WHEN 'item_qty' THEN 'quantity' WHEN 'item_price' THEN 'unit_price' ELSE 'weight_grams' END;
	v_number := invoice.telegram_amount(v_in);
	IF v_number IS NULL THEN
		RETURN jsonb_build_array(invoice.telegram_say(upd, format('No entendí %s «%s»: escríbelo como número, por ejemplo <code>%s</code>.',
			CASE v_key WHEN 'quantity' THEN 'la cantidad' WHEN 'unit_price' THEN 'el precio' ELSE 'el peso en gramos' END,
			invoice.telegram_html(v_in),
			CASE v_key WHEN 'quantity' THEN '2' WHEN 'unit_price' THEN '1.250.000' ELSE '3,5' END)));
	END IF;
	v_item := v_item || jsonb_build_object(v_key, v_number);
	v_error := invoice.telegram_item_check(v_item);
	IF v_error IS NOT NULL THEN
		RETURN jsonb_build_array(invoice.telegram_say(upd, v_error));
	END IF;
	RETURN CASE v_step
		WHEN 'item_qty' THEN invoice.telegram_guided_ask(upd, $2, v_id, 'item_price', v_item)
		WHEN 'item_price' THEN invoice.telegram_guided_ask(upd, $2, v_id, 'item_weight', v_item)
		ELSE invoice.telegram_item_add(upd, $2, v_id, v_item) END;
END
$$;
COMMENT ON FUNCTION invoice.telegram_guided(jsonb, bigint, jsonb, text) IS 'a field of an item typed at its step of "Paso a paso": checked by the API''s rules, then the next field asked (or the item added)';

-- the items step: "descripción; cantidad; precio[; peso en gramos]"; text
-- without semicolons is the description of an item asked field by field,
-- any other line starts asking field by field
CREATE FUNCTION invoice.telegram_item(upd jsonb, invoice_id bigint, input text)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_tg		bigint := (upd #>> '{message,from,id}')::bigint;
	v_parts		text[] := regexp_split_to_array(btrim(input), '\s*;\s*');
	v_qty		numeric;
	v_price		numeric;
	v_weight	numeric;
	v_bad		text;
BEGIN
	IF cardinality(v_parts) = 1 THEN
		RETURN invoice.telegram_guided(upd, v_tg, jsonb_build_object('step', 'item_desc', 'invoice_id', $2), input);
	END IF;
	IF cardinality(v_parts) NOT BETWEEN 3 AND 4 OR btrim(v_parts[1]) = '' THEN
		RETURN jsonb_build_array(invoice.telegram_say(upd,
			E'No entendí ese ítem. Escríbelo en una línea, <code>descripción; cantidad; precio[; peso en gramos]</code>, '
			'o vamos paso a paso:'))
			|| invoice.telegram_guided_ask(upd, v_tg, $2, 'item_desc', NULL);
	END IF;
	v_qty := invoice.telegram_amount(v_parts[2]);
	v_price := invoice.telegram_amount(v_parts[3]);
	v_weight := CASE WHEN cardinality(v_parts) = 4 THEN invoice.telegram_amount(v_parts[4]) END;
	v_bad := CASE WHEN v_qty IS NULL THEN format('la cantidad «%s»', invoice.telegram_html(v_parts[2]))
				  WHEN v_price IS NULL THEN format('el precio «%s»', invoice.telegram_html(v_parts[3]))
				  WHEN cardinality(v_parts) = 4 AND v_weight IS NULL
					  THEN format('el peso en gramos «%s»', invoice.telegram_html(v_parts[4])) END;
	IF v_bad IS NOT NULL THEN
		RETURN jsonb_build_array(invoice.telegram_say(upd,
			format('No entendí %s. Escribe los números así: <code>Anillo; 1; 1.250.000; 3,5</code>', v_bad)));
	END IF;
	RETURN invoice.telegram_item_add(upd, v_tg, $2,
		jsonb_strip_nulls(jsonb_build_object('description', btrim(v_parts[1]), 'quantity', v_qty,
											 'unit_price', v_price, 'weight_grams', v_weight)));
END
$$;
COMMENT ON FUNCTION invoice.telegram_item(jsonb, bigint, text) IS 'the items step of /nueva: one line added to the draft, then the running total; other text asks the item field by field';

-- where a seller is: the draft in progress goes under the tenant's nearest
-- branch, sold there; NULL (and nothing changed) when the tenant has no
-- branch.  sale_location has no setter in the API: the draft's row is
-- written here, for the current tenant and only while it is a draft.
CREATE FUNCTION invoice.telegram_place(invoice_id bigint, lon float8, lat float8)
RETURNS text
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_branch	bigint := invoice.nearest_branch(lon, lat);
	-- the column's own type (PostGIS's geography), read from EWKT text
	v_point		invoice.invoices.sale_location%TYPE;
	v_name		text;
BEGIN
	IF v_branch IS NULL THEN
		RETURN NULL;
	END IF;
	PERFORM invoice.set_branch($1, v_branch);
	v_point := format('SRID=4326;POINT(%s %s)', lon, lat);
	UPDATE invoice.invoices i SET sale_location = v_point
	 WHERE i.org_id = invoice.current_org() AND i.invoice_id = $1 AND i.status = 'draft';
	SELECT b.name INTO v_name FROM invoice.branches b
	 WHERE b.org_id = invoice.current_org() AND b.branch_id = v_branch;
	RETURN v_name;
END
$$;
COMMENT ON FUNCTION invoice.telegram_place(bigint, float8, float8) IS 'puts a draft of the current tenant under its branch nearest to (lon, lat) and sets its sale_location; returns the branch''s name, NULL when the tenant has none';

-- a location shared (message.location): the draft in progress goes under
-- the nearest branch; before the draft exists, or outside /nueva, it is
-- kept for the next draft within the hour
CREATE FUNCTION invoice.telegram_location(upd jsonb, telegram_user_id bigint)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_step		jsonb := invoice.telegram_step($2);
	v_id		bigint := (v_step ->> 'invoice_id')::bigint;
	v_lon		float8;
	v_lat		float8;
	v_branch	bigint;
	v_name		text;
BEGIN
	BEGIN
		v_lon := (upd #>> '{message,location,longitude}')::float8;
		v_lat := (upd #>> '{message,location,latitude}')::float8;
		IF v_lon IS NULL OR v_lat IS NULL THEN
			RAISE invalid_parameter_value;
		END IF;
		v_branch := invoice.nearest_branch(v_lon, v_lat);
	EXCEPTION WHEN data_exception THEN
		RETURN jsonb_build_array(invoice.telegram_say(upd, 'No pude leer esa ubicación. Compártela de nuevo, por favor.'));
	END;
	IF v_branch IS NULL THEN
		RETURN jsonb_build_array(invoice.telegram_say(upd,
			'Gracias. Esta tienda todavía no tiene sucursales registradas, así que no puedo ubicar la factura en una. '
			'Quien la administra puede agregarlas.'));
	END IF;
	IF v_id IS NOT NULL THEN
		v_name := invoice.telegram_place(v_id, v_lon, v_lat);
		RETURN jsonb_build_array(invoice.telegram_say(upd,
			format('Listo: la factura en curso queda en la sucursal <b>%s</b>.', invoice.telegram_html(v_name))));
	END IF;
	PERFORM invoice.telegram_set_step($2, coalesce(v_step, '{"step": "located"}')
		|| jsonb_build_object('location', jsonb_build_object('lon', v_lon, 'lat', v_lat)));
	SELECT b.name INTO v_name FROM invoice.branches b
	 WHERE b.org_id = invoice.current_org() AND b.branch_id = v_branch;
	RETURN jsonb_build_array(invoice.telegram_say(upd,
		format('La sucursal más cercana es <b>%s</b>. %s', invoice.telegram_html(v_name),
			   CASE WHEN v_step IS NULL THEN 'La usaré en la factura que crees con /nueva durante la próxima hora.'
					ELSE 'La usaré en la factura en curso.' END)));
END
$$;
COMMENT ON FUNCTION invoice.telegram_location(jsonb, bigint) IS 'a location shared: the draft in progress goes under the tenant''s nearest branch (or the next draft, within the hour)';

-- plain text during /nueva goes to its step; at a step of "Paso a paso", a
-- whole item in one line is still taken as one
CREATE FUNCTION invoice.telegram_step_text(upd jsonb, telegram_user_id bigint, input text)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_step		jsonb := invoice.telegram_step($2);
	v_id		bigint := (v_step ->> 'invoice_id')::bigint;
BEGIN
	CASE v_step ->> 'step'
		WHEN 'customer' THEN
			RETURN invoice.telegram_customer(upd, $2, input);
		WHEN 'items' THEN
			RETURN invoice.telegram_item(upd, v_id, input);
		WHEN 'item_desc', 'item_qty', 'item_price', 'item_weight' THEN
			IF cardinality(regexp_split_to_array(input, ';')) BETWEEN 3 AND 4 THEN
				RETURN invoice.telegram_item(upd, v_id, input);
			END IF;
			RETURN invoice.telegram_guided(upd, $2, v_step, input);
		WHEN 'confirm' THEN
			RETURN jsonb_build_array(invoice.telegram_say(upd,
				'Pulsa <b>Confirmar</b> para emitir la factura, o /cancelar.'));
		ELSE
			RETURN NULL;
	END CASE;
END
$$;
COMMENT ON FUNCTION invoice.telegram_step_text(jsonb, bigint, text) IS 'a message typed during /nueva, handed to its step (NULL when none is in progress)';

-- the buttons of /nueva: "c:ID" (a customer), "n:add", "n:step" (Paso a
-- paso), "n:noweight" (Sin peso), "n:issue", "n:ok", "n:cancel"
CREATE FUNCTION invoice.telegram_step_button(upd jsonb, telegram_user_id bigint, data text)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_step		jsonb := invoice.telegram_step($2);
	v_id		bigint := (v_step ->> 'invoice_id')::bigint;
	v_number	text;
BEGIN
	IF data ~ '^c:[0-9]{1,18}$' AND v_step ->> 'step' = 'customer'
		AND EXISTS (SELECT 1 FROM invoice.customers c
					 WHERE c.org_id = invoice.current_org() AND c.customer_id = substr(data, 3)::bigint) THEN
		RETURN invoice.telegram_answer(upd) || invoice.telegram_customer_chosen(upd, $2, substr(data, 3)::bigint);
	ELSIF data = 'n:cancel' AND v_step IS NOT NULL THEN
		PERFORM invoice.telegram_drop_draft($2);
		RETURN invoice.telegram_answer(upd) || jsonb_build_array(invoice.telegram_say(upd, 'Cancelé la factura en curso.'));
	ELSIF data = 'n:add' AND v_step ->> 'step' IN ('items', 'confirm', 'item_desc', 'item_qty', 'item_price', 'item_weight') THEN
		PERFORM invoice.telegram_set_step($2, jsonb_build_object('step', 'items', 'invoice_id', v_id));
		RETURN invoice.telegram_answer(upd) || jsonb_build_array(invoice.telegram_say(upd,
			'Escribe el siguiente ítem: <code>descripción; cantidad; precio[; peso en gramos]</code>, '
			'o pulsa <b>Paso a paso</b>.', invoice.telegram_guided_button()));
	ELSIF data = 'n:step' AND v_step ->> 'step' IN ('items', 'confirm', 'item_desc', 'item_qty', 'item_price', 'item_weight') THEN
		RETURN invoice.telegram_answer(upd) || invoice.telegram_guided_ask(upd, $2, v_id, 'item_desc', NULL);
	ELSIF data = 'n:noweight' AND v_step ->> 'step' = 'item_weight' THEN
		RETURN invoice.telegram_answer(upd) || invoice.telegram_item_add(upd, $2, v_id, v_step -> 'item');
	ELSIF data = 'n:issue' AND v_step ->> 'step' IN ('items', 'item_desc', 'item_qty', 'item_price', 'item_weight') THEN
		IF NOT EXISTS (SELECT 1 FROM invoice.invoice_items it
						WHERE it.org_id = invoice.current_org() AND it.invoice_id = v_id) THEN
			RETURN invoice.telegram_answer(upd, 'Agrega al menos un ítem antes de emitir.');
		END IF;
		PERFORM invoice.telegram_set_step($2, jsonb_build_object('step', 'confirm', 'invoice_id', v_id));
		RETURN invoice.telegram_answer(upd) || jsonb_build_array(invoice.telegram_say(upd,
			(SELECT format('¿Emito la factura a <b>%s</b> por <b>%s</b>? Después no se podrá cambiar.',
						   invoice.telegram_html(c.name), invoice.telegram_money(i.total))
			   FROM invoice.invoices i JOIN invoice.customers c ON c.org_id = i.org_id AND c.customer_id = i.customer_id
			  WHERE i.org_id = invoice.current_org() AND i.invoice_id = v_id),
			jsonb_build_object('inline_keyboard', jsonb_build_array(jsonb_build_array(
				jsonb_build_object('text', 'Confirmar', 'callback_data', 'n:ok'),
				jsonb_build_object('text', 'Cancelar', 'callback_data', 'n:cancel'))))));
	ELSIF data = 'n:ok' AND v_step ->> 'step' = 'confirm' THEN
		BEGIN
			v_number := invoice.issue(v_id);
		EXCEPTION WHEN object_not_in_prerequisite_state OR invalid_parameter_value OR program_limit_exceeded THEN
			RETURN invoice.telegram_answer(upd) || jsonb_build_array(invoice.telegram_say(upd,
				'No pude emitir la factura: revisa con quien administra la tienda la numeración autorizada.'));
		END;
		PERFORM invoice.telegram_set_step($2, NULL);
		RETURN invoice.telegram_answer(upd, 'Factura emitida')
			|| jsonb_build_array(invoice.telegram_say(upd,
				(SELECT format('Factura <b>%s</b> emitida por <b>%s</b>. Te envío el PDF.',
							   invoice.telegram_html(v_number), invoice.telegram_money(i.total))
				   FROM invoice.invoices i WHERE i.org_id = invoice.current_org() AND i.invoice_id = v_id)))
			|| invoice.telegram_pdf_action(upd, v_id);
	END IF;
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION invoice.telegram_step_button(jsonb, bigint, text) IS 'a button of /nueva (customer, Agregar ítem, Paso a paso, Sin peso, Emitir, Confirmar, Cancelar), valid only at its step; NULL otherwise';

/*
 * telegram_dispatch: the replies to one update, as a jsonb array of
 * actions.  Strangers get the refusal (or, with "/start CODE", a link);
 * a linked account works in its shop, as its user there; everyone is
 * held to about 20 updates a minute.
 */
CREATE FUNCTION invoice.telegram_dispatch(upd jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_cb		boolean := upd ? 'callback_query';
	v_tg		bigint := coalesce(upd #>> '{message,from,id}', upd #>> '{callback_query,from,id}')::bigint;
	v_text		text := btrim(coalesce(upd #>> '{message,text}', ''));
	v_data		text := coalesce(upd #>> '{callback_query,data}', '');
	v_cmd		text;
	v_arg		text;
	v_session	invoice.telegram_sessions;
	v_org		bigint;
	v_user		bigint;
	v_shops		integer;
	v_chosen	bigint;
	v_out		jsonb;
	v_error		text;
BEGIN
	IF NOT (upd ? 'message' OR v_cb) OR v_tg IS NULL THEN
		RETURN '[]'::jsonb;		-- nothing else is asked for (allowed_updates)
	END IF;

	v_session := invoice.telegram_rate(v_tg);
	IF v_session.window_updates > 20 THEN
		IF v_cb THEN
			RETURN invoice.telegram_answer(upd, 'Vas muy rápido. Espera un minuto, por favor.');
		ELSIF v_session.window_updates = 21 THEN
			RETURN jsonb_build_array(invoice.telegram_say(upd,
				'Vas muy rápido: espera un minuto y vuelve a intentarlo, por favor.'));
		END IF;
		RETURN '[]'::jsonb;
	END IF;

	v_cmd := lower(substring(v_text from '^(/[A-Za-z]+)(@\w+)?(\s|$)'));
	v_arg := coalesce(btrim(substring(v_text from '^/[A-Za-z]+(?:@\w+)?\s+(.*)$')), '');
	IF v_cmd = '/start' AND v_arg <> '' THEN
		RETURN invoice.telegram_link(upd, v_arg);
	END IF;

	-- the shop: the only one, or the one chosen and still linked (one
	-- lookup, by the index on users.telegram_user_id)
	SELECT count(*), min(u.org_id), min(u.user_id),
		   min(u.user_id) FILTER (WHERE u.org_id = v_session.shop_org_id AND v_session.shop_expires_at > now())
	  INTO v_shops, v_org, v_user, v_chosen
	  FROM invoice.users u
	  JOIN invoice.organizations o ON o.org_id = u.org_id AND o.is_active
	 WHERE u.telegram_user_id = v_tg AND u.is_active;
	IF v_shops = 0 THEN
		RETURN invoice.telegram_refuse(upd);
	END IF;
	IF v_cb AND v_data ~ '^t:[0-9]{1,18}$' THEN
		RETURN invoice.telegram_choose_shop(upd, v_tg, substr(v_data, 3)::bigint);
	END IF;
	IF v_shops > 1 THEN
		IF v_chosen IS NULL OR v_cmd = '/tienda' THEN
			RETURN CASE WHEN v_cb THEN invoice.telegram_answer(upd) ELSE '[]'::jsonb END
				|| invoice.telegram_shops(upd, v_tg);
		END IF;
		v_org := v_session.shop_org_id;
		v_user := v_chosen;
	END IF;
	PERFORM invoice.telegram_enter(v_org, v_user);

	BEGIN
		IF v_cb THEN
			v_out := invoice.telegram_button(upd, v_data);
		ELSE
			v_out := invoice.telegram_command(upd, v_cmd, v_arg, v_tg);
		END IF;
	EXCEPTION WHEN OTHERS THEN
		-- a failure of ours: a polite message, and the update counts as
		-- handled, so that the bridge does not offer it again and again
		GET STACKED DIAGNOSTICS v_error = MESSAGE_TEXT;
		RAISE LOG 'telegram: update % failed: %', upd ->> 'update_id', v_error;
		v_out := CASE WHEN v_cb
			THEN invoice.telegram_answer(upd, 'Lo siento, algo falló. Inténtalo de nuevo en un momento.')
			ELSE jsonb_build_array(invoice.telegram_say(upd,
				'Lo siento, algo falló de nuestro lado. Inténtalo de nuevo en un momento.')) END;
	END;
	RETURN v_out;
END
$$;
COMMENT ON FUNCTION invoice.telegram_dispatch(jsonb) IS 'the actions that answer one Bot API update (called by telegram_handle)';

-- the command a linked user typed, inside their shop
CREATE FUNCTION invoice.telegram_command(upd jsonb, cmd text, arg text, telegram_user_id bigint)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_out		jsonb;
	v_cmd		text := cmd;
	v_arg		text := arg;
	v_tg		bigint := telegram_user_id;
BEGIN
	IF v_cmd IS NULL AND upd #> '{message,location}' IS NOT NULL THEN
		RETURN invoice.telegram_location(upd, v_tg);
	ELSIF v_cmd IS NULL THEN
		v_out := invoice.telegram_step_text(upd, v_tg, btrim(coalesce(upd #>> '{message,text}', '')));
	END IF;
	v_out := coalesce(v_out, CASE v_cmd
		WHEN '/nueva' THEN invoice.telegram_new(upd, v_tg)
		WHEN '/start' THEN invoice.telegram_help(upd)
		WHEN '/ayuda' THEN invoice.telegram_help(upd)
		WHEN '/help' THEN invoice.telegram_help(upd)
		WHEN '/tienda' THEN jsonb_build_array(invoice.telegram_say(upd, 'Trabajas en una sola tienda.'))
		WHEN '/facturas' THEN invoice.telegram_invoices(upd)
		WHEN '/ver' THEN invoice.telegram_view(upd, v_arg)
		WHEN '/pdf' THEN invoice.telegram_pdf(upd, v_arg)
		WHEN '/buscar' THEN invoice.telegram_search(upd, v_arg)
		WHEN '/pago' THEN invoice.telegram_payment(upd, v_arg)
		WHEN '/anular' THEN invoice.telegram_void(upd, v_arg)
		WHEN '/cancelar' THEN invoice.telegram_cancel(upd, v_tg)
		END);
	RETURN coalesce(v_out, jsonb_build_array(invoice.telegram_say(upd,
		'No entendí. Escribe /ayuda para ver los comandos.')));
END
$$;
COMMENT ON FUNCTION invoice.telegram_command(jsonb, text, text, bigint) IS 'runs the command a linked user typed, one function a command';

CREATE FUNCTION invoice.telegram_handle(update jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_update	jsonb := $1;
	v_update_id	bigint;
	v_actions	jsonb;
BEGIN
	IF pg_catalog.jsonb_typeof(v_update) IS DISTINCT FROM 'object'
		OR pg_catalog.jsonb_typeof(v_update -> 'update_id') IS DISTINCT FROM 'number' THEN
		RAISE EXCEPTION 'update must be a Bot API Update object with a numeric "update_id"'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	v_update_id := (v_update ->> 'update_id')::bigint;

	INSERT INTO invoice.telegram_inbox (update_id) VALUES (v_update_id)
		ON CONFLICT (update_id) DO NOTHING;
	IF NOT FOUND THEN
		RETURN '{"actions": []}'::jsonb;	-- handled before: a redelivery
	END IF;

	v_actions := invoice.telegram_dispatch(v_update);

	WITH written AS (
		INSERT INTO invoice.telegram_outbox (update_id, org_id, chat_id, method, params, document)
		SELECT v_update_id, (a ->> 'org_id')::bigint,
			   COALESCE((a #>> '{params,chat_id}')::bigint, invoice.telegram_chat_id(v_update)),
			   a ->> 'method', a -> 'params', a -> 'document'
		  FROM pg_catalog.jsonb_array_elements(v_actions) WITH ORDINALITY AS t(a, i)
		 ORDER BY t.i
		RETURNING action_id, method, params, document
	)
	SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
			   'action_id', action_id, 'method', method, 'params', params, 'document', document))
			   ORDER BY action_id)
	  INTO v_actions
	  FROM written;

	UPDATE invoice.telegram_inbox SET handled_at = pg_catalog.clock_timestamp()
	 WHERE update_id OPERATOR(pg_catalog.=) v_update_id;
	RETURN pg_catalog.jsonb_build_object('actions', COALESCE(v_actions, '[]'::jsonb));
END
$$;
COMMENT ON FUNCTION invoice.telegram_handle(jsonb) IS 'handles one Bot API update once: records it, writes its replies to the outbox and returns them (invoice_bridge)';

/*
 * The bridge's side of the outbox.  A pending action's body is the JSON
 * to POST, or NULL when its document must be uploaded (multipart: the
 * fields from telegram_form, the file from telegram_document).  The
 * bridge reads the first few actions of every chat, so one chat's burst
 * never keeps the others out of its queues.
 */
CREATE FUNCTION invoice.telegram_pending(max_actions integer DEFAULT 100, per_chat integer DEFAULT 10)
RETURNS TABLE (action_id bigint, chat_id bigint, method text, body text, org_id bigint)
LANGUAGE sql STABLE STRICT PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	-- turn: the action's rank among its shop's (strangers' replies are one
	-- "shop"), never less than that of an earlier action of its chat; in
	-- turn order the shops take turns and each chat keeps its order
	SELECT o.action_id, o.chat_id, o.method,
		   CASE WHEN o.document IS NULL THEN o.params::text
				WHEN f.file_id IS NOT NULL
					THEN (o.params OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('document', f.file_id))::text
		   END, o.org_id
	  FROM (SELECT c.*, pg_catalog.max(c.nth_org) OVER (PARTITION BY c.chat_id ORDER BY c.action_id) AS turn
			  FROM (SELECT p.*, pg_catalog.row_number() OVER (PARTITION BY p.org_id ORDER BY p.action_id) AS nth_org
					  FROM (SELECT q.*, pg_catalog.row_number() OVER (PARTITION BY q.chat_id ORDER BY q.action_id) AS nth
							  FROM invoice.telegram_outbox q
							 WHERE q.sent_at IS NULL AND q.dropped_at IS NULL) p
					 WHERE p.nth OPERATOR(pg_catalog.<=) per_chat) c) o
	  LEFT JOIN LATERAL (
			SELECT s.file_id FROM invoice.telegram_outbox s
			 WHERE s.document OPERATOR(pg_catalog.=) o.document AND s.file_id IS NOT NULL
			   AND s.org_id IS NOT DISTINCT FROM o.org_id
			 ORDER BY s.action_id DESC LIMIT 1) f ON o.document IS NOT NULL
	 ORDER BY o.turn, o.action_id
	 LIMIT max_actions
$$;
COMMENT ON FUNCTION invoice.telegram_pending(integer, integer) IS 'the outbox actions not yet sent nor dropped, at most per_chat of each chat (the oldest), the shops taking turns: one chat''s or one shop''s burst does not hide the others (invoice_bridge)';

-- the fields of a pending document upload, every value as text
CREATE FUNCTION invoice.telegram_form(action_id bigint)
RETURNS TABLE (name text, value text)
LANGUAGE sql STABLE STRICT PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT p.key, CASE WHEN pg_catalog.jsonb_typeof(p.value) OPERATOR(pg_catalog.=) 'string'
					   THEN p.value #>> '{}' ELSE p.value::text END
	  FROM invoice.telegram_outbox o, pg_catalog.jsonb_each(o.params) p
	 WHERE o.action_id OPERATOR(pg_catalog.=) telegram_form.action_id
	   AND o.document IS NOT NULL AND o.sent_at IS NULL AND o.dropped_at IS NULL
	 ORDER BY p.key
$$;
COMMENT ON FUNCTION invoice.telegram_form(bigint) IS 'the form fields of a pending sendDocument action (invoice_bridge)';

-- the file of a pending document action, and of nothing else
CREATE FUNCTION invoice.telegram_document(action_id bigint)
RETURNS TABLE (filename text, content bytea)
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_org_id	bigint;
	v_document	jsonb;
BEGIN
	SELECT o.org_id, o.document INTO v_org_id, v_document
	  FROM invoice.telegram_outbox o
	 WHERE o.action_id OPERATOR(pg_catalog.=) telegram_document.action_id
	   AND o.document IS NOT NULL AND o.sent_at IS NULL AND o.dropped_at IS NULL;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'action % is not a pending document', telegram_document.action_id
			USING ERRCODE = 'no_data_found',
				  HINT = 'Only a document the outbox still has to send can be read.';
	END IF;
	IF v_document ->> 'format' IS DISTINCT FROM 'pdf' OR v_org_id IS NULL
		OR pg_catalog.jsonb_typeof(v_document -> 'invoice_id') IS DISTINCT FROM 'number' THEN
		RAISE EXCEPTION 'action %: "document" must name a PDF of an invoice of its tenant', telegram_document.action_id
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	-- the tenant the action was written for, for the rest of this transaction
	PERFORM invoice.set_tenant(v_org_id);
	filename := COALESCE(v_document ->> 'filename', 'factura.pdf');
	content := invoice.render_pdf((v_document ->> 'invoice_id')::bigint);
	RETURN NEXT;
END
$$;
COMMENT ON FUNCTION invoice.telegram_document(bigint) IS 'the file name and bytes of a pending sendDocument action (invoice_bridge)';

CREATE FUNCTION invoice.telegram_sent(action_id bigint, file_id text DEFAULT NULL)
RETURNS boolean
LANGUAGE sql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	UPDATE invoice.telegram_outbox o
	   SET sent_at = pg_catalog.now(), attempts = o.attempts OPERATOR(pg_catalog.+) 1,
		   file_id = CASE WHEN o.document IS NOT NULL THEN telegram_sent.file_id END
	 WHERE o.action_id OPERATOR(pg_catalog.=) telegram_sent.action_id
	   AND o.sent_at IS NULL AND o.dropped_at IS NULL
	RETURNING true
$$;
COMMENT ON FUNCTION invoice.telegram_sent(bigint, text) IS 'marks a pending action sent, keeping the file_id Telegram gave its document; NULL when it was not pending (invoice_bridge)';

CREATE FUNCTION invoice.telegram_failed(action_id bigint, reason text, permanent boolean DEFAULT true)
RETURNS boolean
LANGUAGE sql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	UPDATE invoice.telegram_outbox o
	   SET attempts = o.attempts OPERATOR(pg_catalog.+) 1,
		   last_error = pg_catalog.left(telegram_failed.reason, 1000),
		   dropped_at = CASE WHEN telegram_failed.permanent THEN pg_catalog.now() END
	 WHERE o.action_id OPERATOR(pg_catalog.=) telegram_failed.action_id
	   AND o.sent_at IS NULL AND o.dropped_at IS NULL
	RETURNING true
$$;
COMMENT ON FUNCTION invoice.telegram_failed(bigint, text, boolean) IS 'records a failed attempt at an action; a permanent failure (Telegram said 400) drops it (invoice_bridge)';

CREATE FUNCTION invoice.telegram_forget(older_than interval DEFAULT '7 days')
RETURNS bigint
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v_inbox		bigint;
BEGIN
	-- Telegram keeps an update for 24 hours: forgetting it sooner could
	-- handle a redelivery again
	IF older_than OPERATOR(pg_catalog.<) '1 day'::interval THEN
		RAISE EXCEPTION '"older_than" must be at least 1 day'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Telegram may deliver an update again for 24 hours.';
	END IF;
	DELETE FROM invoice.telegram_inbox
	 WHERE received_at OPERATOR(pg_catalog.<) (pg_catalog.now() OPERATOR(pg_catalog.-) older_than);
	GET DIAGNOSTICS v_inbox = ROW_COUNT;
	-- replies done with, but the documents whose file_id is still of use
	DELETE FROM invoice.telegram_outbox
	 WHERE COALESCE(sent_at, dropped_at) OPERATOR(pg_catalog.<) (pg_catalog.now() OPERATOR(pg_catalog.-) older_than)
	   AND file_id IS NULL;
	-- conversations whose shop choice and step have both expired
	DELETE FROM invoice.telegram_sessions s
	 WHERE s.window_started_at OPERATOR(pg_catalog.<) (pg_catalog.now() OPERATOR(pg_catalog.-) older_than)
	   AND COALESCE(s.shop_expires_at, '-infinity') OPERATOR(pg_catalog.<) pg_catalog.now()
	   AND COALESCE(s.state_expires_at, '-infinity') OPERATOR(pg_catalog.<) pg_catalog.now();
	RETURN v_inbox;
END
$$;
COMMENT ON FUNCTION invoice.telegram_forget(interval) IS 'forgets inbox rows, replies sent or dropped, and conversations all expired, older than older_than (at least 1 day); returns the inbox rows forgotten (invoice_bridge)';

/* ------------------------------------------------------------------------
 * Operations: shop locations (PostGIS), housekeeping, scheduling, health
 * ------------------------------------------------------------------------ */

-- PostGIS is a required extension: while this script runs, its schema is
-- on the search_path, wherever it was installed, so its type is named
-- without a schema here; the C sources look the schema up (src/geo.c).

CREATE SEQUENCE invoice.branch_id_seq;

CREATE TABLE invoice.branches (
	org_id				bigint NOT NULL,
	branch_id			bigint NOT NULL DEFAULT pg_catalog.nextval('invoice.branch_id_seq'),
	name				text NOT NULL,
	address				text,
	location			geography(Point, 4326) NOT NULL,
	created_at			timestamptz NOT NULL DEFAULT pg_catalog.now(),
	CONSTRAINT branches_pkey PRIMARY KEY (org_id, branch_id),
	CONSTRAINT branches_org_fkey FOREIGN KEY (org_id) REFERENCES invoice.organizations (org_id),
	CONSTRAINT branches_name_check CHECK (pg_catalog.btrim(name) OPERATOR(pg_catalog.<>) '')
);
COMMENT ON TABLE invoice.branches IS 'the shops of a tenant and where they are';
-- for queries across tenants; a tenant's own few branches are read through
-- the primary key (org_id first), nearest_branch included
CREATE INDEX branches_location_idx ON invoice.branches USING gist (location);

ALTER TABLE invoice.branches ENABLE ROW LEVEL SECURITY;
ALTER TABLE invoice.branches FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON invoice.branches
	USING (org_id OPERATOR(pg_catalog.=) (SELECT invoice.current_org()))
	WITH CHECK (org_id OPERATOR(pg_catalog.=) (SELECT invoice.current_org()));

ALTER TABLE invoice.invoices ADD CONSTRAINT invoices_branch_fkey
	FOREIGN KEY (org_id, branch_id) REFERENCES invoice.branches (org_id, branch_id);

SELECT invoice.audit_enable('invoice.branches');
SELECT pg_catalog.pg_extension_config_dump('invoice.branches', '');
SELECT pg_catalog.pg_extension_config_dump('invoice.branch_id_seq', '');

CREATE FUNCTION invoice.add_branch(name text, lon float8, lat float8, address text DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'invoice_add_branch'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION invoice.add_branch(text, float8, float8, text) IS 'adds a shop of the current tenant at (lon, lat), WGS 84 degrees (tenant admin user or invoice_admin)';

CREATE FUNCTION invoice.nearest_branch(lon float8, lat float8)
RETURNS bigint
AS 'MODULE_PATHNAME', 'invoice_nearest_branch'
LANGUAGE C STABLE PARALLEL UNSAFE;
COMMENT ON FUNCTION invoice.nearest_branch(float8, float8) IS 'the current tenant''s branch nearest to (lon, lat), or NULL when it has none';

CREATE FUNCTION invoice.set_branch(invoice_id bigint, branch_id bigint)
RETURNS void
AS 'MODULE_PATHNAME', 'invoice_set_branch'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION invoice.set_branch(bigint, bigint) IS 'puts a draft under one of the tenant''s branches (NULL: none)';

CREATE FUNCTION invoice.sales_by_branch(from_date date, to_date date)
RETURNS TABLE(branch_id bigint, name text, invoices bigint, total numeric)
AS 'MODULE_PATHNAME', 'invoice_sales_by_branch'
LANGUAGE C STABLE PARALLEL UNSAFE;
COMMENT ON FUNCTION invoice.sales_by_branch(date, date) IS 'issued and paid invoices of the current tenant by branch, by issue date in its time zone, both dates included; a NULL branch for sales without one';

CREATE FUNCTION invoice.sales_within(lon float8, lat float8, radius_m float8, from_date date, to_date date)
RETURNS TABLE(invoices bigint, total numeric)
AS 'MODULE_PATHNAME', 'invoice_sales_within'
LANGUAGE C STABLE PARALLEL UNSAFE;
COMMENT ON FUNCTION invoice.sales_within(float8, float8, float8, date, date) IS 'issued and paid invoices of the current tenant sold within radius_m metres of (lon, lat) (sale_location, else the branch''s), both dates included';

-- due dates and overdue invoices (src/due_dates.c): maintenance() marks
-- an issued invoice overdue once its due date has passed in its tenant's
-- time zone, and clears the mark when it is paid or voided
CREATE INDEX invoices_due_idx ON invoice.invoices (due_date)
	WHERE status OPERATOR(pg_catalog.=) 'issued' AND NOT overdue AND due_date IS NOT NULL;
CREATE INDEX invoices_overdue_idx ON invoice.invoices (org_id) WHERE overdue;

CREATE FUNCTION invoice.set_due_date(invoice_id bigint, due_date date)
RETURNS void
AS 'MODULE_PATHNAME', 'invoice_set_due_date'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION invoice.set_due_date(bigint, date) IS 'sets the due date of a draft (NULL: none, or the tenant''s payment_terms_days at issue)';

-- metrics (src/rollup.c, src/metrics.c): figures per tenant that
-- maintenance() keeps from the audit log, past each tenant's mark (the
-- last audit_id of its chain it has read), so that metrics() reads these
-- small tables and never the invoices.  They are as fresh as the last
-- pass, and derived (pg_dump keeps them all the same: see "Backups").
CREATE TABLE invoice.tenant_counts (
	org_id				bigint NOT NULL,
	audit_mark			bigint NOT NULL,
	drafts				bigint NOT NULL DEFAULT 0,
	issued				bigint NOT NULL DEFAULT 0,
	paid				bigint NOT NULL DEFAULT 0,
	voided				bigint NOT NULL DEFAULT 0,
	overdue				bigint NOT NULL DEFAULT 0,
	overdue_balance		numeric NOT NULL DEFAULT 0,
	last_number			bigint,
	-- the sales of the tenant's day (its time zone) as sales_daily holds
	-- them, summed over the sellers for metrics(); kept by the pass that
	-- moves audit_mark or that sees the day change
	today				date,
	today_mark			bigint,
	today_issued		bigint NOT NULL DEFAULT 0,
	today_subtotal		numeric NOT NULL DEFAULT 0,
	today_tax			numeric NOT NULL DEFAULT 0,
	today_total			numeric NOT NULL DEFAULT 0,
	CONSTRAINT tenant_counts_pkey PRIMARY KEY (org_id),
	CONSTRAINT tenant_counts_org_fkey FOREIGN KEY (org_id) REFERENCES invoice.organizations (org_id)
);
COMMENT ON TABLE invoice.tenant_counts IS 'per tenant: invoices by status, overdue invoices and their balance, the last number, and the sales of its day, as of the last maintenance() pass';

CREATE TABLE invoice.sales_daily (
	org_id				bigint NOT NULL,
	day					date NOT NULL,
	seller_id			bigint NOT NULL,
	issued				bigint NOT NULL DEFAULT 0,
	voided				bigint NOT NULL DEFAULT 0,
	subtotal			numeric NOT NULL DEFAULT 0,
	tax					numeric NOT NULL DEFAULT 0,
	total				numeric NOT NULL DEFAULT 0,
	voided_total		numeric NOT NULL DEFAULT 0,
	CONSTRAINT sales_daily_pkey PRIMARY KEY (org_id, day, seller_id),
	CONSTRAINT sales_daily_org_fkey FOREIGN KEY (org_id) REFERENCES invoice.organizations (org_id)
);
COMMENT ON TABLE invoice.sales_daily IS 'per tenant, day (its time zone) and seller (0: none): invoices issued and voided that day and their amounts, as of the last maintenance() pass';

ALTER TABLE invoice.tenant_counts ENABLE ROW LEVEL SECURITY;
ALTER TABLE invoice.tenant_counts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON invoice.tenant_counts
	USING (org_id OPERATOR(pg_catalog.=) (SELECT invoice.current_org()))
	WITH CHECK (org_id OPERATOR(pg_catalog.=) (SELECT invoice.current_org()));
ALTER TABLE invoice.sales_daily ENABLE ROW LEVEL SECURITY;
ALTER TABLE invoice.sales_daily FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON invoice.sales_daily
	USING (org_id OPERATOR(pg_catalog.=) (SELECT invoice.current_org()))
	WITH CHECK (org_id OPERATOR(pg_catalog.=) (SELECT invoice.current_org()));

-- JIT compiles the per-tenant lookups of a scrape for longer than they run
CREATE FUNCTION invoice.metrics()
RETURNS text
AS 'MODULE_PATHNAME', 'invoice_metrics'
LANGUAGE C VOLATILE PARALLEL UNSAFE
SET jit = off;
COMMENT ON FUNCTION invoice.metrics() IS 'Prometheus text exposition 0.0.4 of the figures per tenant, as fresh as the last maintenance() pass (invoice_admin)';

-- the chains' checks (src/maintenance.c): audit_check() verifies every
-- tenant's chain and keeps the outcome here, for health() and metrics()
CREATE TABLE invoice.audit_checks (
	checked_at			timestamptz NOT NULL,
	tenants				bigint NOT NULL,
	rows_checked		bigint NOT NULL,
	bad_orgs			bigint[] NOT NULL,
	duration_ms			float8 NOT NULL,
	CONSTRAINT audit_checks_pkey PRIMARY KEY (checked_at)
);
COMMENT ON TABLE invoice.audit_checks IS 'one row per audit_check(): when every chain was verified, and the tenants whose chain did not verify';

CREATE FUNCTION invoice.audit_check()
RETURNS jsonb
AS 'MODULE_PATHNAME', 'invoice_audit_check'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION invoice.audit_check() IS 'verifies every tenant''s audit chain and records the outcome for health() and metrics(); schedule it daily (invoice_admin)';

-- housekeeping (src/maintenance.c)
CREATE TABLE invoice.maintenance_state (
	singleton			boolean NOT NULL DEFAULT true,
	last_started_at		timestamptz NOT NULL,
	last_duration_ms	float8 NOT NULL,
	last_result			jsonb NOT NULL,
	runs				bigint NOT NULL,
	CONSTRAINT maintenance_state_pkey PRIMARY KEY (singleton),
	CONSTRAINT maintenance_state_singleton_check CHECK (singleton)
);
COMMENT ON TABLE invoice.maintenance_state IS 'one row: the last maintenance() pass, what it did and how long it took';

-- JIT off: the rollup's statement, estimated for every tenant changing,
-- crossed jit_above_cost at 10 000 tenants and spent 600 ms compiling a
-- pass that had nothing to read (bench/README.md, "Operations")
CREATE FUNCTION invoice.maintenance()
RETURNS jsonb
AS 'MODULE_PATHNAME', 'invoice_maintenance'
LANGUAGE C VOLATILE PARALLEL UNSAFE
SET jit = off;
COMMENT ON FUNCTION invoice.maintenance() IS 'one idempotent pass of housekeeping; a concurrent second call returns {"skipped": true} at once (invoice_admin)';

CREATE FUNCTION invoice.schedule_maintenance(schedule text DEFAULT '*/5 * * * *')
RETURNS bigint
AS 'MODULE_PATHNAME', 'invoice_schedule_maintenance'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION invoice.schedule_maintenance(text) IS 'creates or reschedules the pg_cron job invoice-maintenance of this database; returns its id, the same on every call (invoice_admin)';

CREATE FUNCTION invoice.unschedule_maintenance()
RETURNS void
AS 'MODULE_PATHNAME', 'invoice_unschedule_maintenance'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION invoice.unschedule_maintenance() IS 'removes the pg_cron job invoice-maintenance of this database (invoice_admin)';

CREATE FUNCTION invoice.health()
RETURNS jsonb
AS 'MODULE_PATHNAME', 'invoice_health'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION invoice.health() IS 'version, preload, pg_cron job and last run, audit partitions ahead, last maintenance, tenants running out of numbers or resolution (invoice_admin)';

/* ------------------------------------------------------------------------
 * Backups: every table and sequence of the extension is a configuration
 * table, so that pg_dump keeps its rows (test/dump_restore.sh checks that
 * none is left out).  The audit log's partitions made by CREATE EXTENSION
 * are registered by audit_create_partitions; its parent holds no rows.
 * ------------------------------------------------------------------------ */

SELECT pg_catalog.pg_extension_config_dump('invoice.maintenance_state', '');
-- the metrics rollup and the chain checks: derived, but a restore that
-- keeps them needs no rebuild, and their marks follow the restored log
SELECT pg_catalog.pg_extension_config_dump('invoice.tenant_counts', '');
SELECT pg_catalog.pg_extension_config_dump('invoice.sales_daily', '');
SELECT pg_catalog.pg_extension_config_dump('invoice.audit_checks', '');

/* ------------------------------------------------------------------------
 * Privileges: granted, never assumed, and last, after every object exists
 * (REVOKE ... ON ALL ... reaches only what exists when it runs)
 * ------------------------------------------------------------------------ */

-- service roles are application roles that may enter every tenant;
-- platform admins are service roles that may also create tenants
DO $members$
BEGIN
	IF NOT pg_catalog.pg_has_role('invoice_service', 'invoice_app', 'MEMBER') THEN
		GRANT invoice_app TO invoice_service;
	END IF;
	IF NOT pg_catalog.pg_has_role('invoice_admin', 'invoice_service', 'MEMBER') THEN
		GRANT invoice_service TO invoice_admin;
	END IF;
END
$members$;

GRANT USAGE ON SCHEMA invoice TO invoice_app, invoice_admin, invoice_bridge;

REVOKE ALL ON ALL TABLES IN SCHEMA invoice FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA invoice FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA invoice FROM PUBLIC;

GRANT SELECT ON invoice.organizations, invoice.users, invoice.customers,
	invoice.invoices, invoice.invoice_items, invoice.payments, invoice.audit_log TO invoice_app;
GRANT SELECT ON invoice.organizations, invoice.tenant_grants TO invoice_admin;

-- what anyone may call: the tenant context (NULL outside one), the pure
-- totals, and the WHEN clause of the audit_write triggers, evaluated for
-- every row written to an audited table by whoever writes it
GRANT EXECUTE ON FUNCTION invoice.current_org(), invoice.current_user_id(),
	invoice.totals(jsonb, numeric), invoice.audit_write_needed() TO PUBLIC;
GRANT EXECUTE ON FUNCTION
	invoice.set_tenant(bigint, bigint),
	invoice.add_user(text, text, bigint),
	invoice.update_organization(bigint, jsonb),
	invoice.upsert_customer(text, text, text, text, text, text),
	invoice.add_item(bigint, jsonb),
	invoice.update_item(bigint, integer, jsonb),
	invoice.remove_item(bigint, integer),
	invoice.set_customer(bigint, bigint),
	invoice.issue(bigint),
	invoice.create_and_issue(bigint, jsonb, text, text),
	invoice.payment_methods(),
	invoice.payment_method_labels(),
	invoice.void(bigint, text),
	invoice.record_payment(bigint, numeric, text),
	invoice.delete_draft(bigint),
	invoice.to_json(bigint),
	invoice.render_html(bigint),
	invoice.render_pdf(bigint),
	invoice.audit_verify(bigint),
	invoice.row_history(regclass, jsonb)
	TO invoice_app;
GRANT EXECUTE ON FUNCTION
	invoice.create_organization(text, text, text, jsonb),
	invoice.grant_tenant(name, bigint),
	invoice.revoke_tenant(name, bigint),
	invoice.audit_enable(regclass),
	invoice.audit_purge(interval),
	invoice.audit_create_partitions(integer),
	invoice.audit_row(),
	invoice.audit_flush()
	TO invoice_admin;

-- Telegram: the bridge's role calls its functions and reaches nothing else
REVOKE ALL ON invoice.telegram_inbox, invoice.telegram_outbox, invoice.telegram_action_id_seq FROM PUBLIC;
REVOKE ALL ON FUNCTION invoice.telegram_chat_id(jsonb), invoice.telegram_refuse(jsonb),
	invoice.telegram_dispatch(jsonb), invoice.telegram_handle(jsonb),
	invoice.telegram_pending(integer, integer), invoice.telegram_form(bigint),
	invoice.telegram_document(bigint), invoice.telegram_sent(bigint, text),
	invoice.telegram_failed(bigint, text, boolean), invoice.telegram_forget(interval)
	FROM PUBLIC;
GRANT EXECUTE ON FUNCTION invoice.telegram_handle(jsonb),
	invoice.telegram_pending(integer, integer), invoice.telegram_form(bigint),
	invoice.telegram_document(bigint), invoice.telegram_sent(bigint, text),
	invoice.telegram_failed(bigint, text, boolean), invoice.telegram_forget(interval)
	TO invoice_bridge;
-- the conversation's functions are called by telegram_handle only (EXECUTE
-- for no role, as REVOKE ... ON ALL FUNCTIONS left them; named here are
-- those that enter a tenant or write a draft); the tenant's admin user
-- creates invitations and reads them in the tenant
REVOKE ALL ON FUNCTION invoice.telegram_enter(bigint, bigint), invoice.telegram_rate(bigint),
	invoice.telegram_item_add(jsonb, bigint, bigint, jsonb), invoice.telegram_guided(jsonb, bigint, jsonb, text),
	invoice.telegram_guided_ask(jsonb, bigint, bigint, text, jsonb), invoice.telegram_item_check(jsonb),
	invoice.telegram_item_error(text), invoice.telegram_guided_button(),
	invoice.telegram_place(bigint, float8, float8), invoice.telegram_location(jsonb, bigint)
	FROM PUBLIC;
GRANT SELECT ON invoice.telegram_invitations TO invoice_app;
GRANT EXECUTE ON FUNCTION invoice.invite_user(bigint, interval) TO invoice_app;

-- Operations: shop locations, housekeeping, health
REVOKE ALL ON invoice.branches, invoice.branch_id_seq, invoice.maintenance_state,
	invoice.tenant_counts, invoice.sales_daily, invoice.audit_checks FROM PUBLIC;
REVOKE ALL ON FUNCTION invoice.create_invoice(bigint, jsonb, text, bigint, date),
	invoice.add_branch(text, float8, float8, text), invoice.nearest_branch(float8, float8),
	invoice.set_branch(bigint, bigint), invoice.sales_by_branch(date, date),
	invoice.sales_within(float8, float8, float8, date, date), invoice.set_due_date(bigint, date),
	invoice.maintenance(),
	invoice.schedule_maintenance(text), invoice.unschedule_maintenance(), invoice.health(),
	invoice.metrics(), invoice.audit_check()
	FROM PUBLIC;
GRANT SELECT ON invoice.branches, invoice.tenant_counts, invoice.sales_daily TO invoice_app;
GRANT SELECT ON invoice.maintenance_state, invoice.audit_checks TO invoice_admin;
GRANT EXECUTE ON FUNCTION invoice.create_invoice(bigint, jsonb, text, bigint, date),
	invoice.add_branch(text, float8, float8, text), invoice.nearest_branch(float8, float8),
	invoice.set_branch(bigint, bigint), invoice.sales_by_branch(date, date),
	invoice.sales_within(float8, float8, float8, date, date), invoice.set_due_date(bigint, date)
	TO invoice_app;
GRANT EXECUTE ON FUNCTION invoice.maintenance(), invoice.schedule_maintenance(text),
	invoice.unschedule_maintenance(), invoice.health(), invoice.metrics(),
	invoice.audit_check()
	TO invoice_admin;
