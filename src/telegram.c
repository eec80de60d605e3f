/*-------------------------------------------------------------------------
 *
 * telegram.c
 *	  Invitations that link a Telegram account to a user of a tenant.
 *
 * invite_user() is for the tenant's admin user or an invoice_admin, the
 * same rule as add_user().  The code is 128 bits from pg_strong_random(),
 * written as 32 hexadecimal digits; only its SHA-256 is stored, so neither
 * the table nor the audit log holds a code that could be used.  The code
 * is used (once, before it expires) by "/start CODE" in the conversation,
 * which lives in SQL (telegram_link in the extension script).
 *
 * telegram_money() writes the conversation's amounts with the documents'
 * own formatter (invoice_doc.c), so a message and a PDF never disagree.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "datatype/timestamp.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "exec.h"
#include "invoice_doc.h"
#include "money.h"
#include "tenant.h"

PG_FUNCTION_INFO_V1(invoice_invite_user);
PG_FUNCTION_INFO_V1(invoice_telegram_money);

#define INVITE_CODE_BYTES	16
#define INVITE_MAX_TTL		(30 * USECS_PER_DAY)

/*
 * invite_ttl_usecs
 *		The ttl as microseconds (a month counts 30 days), checked to lie
 *		between one minute and 30 days.
 */
static int64
invite_ttl_usecs(Interval *ttl)
{
	int64		usecs = ttl->time + (int64) ttl->day * USECS_PER_DAY +
		(int64) ttl->month * 30 * USECS_PER_DAY;

	if (ttl->month > 1 || usecs < USECS_PER_MINUTE || usecs > INVITE_MAX_TTL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"ttl\" must be between 1 minute and 30 days"),
				 errhint("An invitation is meant to be used soon; create a new one when it expires.")));
	return usecs;
}

/*
 * invoice_invite_user
 *		A one-time code that links a Telegram account to a user of the
 *		current tenant with "/start CODE"; it expires after ttl.
 */
Datum
invoice_invite_user(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr user_plan = NULL;
	static SPIPlanPtr insert_plan = NULL;
	int64		org_id = tenant_require();
	int64		user_id;
	int64		created_by = tenant_current_user();
	Interval   *ttl;
	uint8		raw[INVITE_CODE_BYTES];
	char		code[INVITE_CODE_BYTES * 2 + 1];
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};
	ApiCall		call;
	int			i;

	if (!tenant_caller_is_platform_admin() && !tenant_user_is_admin())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to invite users of tenant " INT64_FORMAT, org_id),
				 errhint("Only an admin user of the tenant or an invoice_admin may invite users.")));

	arg_required(fcinfo, 0, "user_id");
	arg_required(fcinfo, 1, "ttl");
	user_id = PG_GETARG_INT64(0);
	ttl = PG_GETARG_INTERVAL_P(1);
	(void) invite_ttl_usecs(ttl);

	if (!pg_strong_random(raw, sizeof(raw)))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate a random invitation code")));
	for (i = 0; i < INVITE_CODE_BYTES; i++)
		snprintf(code + 2 * i, 3, "%02x", raw[i]);

	api_begin(&call);
	api_prepare_once(&user_plan, "SELECT 1 FROM invoice.users WHERE org_id OPERATOR(pg_catalog.=) $1"
					 " AND user_id OPERATOR(pg_catalog.=) $2 AND is_active",
					 2, (Oid[]) {INT8OID, INT8OID});
	api_prepare_once(&insert_plan, "INSERT INTO invoice.telegram_invitations"
					 " (org_id, code_hash, user_id, created_by, expires_at)"
					 " VALUES ($1, pg_catalog.sha256(pg_catalog.convert_to($2, 'UTF8')), $3, $4,"
					 " pg_catalog.now() OPERATOR(pg_catalog.+) $5)",
					 5, (Oid[]) {INT8OID, TEXTOID, INT8OID, INT8OID, INTERVALOID});
	api_execute(user_plan, (Datum[]) {Int64GetDatum(org_id), Int64GetDatum(user_id)},
				NULL, true, SPI_OK_SELECT);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("user " INT64_FORMAT " not found", user_id),
				 errhint("Invite an active user of the current tenant (see invoice.add_user).")));

	values[0] = Int64GetDatum(org_id);
	values[1] = CStringGetTextDatum(code);
	values[2] = Int64GetDatum(user_id);
	values[3] = Int64GetDatum(created_by);
	nulls[3] = created_by ? ' ' : 'n';
	values[4] = IntervalPGetDatum(ttl);
	api_execute(insert_plan, values, nulls, false, SPI_OK_INSERT);
	api_end(&call);

	PG_RETURN_TEXT_P(cstring_to_text(code));
}

/*
 * invoice_telegram_money
 *		telegram_money(amount numeric) RETURNS text: an amount as the
 *		documents write it ("$ 1.250.000,00"), rounded to cents.
 */
Datum
invoice_telegram_money(PG_FUNCTION_ARGS)
{
	Datum		rounded = DirectFunctionCall2(numeric_round, PG_GETARG_DATUM(0),
											  Int32GetDatum(MONEY_SCALE));
	int64		cents;
	StringInfoData buf;

	if (money_from_numeric(DatumGetNumeric(rounded), MONEY_SCALE, MONEY_MAX, &cents) != MONEY_OK)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("\"amount\" is out of range"),
				 errdetail("Amounts must be finite and fit numeric(18,2).")));
	initStringInfo(&buf);
	doc_append_money_in(&buf, "COP", cents);
	PG_RETURN_TEXT_P(cstring_to_text(buf.data));
}
