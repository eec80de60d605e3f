/*-------------------------------------------------------------------------
 *
 * db.c
 *	  The bridge's PostgreSQL connections, each behind a circuit breaker.
 *
 * A connection that fails is closed; the next attempt waits an
 * exponential, jittered delay that grows with the consecutive failures
 * (the breaker is open), then one attempt probes (half open) and success
 * closes it.  Nothing here retries a statement: the caller keeps its
 * place (the update in hand, the action pending) and tries again once
 * db_ensure() says the connection is back.
 *
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>
#include <string.h>

#include "bridge.h"

/* the breaker stays open this long at most */
#define DB_MAX_WAIT 10.0

static void
open_breaker(DbConn *db)
{
	double		wait = backoff_delay(++db->failures);

	db->next_try = now_mono() + (wait < DB_MAX_WAIT ? wait : DB_MAX_WAIT);
}

/* a NOTICE or WARNING of the server: a log line like the others */
static void
notice(void *arg, const char *message)
{
	const DbConn *db = arg;

	log_msg(LOG_WARN, "db_notice", "%s: %.*s", db->name, (int) strcspn(message, "\n"), message);
}

/*
 * db_ensure
 *		True when db has a working connection, connecting if the breaker
 *		allows an attempt now.
 */
bool
db_ensure(DbConn *db)
{
	const char *keys[4];
	const char *vals[4];
	int			n = 0;

	if (db->conn && PQstatus(db->conn) == CONNECTION_OK)
		return true;
	if (now_mono() < db->next_try)
		return false;
	if (db->conn)
		PQfinish(db->conn);

	if (config.database_url[0])
	{
		keys[n] = "dbname";
		vals[n++] = config.database_url;
	}
	keys[n] = "connect_timeout";
	vals[n++] = "5";
	keys[n] = "application_name";
	vals[n++] = "invoice-bridge";
	keys[n] = NULL;
	vals[n] = NULL;
	db->conn = PQconnectdbParams(keys, vals, 1);
	if (PQstatus(db->conn) != CONNECTION_OK)
	{
		char	   *msg = PQerrorMessage(db->conn);
		size_t		len = strlen(msg);

		while (len > 0 && msg[len - 1] == '\n')
			msg[--len] = '\0';
		open_breaker(db);
		log_msg(db->failures > 3 ? LOG_ERROR : LOG_WARN, "db_connect_failed",
				"%s: cannot connect (attempt %d, next in %.1f s): %s",
				db->name, db->failures, db->next_try - now_mono(), msg);
		PQfinish(db->conn);
		db->conn = NULL;
		health_db(false);
		return false;
	}
	PQsetNoticeProcessor(db->conn, notice, db);
	if (db->failures > 0)
	{
		metric_inc(&metrics.db_reconnects);
		log_msg(LOG_INFO, "db_reconnected", "%s: connected again after %d failed attempts",
				db->name, db->failures);
	}
	db->failures = 0;
	health_db(true);
	return true;
}

/*
 * db_lost
 *		Close a connection that failed, and open the breaker.
 */
void
db_lost(DbConn *db, const char *what)
{
	log_msg(LOG_WARN, "db_lost", "%s: connection lost during %s", db->name, what);
	PQfinish(db->conn);
	db->conn = NULL;
	open_breaker(db);
	health_db(false);
}

/*
 * db_exec
 *		Run one statement; NULL when it failed (the error is logged; when
 *		the connection went with it, db->conn is NULL afterwards).
 */
PGresult *
db_exec(DbConn *db, const char *sql, int nparams, const char *const *values,
		int binary)
{
	PGresult   *res;
	ExecStatusType st;

	if (!db_ensure(db))
		return NULL;
	res = PQexecParams(db->conn, sql, nparams, NULL, values, NULL, NULL, binary);
	st = PQresultStatus(res);
	if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
	{
		health_db(true);
		return res;
	}
	if (PQstatus(db->conn) != CONNECTION_OK)
		db_lost(db, "a statement");
	else
	{
		char	   *msg = PQresultErrorMessage(res);
		size_t		len = strlen(msg);

		while (len > 0 && msg[len - 1] == '\n')
			msg[--len] = '\0';
		log_msg(LOG_DEBUG, "db_error", "%s: %s", db->name, msg);
	}
	PQclear(res);
	return NULL;
}

/*
 * db_exec_tx
 *		Run one statement in a transaction block of its own: BEGIN, the
 *		statement and COMMIT go to the server together (pipeline mode), one
 *		round trip.  What the statement does lasts for the transaction (a
 *		set_tenant() inside it, say), and nothing is left open: an error
 *		aborts the pipeline and the server rolls the block back at the sync
 *		point.  NULL when it failed, as db_exec.
 */
PGresult *
db_exec_tx(DbConn *db, const char *sql, int nparams, const char *const *values)
{
	PGresult   *out = NULL;
	PGresult   *r;
	bool		ok = true;
	bool		synced = false;

	if (!db_ensure(db))
		return NULL;
	if (!PQenterPipelineMode(db->conn)
		|| !PQsendQueryParams(db->conn, "BEGIN", 0, NULL, NULL, NULL, NULL, 0)
		|| !PQsendQueryParams(db->conn, sql, nparams, NULL, values, NULL, NULL, 0)
		|| !PQsendQueryParams(db->conn, "COMMIT", 0, NULL, NULL, NULL, NULL, 0)
		|| !PQpipelineSync(db->conn))
		ok = false;

	/* BEGIN, the statement, COMMIT (each followed by NULL), then the sync */
	for (int step = 0; ok && !synced;)
	{
		if (!(r = PQgetResult(db->conn)))
		{
			if (PQstatus(db->conn) != CONNECTION_OK)
				ok = false;
			step++;
			continue;
		}
		switch (PQresultStatus(r))
		{
			case PGRES_PIPELINE_SYNC:
				synced = true;
				break;
			case PGRES_TUPLES_OK:
			case PGRES_COMMAND_OK:
				if (step == 1 && !out)
				{
					out = r;
					r = NULL;
				}
				break;
			case PGRES_PIPELINE_ABORTED:
				break;
			default:			/* the rest is aborted: on to the sync */
				if (out)
					PQclear(out);
				out = NULL;
				log_msg(LOG_DEBUG, "db_error", "%s: %.*s", db->name,
						(int) strcspn(PQresultErrorMessage(r), "\n"), PQresultErrorMessage(r));
				break;
		}
		if (r)
			PQclear(r);
		if (PQstatus(db->conn) != CONNECTION_OK)
			ok = false;
	}
	if (ok && !PQexitPipelineMode(db->conn))
		ok = false;
	if (!ok)
	{
		if (out)
			PQclear(out);
		db_lost(db, "a transaction");
		return NULL;
	}
	if (out)
		health_db(true);
	return out;
}

/*
 * db_json_field
 *		One field of a JSON text, taken apart by PostgreSQL: path is a text
 *		array literal such as {parameters,retry_after}.  NULL when the text
 *		is not JSON (an nginx error page) or has no such field.
 */
char *
db_json_field(DbConn *db, const char *json, const char *path)
{
	const char *params[2] = {json, path};
	PGresult   *res;
	char	   *out = NULL;

	if (!json)
		return NULL;
	res = db_exec(db, "SELECT $1::pg_catalog.jsonb OPERATOR(pg_catalog.#>>) $2::pg_catalog.text[]",
				  2, params, 0);
	if (res && PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
		out = strdup(PQgetvalue(res, 0, 0));
	if (res)
		PQclear(res);
	return out;
}
