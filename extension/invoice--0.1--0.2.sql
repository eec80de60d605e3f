/* extension/invoice--0.1--0.2.sql */
\echo Use "ALTER EXTENSION invoice UPDATE TO '0.2'" to load this file. \quit

/*
 * 0.1 -> 0.2.  Every change here is also made in invoice--0.2.sql, and
 * test/upgrade_check.sh checks that both give the same objects.  New
 * columns go at the end of their tables in both scripts, in the same order
 * (the C sources address columns by position).  Sections by topic; keep
 * each change in its own section.
 */

/* ------------------------------------------------------------------------
 * Issued invoices keep the seller and customer they were issued with
 * ------------------------------------------------------------------------ */

-- what the document of an issued invoice shows of its seller and customer,
-- kept by issue(); filled for the invoices issued under 0.1 below, once the
-- shop's identity columns exist
ALTER TABLE invoice.invoices
	ADD COLUMN seller_snapshot jsonb,
	ADD COLUMN customer_snapshot jsonb;


/* ------------------------------------------------------------------------
 * The shop's identity on the document
 * ------------------------------------------------------------------------ */

ALTER TABLE invoice.organizations
	ADD COLUMN address text,
	ADD COLUMN city text,
	ADD COLUMN department text,
	ADD COLUMN phone text,
	ADD COLUMN email text,
	ADD COLUMN tax_regime text,
	ADD CONSTRAINT organizations_tax_regime_check CHECK (tax_regime OPERATOR(pg_catalog.=) ANY (ARRAY['responsable_iva', 'no_responsable_iva']));

-- NULL: paid in cash (contado); a date: on credit, due that day
ALTER TABLE invoice.invoices
	ADD COLUMN due_date date;

/*
 * The invoices issued under 0.1 keep, from now on, their seller and
 * customer as they are at this upgrade (0.1 kept nothing older).  The
 * objects are those issue() builds (DOC_SELLER_SNAPSHOT_SQL and
 * DOC_CUSTOMER_SNAPSHOT_SQL in src/invoice_doc.h).  The guard refuses any
 * change to an issued invoice, so it is disabled for this one statement
 * only; the audit triggers stay on and record the change in every
 * tenant's chain.  Their deferred write is made to happen right after
 * the statement (SET CONSTRAINTS ... IMMEDIATE), since ALTER TABLE
 * refuses a table with trigger events still pending, and is deferred
 * again afterwards.
 */
ALTER TABLE invoice.invoices DISABLE TRIGGER invoices_guard;
UPDATE invoice.invoices i
   SET seller_snapshot = pg_catalog.jsonb_build_object('name', o.name, 'tax_id', o.tax_id,
			'address', o.address, 'city', o.city, 'department', o.department,
			'phone', o.phone, 'email', o.email, 'tax_regime', o.tax_regime,
			'resolution', o.resolution, 'prefix', o.prefix,
			'number_from', o.number_from, 'number_to', o.number_to,
			'valid_from', o.valid_from, 'valid_to', o.valid_to,
			'timezone', o.timezone),
	   customer_snapshot = pg_catalog.jsonb_build_object('id_type', c.id_type, 'id_number', c.id_number,
			'name', c.name, 'address', c.address, 'phone', c.phone,
			'email', c.email)
  FROM invoice.organizations o, invoice.customers c
 WHERE i.status OPERATOR(pg_catalog.<>) 'draft'
   AND o.org_id OPERATOR(pg_catalog.=) i.org_id
   AND c.org_id OPERATOR(pg_catalog.=) i.org_id
   AND c.customer_id OPERATOR(pg_catalog.=) i.customer_id;
SET CONSTRAINTS invoice.audit_write IMMEDIATE;
SET CONSTRAINTS invoice.audit_write DEFERRED;
ALTER TABLE invoice.invoices ENABLE TRIGGER invoices_guard;

ALTER TABLE invoice.invoices
	ADD CONSTRAINT invoices_snapshot_check CHECK ((status OPERATOR(pg_catalog.=) 'draft') OPERATOR(pg_catalog.=) (seller_snapshot IS NULL) AND (status OPERATOR(pg_catalog.=) 'draft') OPERATOR(pg_catalog.=) (customer_snapshot IS NULL));


/* ------------------------------------------------------------------------
 * The counter sale in one statement
 * ------------------------------------------------------------------------ */

CREATE FUNCTION invoice.create_and_issue(customer_id bigint, items jsonb, notes text DEFAULT NULL, paid_with text DEFAULT NULL)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'invoice_create_and_issue'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION invoice.create_and_issue(bigint, jsonb, text, text) IS 'the counter sale: creates an invoice already issued (and paid in full when paid_with names a method) in one statement';


/* ------------------------------------------------------------------------
 * Hardening: qualified operators, bounded text, statistics
 * ------------------------------------------------------------------------ */

-- BETWEEN resolves >= and <= through search_path, which held public while
-- 0.1 was installed: re-add the CHECKs with operators from pg_catalog
ALTER TABLE invoice.invoice_items DROP CONSTRAINT invoice_items_karat_check,
	ADD CONSTRAINT invoice_items_karat_check CHECK (karat OPERATOR(pg_catalog.>=) 1 AND karat OPERATOR(pg_catalog.<=) 24);

-- no planner statistics on free text and personal data: EXPLAIN's row
-- estimate, open to any reader without a tenant, would tell another
-- tenant's values (see invoice--0.2.sql)
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

-- the partitions made so far: ANALYZE reads each partition's own targets
DO $stats$
DECLARE
	part regclass;
	col name;
BEGIN
	FOR part IN SELECT i.inhrelid::pg_catalog.regclass FROM pg_catalog.pg_inherits i
		WHERE i.inhparent OPERATOR(pg_catalog.=) 'invoice.audit_log'::pg_catalog.regclass
	LOOP
		FOREACH col IN ARRAY ARRAY['db_role', 'db_current_role', 'row_key', 'old_row', 'new_row', 'changed']::pg_catalog.name[]
		LOOP
			EXECUTE pg_catalog.format('ALTER TABLE %s ALTER COLUMN %I SET STATISTICS 0', part, col);
		END LOOP;
	END LOOP;
END
$stats$;



/* ------------------------------------------------------------------------
 * Audit partitions
 * ------------------------------------------------------------------------ */


/* ------------------------------------------------------------------------
 * Telegram
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

-- the chat an update came from (NULL when it has none)
CREATE FUNCTION invoice.telegram_chat_id(upd jsonb)
RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT COALESCE(upd #>> '{message,chat,id}',
					upd #>> '{callback_query,message,chat,id}',
					upd #>> '{callback_query,from,id}')::bigint
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
 * telegram_dispatch: the replies to one update, as a jsonb array of
 * actions.  It picks the handler by the kind of update and by who sent
 * it; no account can be linked yet, so every sender is a stranger and
 * gets the refusal.  The conversation plugs in here.
 */
CREATE FUNCTION invoice.telegram_dispatch(upd jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF NOT (upd ? 'message' OR upd ? 'callback_query') THEN
		RETURN '[]'::jsonb;		-- nothing else is asked for (allowed_updates)
	END IF;
	RETURN invoice.telegram_refuse(upd);
END
$$;
COMMENT ON FUNCTION invoice.telegram_dispatch(jsonb) IS 'the actions that answer one Bot API update (called by telegram_handle)';

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
RETURNS TABLE (action_id bigint, chat_id bigint, method text, body text)
LANGUAGE sql STABLE STRICT PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT o.action_id, o.chat_id, o.method,
		   CASE WHEN o.document IS NULL THEN o.params::text
				WHEN f.file_id IS NOT NULL
					THEN (o.params OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('document', f.file_id))::text
		   END
	  FROM (SELECT p.*, pg_catalog.row_number() OVER (PARTITION BY p.chat_id ORDER BY p.action_id) AS nth
			  FROM invoice.telegram_outbox p
			 WHERE p.sent_at IS NULL AND p.dropped_at IS NULL) o
	  LEFT JOIN LATERAL (
			SELECT s.file_id FROM invoice.telegram_outbox s
			 WHERE s.document OPERATOR(pg_catalog.=) o.document AND s.file_id IS NOT NULL
			   AND s.org_id IS NOT DISTINCT FROM o.org_id
			 ORDER BY s.action_id DESC LIMIT 1) f ON o.document IS NOT NULL
	 WHERE o.nth OPERATOR(pg_catalog.<=) per_chat
	 ORDER BY o.action_id
	 LIMIT max_actions
$$;
COMMENT ON FUNCTION invoice.telegram_pending(integer, integer) IS 'the outbox actions not yet sent nor dropped, oldest first, at most per_chat of each chat, so that one chat''s burst does not hide the others (invoice_bridge)';

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
	RETURN v_inbox;
END
$$;
COMMENT ON FUNCTION invoice.telegram_forget(interval) IS 'forgets inbox rows, and replies sent or dropped, older than older_than (at least 1 day); returns the inbox rows forgotten (invoice_bridge)';


/* ------------------------------------------------------------------------
 * Operations
 * ------------------------------------------------------------------------ */

ALTER TABLE invoice.invoices
	ADD COLUMN branch_id bigint,
	ADD COLUMN sale_location geography(Point, 4326);

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
-- nearest_branch orders by distance through this index (KNN)
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

-- a fourth argument: drop the 0.1 declaration (its privileges are granted
-- again at the end of this script)
DROP FUNCTION invoice.create_invoice(bigint, jsonb, text);
CREATE FUNCTION invoice.create_invoice(customer_id bigint, items jsonb DEFAULT '[]', notes text DEFAULT NULL, branch_id bigint DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'invoice_create_invoice'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION invoice.create_invoice(bigint, jsonb, text, bigint) IS 'creates a draft invoice with its items and totals, optionally at one of the tenant''s branches';

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

ALTER TABLE invoice.organizations
	ADD COLUMN payment_terms_days integer,
	ADD COLUMN audit_retention_days integer,
	ADD CONSTRAINT organizations_payment_terms_check CHECK (payment_terms_days OPERATOR(pg_catalog.>=) 0),
	ADD CONSTRAINT organizations_audit_retention_check CHECK (audit_retention_days OPERATOR(pg_catalog.>) 0);
ALTER TABLE invoice.invoices
	ADD COLUMN overdue boolean NOT NULL DEFAULT false;

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
	CONSTRAINT tenant_counts_pkey PRIMARY KEY (org_id),
	CONSTRAINT tenant_counts_org_fkey FOREIGN KEY (org_id) REFERENCES invoice.organizations (org_id)
);
COMMENT ON TABLE invoice.tenant_counts IS 'per tenant: invoices by status, overdue invoices and their balance, the last number, as of the last maintenance() pass';

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

CREATE FUNCTION invoice.maintenance()
RETURNS jsonb
AS 'MODULE_PATHNAME', 'invoice_maintenance'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
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
 * One home per rule: payment methods and rates
 * ------------------------------------------------------------------------ */

-- the accepted payment methods: one list, in C (src/payment_methods.c),
-- read by payments_method_check, record_payment() and the documents
CREATE FUNCTION invoice.payment_methods()
RETURNS text[]
AS 'MODULE_PATHNAME', 'invoice_payment_methods'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION invoice.payment_methods() IS 'the accepted payment methods, as payments.method stores them';

ALTER TABLE invoice.payments DROP CONSTRAINT payments_method_check;
ALTER TABLE invoice.payments ADD CONSTRAINT payments_method_check
	CHECK (method OPERATOR(pg_catalog.=) ANY (invoice.payment_methods()));

-- rates: 0 to 100 (at most 4 decimals: numeric(7,4)), the rule of
-- rate_from_numeric() in C, with operators that do not resolve through
-- search_path as BETWEEN does
ALTER TABLE invoice.organizations DROP CONSTRAINT organizations_tax_rate_check;
ALTER TABLE invoice.organizations ADD CONSTRAINT organizations_tax_rate_check
	CHECK (default_tax_rate OPERATOR(pg_catalog.>=) 0 AND default_tax_rate OPERATOR(pg_catalog.<=) 100);
ALTER TABLE invoice.invoice_items DROP CONSTRAINT invoice_items_rates_check;
ALTER TABLE invoice.invoice_items ADD CONSTRAINT invoice_items_rates_check
	CHECK (tax_rate OPERATOR(pg_catalog.>=) 0 AND tax_rate OPERATOR(pg_catalog.<=) 100
		AND discount_pct OPERATOR(pg_catalog.>=) 0 AND discount_pct OPERATOR(pg_catalog.<=) 100);


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
 * Privileges: last, after every object exists
 * ------------------------------------------------------------------------ */

-- 0.1 revoked PUBLIC's EXECUTE before the audit functions existed, which
-- left invoice.audit_row_ord executable by PUBLIC: revoke everything, as
-- the end of invoice--0.2.sql does, and give back only what anyone may
-- call (the tenant context, the pure totals, and the WHEN clause of the
-- audit_write triggers that every writer evaluates)
REVOKE ALL ON ALL TABLES IN SCHEMA invoice FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA invoice FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA invoice FROM PUBLIC;
GRANT EXECUTE ON FUNCTION invoice.current_org(), invoice.current_user_id(),
	invoice.totals(jsonb, numeric), invoice.audit_write_needed() TO PUBLIC;

GRANT EXECUTE ON FUNCTION invoice.create_and_issue(bigint, jsonb, text, text) TO invoice_app;
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
/* ------------------------------------------------------------------------
 * Operations: privileges
 * ------------------------------------------------------------------------ */

REVOKE ALL ON invoice.branches, invoice.branch_id_seq, invoice.maintenance_state,
	invoice.tenant_counts, invoice.sales_daily, invoice.audit_checks FROM PUBLIC;
REVOKE ALL ON FUNCTION invoice.create_invoice(bigint, jsonb, text, bigint),
	invoice.add_branch(text, float8, float8, text), invoice.nearest_branch(float8, float8),
	invoice.set_branch(bigint, bigint), invoice.sales_by_branch(date, date),
	invoice.sales_within(float8, float8, float8, date, date), invoice.set_due_date(bigint, date),
	invoice.maintenance(),
	invoice.schedule_maintenance(text), invoice.unschedule_maintenance(), invoice.health(),
	invoice.metrics(), invoice.audit_check()
	FROM PUBLIC;
GRANT SELECT ON invoice.branches, invoice.tenant_counts, invoice.sales_daily TO invoice_app;
GRANT SELECT ON invoice.maintenance_state, invoice.audit_checks TO invoice_admin;
GRANT EXECUTE ON FUNCTION invoice.create_invoice(bigint, jsonb, text, bigint),
	invoice.add_branch(text, float8, float8, text), invoice.nearest_branch(float8, float8),
	invoice.set_branch(bigint, bigint), invoice.sales_by_branch(date, date),
	invoice.sales_within(float8, float8, float8, date, date), invoice.set_due_date(bigint, date)
	TO invoice_app;
GRANT EXECUTE ON FUNCTION invoice.maintenance(), invoice.schedule_maintenance(text),
	invoice.unschedule_maintenance(), invoice.health(), invoice.metrics(),
	invoice.audit_check()
	TO invoice_admin;
