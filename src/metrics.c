/*-------------------------------------------------------------------------
 *
 * metrics.c
 *	  metrics(): the Prometheus text exposition (format 0.0.4) of the
 *	  figures per tenant and of the extension's health.
 *
 * A scrape reads small tables only: the tenants, their counts and daily
 * sales that maintenance() keeps (src/rollup.c), the heads of their audit
 * chains, the last audit_check(), the last maintenance pass and the
 * Telegram queues.  It never reads the invoices, so its figures are as
 * fresh as the last pass (invoice_maintenance_last_run_timestamp_seconds
 * says when that was).
 *
 * Every family has its HELP and TYPE, its samples together; label values
 * (a tenant's name is free text) are escaped as the format says:
 * backslash, double quote and line feed.  Counters end in _total.
 *
 * Speed: with 10 000 tenants a scrape is some 170 000 samples, 10 MB.  The
 * tenants' statement reads one row a tenant of each small table (the
 * day's sales are summed into tenant_counts by the pass) and returns typed
 * values, no text casts.  One pass over its rows, while SPI is still
 * connected, formats each tenant's labels (escaped once) and values into
 * one arena; the families are then written tenant after tenant with plain
 * copies, into a result allocated once at its exact size.
 *
 * Who may call: members of invoice_admin and superusers.  It runs as the
 * owner of the tables, across tenants.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type_d.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/memutils.h"

#include "exec.h"
#include "tenant.h"

PG_FUNCTION_INFO_V1(invoice_metrics);

/* the columns of the tenants statement, from 0 */
enum
{
	M_ORG_ID,
	M_ORG,
	M_DRAFTS,					/* then issued, paid, void */
	M_ISSUED,
	M_PAID,
	M_VOID,
	M_OVERDUE,
	M_OVERDUE_BALANCE,
	M_TODAY_INVOICES,
	M_TODAY_SUBTOTAL,
	M_TODAY_TAX,
	M_TODAY_TOTAL,
	M_NUMBERS_LEFT,
	M_SECONDS_LEFT,
	M_AUDIT_ROWS,
	M_AUDIT_WRITTEN,
	M_CHAIN_OK,
	M_TODAY_OK,					/* whether the M_TODAY_ columns are of today */
	M_NCOLS
};

#define EQ		" OPERATOR(pg_catalog.=) "
#define MINUS	" OPERATOR(pg_catalog.-) "
#define PLUS	" OPERATOR(pg_catalog.+) "

/*
 * One row a tenant, typed: int8, numeric, float8 and bool values, each
 * written by its own output code.  A NULL count or amount (no row in the
 * rollup, no sale today) is 0; a NULL range, resolution or check means
 * the tenant has none, and no sample.  The day's sales are those the last
 * pass summed into the tenant's row (src/rollup.c), when that pass ran on
 * the tenant's today (M_TODAY_OK); after its midnight and before the next
 * pass, none.
 */
static const char *const tenants_sql =
"SELECT o.org_id, o.name, c.drafts, c.issued, c.paid, c.voided, c.overdue, c.overdue_balance,"
" c.today_issued, c.today_subtotal, c.today_tax, c.today_total,"
" o.number_to" MINUS "GREATEST(c.last_number, o.number_from" MINUS "1),"
" pg_catalog.date_part('epoch', pg_catalog.timezone(o.timezone,"
"  (o.valid_to" PLUS "1)::pg_catalog.timestamp)" MINUS "pg_catalog.now()),"
" h.row_count, COALESCE(h.row_count, 0)" PLUS "COALESCE(h.purged_rows, 0),"
" CASE WHEN k.checked_at IS NOT NULL THEN"
"  o.org_id OPERATOR(pg_catalog.<>) ALL (k.bad_orgs) END,"
" c.today" EQ "pg_catalog.timezone(o.timezone, pg_catalog.now())::pg_catalog.date"
" FROM invoice.organizations o"
" LEFT JOIN (SELECT a.checked_at, a.bad_orgs FROM invoice.audit_checks a"
"  ORDER BY a.checked_at DESC LIMIT 1) k ON k.checked_at OPERATOR(pg_catalog.>=) o.created_at"
" LEFT JOIN invoice.tenant_counts c ON c.org_id" EQ "o.org_id"
" LEFT JOIN invoice.audit_heads h ON h.org_id" EQ "o.org_id"
" ORDER BY o.org_id";

static const char *const global_sql =
"SELECT (SELECT pg_catalog.date_part('epoch', m.last_started_at)::pg_catalog.text"
"  FROM invoice.maintenance_state m),"
" (SELECT (m.last_duration_ms OPERATOR(pg_catalog./) 1000)::pg_catalog.text FROM invoice.maintenance_state m),"
" (SELECT m.runs::pg_catalog.text FROM invoice.maintenance_state m),"
" (SELECT pg_catalog.count(*) FILTER (WHERE handled_at IS NOT NULL)::pg_catalog.text"
"  FROM invoice.telegram_inbox),"
" (SELECT pg_catalog.count(*) FILTER (WHERE handled_at IS NULL)::pg_catalog.text"
"  FROM invoice.telegram_inbox),"
" (SELECT pg_catalog.count(*) FILTER (WHERE sent_at IS NOT NULL)::pg_catalog.text FROM invoice.telegram_outbox),"
" (SELECT pg_catalog.count(*) FILTER (WHERE dropped_at IS NOT NULL)::pg_catalog.text FROM invoice.telegram_outbox),"
" (SELECT pg_catalog.count(*) FILTER (WHERE sent_at IS NULL AND dropped_at IS NULL)::pg_catalog.text"
"  FROM invoice.telegram_outbox),"
" (SELECT pg_catalog.date_part('epoch', pg_catalog.max(a.checked_at))::pg_catalog.text"
"  FROM invoice.audit_checks a)";

/* a family with a sample per tenant, from column `col` on */
typedef struct TenantFamily
{
	const char *name;
	const char *type;
	const char *help;
	int			col;
	bool		null_is_zero;	/* else a NULL writes no sample */
} TenantFamily;

/* the first family has a sample per status, from M_DRAFTS to M_VOID */
static const char *const statuses[] = {
	",status=\"draft\"", ",status=\"issued\"", ",status=\"paid\"", ",status=\"void\""
};

static const TenantFamily tenant_families[] = {
	{"invoice_invoices", "gauge",
	 "Invoices of the tenant by status, as of the last maintenance pass.",
	 M_DRAFTS, true},
	{"invoice_overdue_invoices", "gauge",
	 "Issued invoices past their due date, as of the last maintenance pass.",
	 M_OVERDUE, true},
	{"invoice_overdue_balance", "gauge",
	 "What the overdue invoices still owe, in the tenant's currency.",
	 M_OVERDUE_BALANCE, true},
	{"invoice_issued_today_invoices", "gauge",
	 "Invoices issued today, the tenant's day in its time zone.",
	 M_TODAY_INVOICES, true},
	{"invoice_issued_today_subtotal", "gauge",
	 "Subtotal of the invoices issued today, in the tenant's currency.",
	 M_TODAY_SUBTOTAL, true},
	{"invoice_issued_today_tax", "gauge",
	 "Tax of the invoices issued today, in the tenant's currency.",
	 M_TODAY_TAX, true},
	{"invoice_issued_today_amount", "gauge",
	 "Total of the invoices issued today, in the tenant's currency.",
	 M_TODAY_TOTAL, true},
	{"invoice_numbers_left", "gauge",
	 "Numbers left in the authorized range (tenants with an upper bound).",
	 M_NUMBERS_LEFT, false},
	{"invoice_resolution_remaining_seconds", "gauge",
	 "Time left until the DIAN resolution expires, at the end of valid_to in the tenant's time zone (tenants with valid_to; 86400 a day).",
	 M_SECONDS_LEFT, false},
	{"invoice_audit_rows", "gauge",
	 "Rows of the tenant's audit chain kept.",
	 M_AUDIT_ROWS, true},
	{"invoice_audit_rows_written_total", "counter",
	 "Rows ever written to the tenant's audit chain, purged ones included.",
	 M_AUDIT_WRITTEN, true},
	{"invoice_audit_chain_verified", "gauge",
	 "1 when the tenant's audit chain verified at the last audit_check(), 0 when it did not (tenants that existed then).",
	 M_CHAIN_OK, false},
};

#define N_TENANT_FAMILIES	lengthof(tenant_families)

/*
 * The tenants' rows, formatted once: every label set and every value is
 * a slice of one arena, so that each family can then be written tenant
 * after tenant with plain copies.
 */
typedef struct Slice
{
	uint32		off;
	uint32		len;			/* NO_SAMPLE: none */
} Slice;

#define NO_SAMPLE	PG_UINT32_MAX

typedef struct TenantRows
{
	uint64		n;
	StringInfoData arena;
	Slice	   *labels;			/* one a tenant */
	Slice	   *values;			/* M_NCOLS a tenant */
} TenantRows;

/* append a label value, escaped: \ " and line feed; plain runs at once */
static void
append_label_value(StringInfo out, const char *s, int len)
{
	const char *end = s + len;
	const char *run = s;

	for (; s < end; s++)
	{
		const char *esc;

		if (*s == '\\')
			esc = "\\\\";
		else if (*s == '"')
			esc = "\\\"";
		else if (*s == '\n')
			esc = "\\n";
		else
			continue;
		appendBinaryStringInfo(out, run, s - run);
		appendBinaryStringInfo(out, esc, 2);
		run = s + 1;
	}
	appendBinaryStringInfo(out, run, end - run);
}

static void
family(StringInfo out, const char *name, const char *type, const char *help)
{
	appendStringInfo(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/*
 * append_value
 *		A value of the tenants statement as the exposition writes it: the
 *		same text as the type's output function.  Numeric and float8
 *		output allocates in the caller's (per tenant) memory context.
 */
static void
append_value(StringInfo out, Datum value, Oid type)
{
	char		buf[MAXINT8LEN + 1];

	switch (type)
	{
		case INT8OID:
			appendBinaryStringInfo(out, buf, pg_lltoa(DatumGetInt64(value), buf));
			break;
		case BOOLOID:
			appendStringInfoChar(out, DatumGetBool(value) ? '1' : '0');
			break;
		case FLOAT8OID:
			appendStringInfoString(out, float8out_internal(DatumGetFloat8(value)));
			break;
		case NUMERICOID:
			appendStringInfoString(out,
								   DatumGetCString(DirectFunctionCall1(numeric_out, value)));
			break;
		default:
			elog(ERROR, "unexpected type %u in the metrics statement", type);
	}
}

/*
 * read_tenants
 *		Formats the rows of the tenants statement (SPI_tuptable) into
 *		`rows`, allocated in the caller's context `cxt`.
 */
static void
read_tenants(TenantRows *rows, MemoryContext cxt)
{
	TupleDesc	tupdesc = SPI_tuptable->tupdesc;
	MemoryContext row_cxt;
	MemoryContext old_cxt;
	Oid			types[M_NCOLS];
	Datum		values[M_NCOLS];
	bool		nulls[M_NCOLS];
	uint64		i;
	int			col;

	if (tupdesc->natts != M_NCOLS)
		elog(ERROR, "the metrics statement returned %d columns, expected %d",
			 tupdesc->natts, M_NCOLS);
	for (col = 0; col < M_NCOLS; col++)
		types[col] = TupleDescAttr(tupdesc, col)->atttypid;

	old_cxt = MemoryContextSwitchTo(cxt);
	rows->n = SPI_processed;
	initStringInfo(&rows->arena);
	/* some 100 bytes a tenant: its labels and 16 short values */
	enlargeStringInfo(&rows->arena, (int) Min(rows->n * 128, MaxAllocSize / 8));
	rows->labels = palloc(Max(rows->n, 1) * sizeof(Slice));
	rows->values = palloc(Max(rows->n, 1) * M_NCOLS * sizeof(Slice));
	row_cxt = AllocSetContextCreate(cxt, "invoice metrics row",
									ALLOCSET_SMALL_SIZES);
	MemoryContextSwitchTo(row_cxt);

	for (i = 0; i < rows->n; i++)
	{
		StringInfo	arena = &rows->arena;
		Slice	   *v = &rows->values[i * M_NCOLS];
		text	   *name;

		heap_deform_tuple(SPI_tuptable->vals[i], tupdesc, values, nulls);
		if (nulls[M_TODAY_OK] || !DatumGetBool(values[M_TODAY_OK]))
			nulls[M_TODAY_INVOICES] = nulls[M_TODAY_SUBTOTAL] =
				nulls[M_TODAY_TAX] = nulls[M_TODAY_TOTAL] = true;

		rows->labels[i].off = arena->len;
		appendBinaryStringInfo(arena, "org_id=\"", 8);
		append_value(arena, values[M_ORG_ID], types[M_ORG_ID]);
		appendBinaryStringInfo(arena, "\",org=\"", 7);
		name = DatumGetTextPP(values[M_ORG]);
		append_label_value(arena, VARDATA_ANY(name), VARSIZE_ANY_EXHDR(name));
		appendStringInfoChar(arena, '"');
		rows->labels[i].len = arena->len - rows->labels[i].off;

		for (col = M_DRAFTS; col < M_NCOLS; col++)
		{
			v[col].off = arena->len;
			if (!nulls[col])
				append_value(arena, values[col], types[col]);
			v[col].len = nulls[col] ? NO_SAMPLE : arena->len - v[col].off;
		}
		MemoryContextReset(row_cxt);
	}
	MemoryContextSwitchTo(old_cxt);
	MemoryContextDelete(row_cxt);
}

/*
 * Writing the families: sizes first (dst NULL), then the bytes, by the
 * same code, so the result is allocated once at its exact size.
 */
typedef struct Writer
{
	char	   *dst;
	Size		len;
} Writer;

static inline void
put(Writer *w, const char *s, Size len)
{
	if (w->dst)
		memcpy(w->dst + w->len, s, len);
	w->len += len;
}

/*
 * write_families
 *		Every tenant family: its HELP and TYPE (`heads`), then a sample a
 *		tenant, name{org_id="..",org=".."[,status=".."]} value; a NULL
 *		count or amount is 0, another NULL writes no sample.
 */
static void
write_families(Writer *w, const TenantRows *rows, const StringInfoData *heads)
{
	const char *arena = rows->arena.data;
	int			f;
	uint64		i;

	for (f = 0; f < N_TENANT_FAMILIES; f++)
	{
		const TenantFamily *tf = &tenant_families[f];
		Size		name_len = strlen(tf->name);
		int			nsamples = (tf->col == M_DRAFTS) ? lengthof(statuses) : 1;
		int			k;

		put(w, heads[f].data, heads[f].len);
		for (i = 0; i < rows->n; i++)
		{
			const Slice *label = &rows->labels[i];

			for (k = 0; k < nsamples; k++)
			{
				const Slice *v = &rows->values[i * M_NCOLS + tf->col + k];

				if (v->len == NO_SAMPLE && !tf->null_is_zero)
					continue;
				put(w, tf->name, name_len);
				put(w, "{", 1);
				put(w, arena + label->off, label->len);
				if (nsamples > 1)
					put(w, statuses[k], strlen(statuses[k]));
				put(w, "} ", 2);
				if (v->len == NO_SAMPLE)
					put(w, "0", 1);
				else
					put(w, arena + v->off, v->len);
				put(w, "\n", 1);
			}
		}
	}
}

/*
 * invoice_metrics
 *		The exposition, as one text ending with a line feed.
 */
Datum
invoice_metrics(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr tenants_plan = NULL;
	static SPIPlanPtr global_plan = NULL;
	MemoryContext fn_cxt = CurrentMemoryContext;
	MemoryContext spi_cxt;
	TenantRows	rows;
	StringInfoData heads[N_TENANT_FAMILIES];
	StringInfoData tail;
	char	   *global[9];
	Writer		w = {NULL, 0};
	text	   *result;
	int			f;
	ApiCall		call;

	require_platform_admin("read the metrics of the invoice extension");

	api_begin(&call);
	api_prepare_once(&tenants_plan, tenants_sql, 0, NULL);
	api_prepare_once(&global_plan, global_sql, 0, NULL);
	api_execute(tenants_plan, NULL, NULL, true, SPI_OK_SELECT);
	read_tenants(&rows, fn_cxt);
	api_execute(global_plan, NULL, NULL, true, SPI_OK_SELECT);
	spi_cxt = MemoryContextSwitchTo(fn_cxt);
	for (f = 0; f < lengthof(global); f++)
		global[f] = api_gettext(0, f + 1);
	MemoryContextSwitchTo(spi_cxt);
	api_end(&call);

	for (f = 0; f < N_TENANT_FAMILIES; f++)
	{
		initStringInfo(&heads[f]);
		family(&heads[f], tenant_families[f].name, tenant_families[f].type,
			   tenant_families[f].help);
	}

	initStringInfo(&tail);
	family(&tail, "invoice_audit_last_check_timestamp_seconds", "gauge",
		   "When audit_check() last verified every chain, in seconds since the epoch.");
	if (global[8] != NULL)
		appendStringInfo(&tail, "invoice_audit_last_check_timestamp_seconds %s\n", global[8]);

	family(&tail, "invoice_maintenance_last_run_timestamp_seconds", "gauge",
		   "When the last maintenance pass started, in seconds since the epoch.");
	if (global[0] != NULL)
		appendStringInfo(&tail, "invoice_maintenance_last_run_timestamp_seconds %s\n", global[0]);
	family(&tail, "invoice_maintenance_last_duration_seconds", "gauge",
		   "How long the last maintenance pass took.");
	if (global[1] != NULL)
		appendStringInfo(&tail, "invoice_maintenance_last_duration_seconds %s\n", global[1]);
	family(&tail, "invoice_maintenance_runs_total", "counter",
		   "Maintenance passes run.");
	appendStringInfo(&tail, "invoice_maintenance_runs_total %s\n", global[2] ? global[2] : "0");
	family(&tail, "invoice_telegram_updates", "gauge",
		   "Telegram updates remembered by the bridge's inbox (kept for days), handled or not.");
	appendStringInfo(&tail, "invoice_telegram_updates{state=\"handled\"} %s\n", global[3]);
	appendStringInfo(&tail, "invoice_telegram_updates{state=\"pending\"} %s\n", global[4]);
	family(&tail, "invoice_telegram_replies", "gauge",
		   "Telegram replies in the bridge's outbox (kept for days): sent, dropped after failing, or pending.");
	appendStringInfo(&tail, "invoice_telegram_replies{state=\"sent\"} %s\n", global[5]);
	appendStringInfo(&tail, "invoice_telegram_replies{state=\"dropped\"} %s\n", global[6]);
	appendStringInfo(&tail, "invoice_telegram_replies{state=\"pending\"} %s\n", global[7]);

	/* the size, then the text itself */
	write_families(&w, &rows, heads);
	put(&w, tail.data, tail.len);
	if (w.len > MaxAllocSize - VARHDRSZ)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the metrics exposition would take %zu bytes, more than a text value can hold",
						w.len)));
	result = (text *) palloc(VARHDRSZ + w.len);
	SET_VARSIZE(result, VARHDRSZ + w.len);
	w.dst = VARDATA(result);
	w.len = 0;
	write_families(&w, &rows, heads);
	put(&w, tail.data, tail.len);
	PG_RETURN_TEXT_P(result);
}
