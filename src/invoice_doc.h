/*-------------------------------------------------------------------------
 *
 * invoice_doc.h
 *	  One invoice of the current tenant read into memory for the exports
 *	  (to_json, render_html, render_pdf), and the Spanish wording and
 *	  Colombian number formats the printed exports share.
 *
 *-------------------------------------------------------------------------
 */
#ifndef INVOICE_DOC_H
#define INVOICE_DOC_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "pgtime.h"

#include "items.h"
#include "lifecycle.h"
#include "totals.h"

/* ----------
 * What an issued invoice keeps of its seller and customer
 *
 * issue() writes these two jsonb objects into invoice.invoices
 * (seller_snapshot, customer_snapshot) in the statement that issues, and
 * invoice_doc_from_arg() reads a draft through the same expressions over
 * the current rows, so that a draft and an issued invoice print alike and
 * an issued one never changes.  `r` is the row as jsonb
 * (to_jsonb(o) of invoice.organizations o, to_jsonb(c) of
 * invoice.customers c): a key whose column a database still at 0.1 lacks
 * is null.  The upgrade from 0.1 (extension/invoice--0.1--0.2.sql) builds
 * the same objects: a key added here is added there too.
 *
 * The subquery that makes `r` (LATERAL (SELECT to_jsonb(o) AS ro ...))
 * ends with OFFSET 0: without it the planner pulls the subquery up and
 * puts to_jsonb(o) in place of every reference to `ro`, so the row was
 * turned into jsonb once per key, 21 times per issue (88 us of the 560
 * that create_and_issue() spent, bench/README.md).
 * ----------
 */
#define DOC_SELLER_SNAPSHOT_SQL(r) \
	"pg_catalog.jsonb_build_object(" \
		" 'name', " r " OPERATOR(pg_catalog.->) 'name'," \
		" 'tax_id', " r " OPERATOR(pg_catalog.->) 'tax_id'," \
		" 'address', " r " OPERATOR(pg_catalog.->) 'address'," \
		" 'city', " r " OPERATOR(pg_catalog.->) 'city'," \
		" 'department', " r " OPERATOR(pg_catalog.->) 'department'," \
		" 'phone', " r " OPERATOR(pg_catalog.->) 'phone'," \
		" 'email', " r " OPERATOR(pg_catalog.->) 'email'," \
		" 'tax_regime', " r " OPERATOR(pg_catalog.->) 'tax_regime'," \
		" 'resolution', " r " OPERATOR(pg_catalog.->) 'resolution'," \
		" 'prefix', " r " OPERATOR(pg_catalog.->) 'prefix'," \
		" 'number_from', " r " OPERATOR(pg_catalog.->) 'number_from'," \
		" 'number_to', " r " OPERATOR(pg_catalog.->) 'number_to'," \
		" 'valid_from', " r " OPERATOR(pg_catalog.->) 'valid_from'," \
		" 'valid_to', " r " OPERATOR(pg_catalog.->) 'valid_to'," \
		" 'timezone', " r " OPERATOR(pg_catalog.->) 'timezone')"

#define DOC_CUSTOMER_SNAPSHOT_SQL(r) \
	"pg_catalog.jsonb_build_object(" \
		" 'id_type', " r " OPERATOR(pg_catalog.->) 'id_type'," \
		" 'id_number', " r " OPERATOR(pg_catalog.->) 'id_number'," \
		" 'name', " r " OPERATOR(pg_catalog.->) 'name'," \
		" 'address', " r " OPERATOR(pg_catalog.->) 'address'," \
		" 'phone', " r " OPERATOR(pg_catalog.->) 'phone'," \
		" 'email', " r " OPERATOR(pg_catalog.->) 'email')"

/*
 * doc_schema_has: does invoice.`table` have `column`?  A new library serves
 * a database whose extension is not yet updated (ALTER EXTENSION invoice
 * UPDATE): statements that write the columns of 0.2 are chosen by this.
 */
extern bool doc_schema_has(const char *table, const char *column);

/* a timestamptz column that may be NULL */
typedef struct DocTime
{
	bool		isnull;
	TimestampTz ts;
} DocTime;

typedef struct DocPayment
{
	int64		payment_id;
	int64		amount;			/* MONEY_SCALE */
	char	   *method;
	DocTime		paid_at;
} DocPayment;

/*
 * An invoice with its seller, customer, lines, breakdown by rate and
 * payments.  Strings are palloc'd in the caller's memory context; NULL
 * means SQL NULL.
 */
typedef struct InvoiceDoc
{
	/* the invoice */
	int64		invoice_id;
	bool		has_number;
	int64		number;
	char	   *number_text;
	InvoiceStatus status;
	char	   *status_text;	/* as stored: draft, issued, paid, void */
	char	   *currency;
	char	   *notes;
	DocTime		created_at;
	DocTime		issued_at;
	DocTime		paid_at;
	DocTime		voided_at;
	char	   *void_reason;
	bool		is_deleted;
	bool		has_created_by;
	int64		created_by;
	char	   *created_by_name;	/* the user's display_name */
	InvoiceTotals totals;
	int64		amount_paid;

	/*
	 * the seller (the tenant) and the customer: as kept at issue, or as
	 * they are now for a draft
	 */
	int64		org_id;
	char	   *org_name;
	char	   *tax_id;
	char	   *resolution;
	int64		number_from;
	bool		has_number_to;
	int64		number_to;
	char	   *prefix;
	char	   *valid_from;		/* YYYY-MM-DD */
	char	   *valid_to;		/* YYYY-MM-DD */
	char	   *timezone;
	pg_tz	   *tz;
	char	   *org_address;
	char	   *org_city;
	char	   *org_department;
	char	   *org_phone;
	char	   *org_email;
	char	   *tax_regime;		/* responsable_iva, no_responsable_iva */
	char	   *due_date;		/* YYYY-MM-DD; NULL: paid in cash (contado) */

	/* the customer */
	int64		customer_id;
	char	   *id_type;
	char	   *id_number;
	char	   *customer_name;
	char	   *email;
	char	   *phone;
	char	   *address;

	/* lines by line_no, the breakdown by rate, payments by payment_id */
	int			nitems;
	InvoiceItem *items;
	int			ntaxes;
	TaxGroup   *taxes;
	int			npayments;
	DocPayment *payments;
} InvoiceDoc;

/*
 * invoice_doc_from_arg: the tenant context (42501), argument 0 as the
 * invoice_id (22004 when NULL), and that invoice of the current tenant
 * read into *doc (P0002 when the tenant has no such invoice).  Reads only
 * and locks nothing.
 */
extern void invoice_doc_from_arg(FunctionCallInfo fcinfo, InvoiceDoc *doc);

/* ----------
 * The wording and formats of the printed exports (HTML and PDF)
 * ----------
 */

/*
 * doc_require_utf8: 0A000 unless the database encoding is UTF8 (or
 * SQL_ASCII, whose bytes are then taken as UTF-8): the printed exports
 * mix the database's text with their own Spanish labels.
 */
extern void doc_require_utf8(const char *function);

/* "$ 1.250.000,00" (COP), "USD 1.250,00" (other currencies), "-$ 5,00" */
extern void doc_append_money(StringInfo buf, const InvoiceDoc *doc, int64 cents);

/* the same for an amount in `currency` (NULL: COP), outside a document */
extern void doc_append_money_in(StringInfo buf, const char *currency, int64 cents);

/* a fixed-point value without trailing zeros: "1.000", "0,25", "3,5" */
extern void doc_append_decimal(StringInfo buf, int64 value, int scale);

/* a rate at RATE_SCALE: "19 %", "12,5 %" */
extern void doc_append_rate(StringInfo buf, int64 rate);

/* a timestamp in the tenant's time zone: "31/01/2026 14:05" */
extern void doc_append_time(StringInfo buf, const InvoiceDoc *doc, const DocTime *t);

/* "2020-01-01" as "01/01/2020" */
extern void doc_append_date(StringInfo buf, const char *iso);

/* "Factura de venta EX100" or "Factura de venta (borrador)" */
extern void doc_append_title(StringInfo buf, const InvoiceDoc *doc);

/* the numbering resolution of the seller, or nothing when there is none */
extern void doc_append_resolution(StringInfo buf, const InvoiceDoc *doc);

/* "Cra 7 # 12-34 · Medellín, Antioquia": the seller's address, or nothing */
extern void doc_append_seller_address(StringInfo buf, const InvoiceDoc *doc);

/* "Tel. 604 444 1234 · ventas@example.com": the seller's contact, or nothing */
extern void doc_append_seller_contact(StringInfo buf, const InvoiceDoc *doc);

/* "Responsable de IVA", "No responsable de IVA", or NULL when not set */
extern const char *doc_tax_regime_label(const InvoiceDoc *doc);

/* "Forma de pago: Contado", or "Forma de pago: Crédito · Vence el 31/01/2026" */
extern void doc_append_payment_form(StringInfo buf, const InvoiceDoc *doc);

/*
 * should the document say "Zona horaria: ..."?  Not for Colombia's own
 * (America/Bogota), which every Colombian reader assumes
 */
extern bool doc_shows_timezone(const InvoiceDoc *doc);

/* "oro · 18 k · 3,5 g · Ref. AN-18-001": the jewelry fields of a line */
extern void doc_append_item_details(StringInfo buf, const InvoiceItem *item);

/* the status as shown: "Borrador", "Emitida", "Pagada", "Anulada" */
extern const char *doc_status_label(const InvoiceDoc *doc);

/* the mark of a document that is not a valid sale: BORRADOR, ANULADA, or NULL */
extern const char *doc_stamp(const InvoiceDoc *doc);

/* a payment method as shown: "Efectivo", "Tarjeta", ... */
extern const char *doc_method_label(const char *method);

#endif							/* INVOICE_DOC_H */
