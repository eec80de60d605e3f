/*-------------------------------------------------------------------------
 *
 * main.c
 *	  invoice-bridge: configuration, signals, and the poller.
 *
 * The poller long-polls getUpdates and hands each update, in order, to
 * invoice.telegram_handle() in a transaction of its own; it asks for the
 * next updates (offset) only after the database committed the previous
 * ones, so a crash loses nothing and the inbox makes a redelivery a no-op.
 * One poller per bot token: it polls only while it holds a session
 * advisory lock keyed on the bot's id, and the sender sends only then.
 * When the database goes away it stops polling until it is back.
 *
 * Configuration comes from the environment only; the token is never
 * printed (log.c scrubs every line).
 *
 *-------------------------------------------------------------------------
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bridge.h"

BridgeConfig config;
volatile sig_atomic_t stopping = 0;
volatile sig_atomic_t exit_code = 0;
volatile int have_lock = 0;

static DbConn db = {.name = "poller"};

double
now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* sleep in short steps, so that a signal ends it within 0.1 s */
void
sleep_while_running(double seconds)
{
	double		until = now_mono() + seconds;

	while (!stopping && now_mono() < until)
	{
		double		left = until - now_mono();
		struct timespec ts = {0, (long) ((left < 0.1 ? left : 0.1) * 1e9)};

		nanosleep(&ts, NULL);
	}
}

/*
 * backoff_delay
 *		0.25 s doubling per attempt up to 30 s, times a jitter in [0.8,
 *		1.2): the first retry waits at least 0.2 s.
 */
double
backoff_delay(int attempt)
{
	double		d = 0.25;

	for (int i = 1; i < attempt && d < 30; i++)
		d *= 2;
	if (d > 30)
		d = 30;
	return d * (0.8 + 0.4 * (random() / (RAND_MAX + 1.0)));
}

static void
on_signal(int sig)
{
	stopping = 1;
}

static const char *
env_or(const char *name, const char *def)
{
	const char *v = getenv(name);

	return v && v[0] ? v : def;
}

/* read the environment; false (logged) when it will not do */
static bool
configure(void)
{
	const char *level = env_or("LOG_LEVEL", "info");
	const char *token = getenv("TELEGRAM_BOT_TOKEN");
	char	   *base;
	size_t		n;

	log_level = strcmp(level, "debug") == 0 ? LOG_DEBUG : strcmp(level, "warn") == 0 ? LOG_WARN
		: strcmp(level, "error") == 0 ? LOG_ERROR : LOG_INFO;
	if (!token || !token[0])
	{
		log_msg(LOG_ERROR, "config", "TELEGRAM_BOT_TOKEN is not set: the bridge needs the bot's token");
		return false;
	}
	config.token = token;
	log_init(token);
	base = strdup(env_or("TELEGRAM_API_BASE", "https://api.telegram.org"));
	for (n = strlen(base); n > 0 && base[n - 1] == '/'; n--)
		base[n - 1] = '\0';
	config.api_base = base;
	config.database_url = env_or("DATABASE_URL", "");
	config.health_addr = env_or("BRIDGE_HEALTH_ADDR", "127.0.0.1:8081");
	config.retention = env_or("BRIDGE_INBOX_RETENTION", "7 days");
	config.poll_timeout = atoi(env_or("TELEGRAM_POLL_TIMEOUT", "50"));
	if (config.poll_timeout < 0 || config.poll_timeout > 100)
		config.poll_timeout = 50;
	config.pacing = strcmp(env_or("BRIDGE_PACING", "on"), "off") != 0;
	/* the bot's id (the token up to ':') is public; the lock is keyed on it */
	config.lock_key = (int64_t) (0x696e76LL << 40) ^ strtoll(token, NULL, 10);
	return true;
}

/* take the bot's advisory lock; true when this process may poll and send */
static bool
take_lock(void)
{
	static bool warned = false;
	char		key[32];
	const char *params[1] = {key};
	PGresult   *res;
	bool		got;

	snprintf(key, sizeof(key), "%lld", (long long) config.lock_key);
	res = db_exec(&db, "SELECT pg_catalog.pg_try_advisory_lock($1::pg_catalog.int8)", 1, params, 0);
	if (!res)
		return false;
	got = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	if (got)
		log_msg(LOG_INFO, "lock", "this process polls the bot now");
	else if (!warned)
		log_msg(LOG_WARN, "lock", "another invoice-bridge polls this bot; waiting for its lock");
	warned = !got;
	return got;
}

/* is the poller's session (and so its lock) still there? */
static bool
session_alive(void)
{
	PGresult   *res = db_exec(&db, "SELECT 1", 0, NULL, 0);

	if (res)
		PQclear(res);
	if (!db.conn)
		have_lock = 0;
	return res != NULL;
}

/* Telegram said the token is wrong: stop, with an error */
static void
token_refused(long status, const char *method)
{
	log_msg(LOG_ERROR, "unauthorized", "Telegram answered %ld %s to %s: the bot token "
			"(TELEGRAM_BOT_TOKEN) is wrong or was revoked", status,
			status == 401 ? "Unauthorized" : "Not Found", method);
	exit_code = 1;
	stopping = 1;
}

/*
 * check_token
 *		getMe until Telegram answers: a wrong token ends the bridge at once,
 *		even when another bridge holds the lock.
 */
static void
check_token(void)
{
	for (int attempt = 1; !stopping; attempt++)
	{
		TgResponse	res;

		tg_call("getMe", "{}", NULL, 15, &res);
		tg_response_free(&res);
		if (res.status == 200)
		{
			health_telegram(true);
			return;
		}
		if (tg_fatal_status(res.status))
			token_refused(res.status, "getMe");
		else
		{
			double		wait = backoff_delay(attempt);

			log_msg(LOG_WARN, "getme_retry", "getMe: %s%ld %s; retrying in %.2f s",
					res.status ? "HTTP " : "no answer", res.status, res.error, wait);
			sleep_while_running(wait);
		}
	}
}

/*
 * handle_update
 *		One update in one transaction (BEGIN, telegram_handle, COMMIT in one
 *		round trip).  True when the database committed it (or gave up on it
 *		after repeated errors: the offset may pass it); false when the
 *		connection went away (poll it again later).
 */
static bool
handle_update(DbConn *conn, const char *update, const char *update_id)
{
	const char *params[1] = {update};

	for (int attempt = 1;; attempt++)
	{
		double		t0 = now_mono();
		PGresult   *res = db_exec_tx(conn, "SELECT invoice.telegram_handle($1::pg_catalog.jsonb)", 1, params);

		if (res)
		{
			observe_handle(now_mono() - t0);
			metric_inc(&metrics.updates_handled);
			PQclear(res);
			return true;
		}
		if (!conn->conn)
		{
			if (conn == &db)
				have_lock = 0;
			return false;
		}
		if (attempt == 3)
		{
			log_msg(LOG_ERROR, "update_failed", "update %s: the database refused it 3 times; skipped",
					update_id);
			metric_inc(&metrics.updates_failed);
			return true;
		}
		sleep_while_running(backoff_delay(attempt));
	}
}

/*
 * The updates of one getUpdates are handled on LANES connections at once,
 * each lane taking the updates of the users (or chats) that hash to it, in
 * order: one user's updates keep their order, and the handling of other
 * users' goes on beside (telegram_handle is mostly the database's CPU, and
 * two commits wait on one WAL flush).  Each update is still one
 * transaction that records it in the inbox; the offset passes only the
 * updates before the first one a lane could not handle, so a crash or a
 * lost connection makes Telegram deliver again what may not be committed,
 * and the inbox makes the rest no-ops.
 */
#define LANES 2

typedef struct Lane
{
	DbConn	   *db;
	const PGresult *batch;		/* rows: update, update_id, lane */
	int			lane;
	int			failed_at;		/* first row not handled, or -1 */
} Lane;

static DbConn lane_db = {.name = "handler"};

static void *
run_lane(void *arg)
{
	Lane	   *l = arg;

	for (int i = 0; i < PQntuples(l->batch); i++)
	{
		if (atoi(PQgetvalue(l->batch, i, 2)) != l->lane)
			continue;
		if (stopping || !handle_update(l->db, PQgetvalue(l->batch, i, 0), PQgetvalue(l->batch, i, 1)))
		{
			l->failed_at = i;
			break;
		}
		sender_wake();
	}
	return NULL;
}

/*
 * handle_batch
 *		Handle the updates of one getUpdates; the offset to confirm them
 *		with (the first update not handled, or the one after the last).
 *		False when some could not be handled.
 */
static bool
handle_batch(const PGresult *ups, int64_t *offset)
{
	Lane		lanes[LANES];
	pthread_t	threads[LANES];
	bool		started[LANES] = {false};
	int			stop = PQntuples(ups);

	for (int k = 0; k < LANES; k++)
	{
		lanes[k] = (Lane) {k == 0 ? &db : &lane_db, ups, k, -1};
		if (k > 0)
			started[k] = pthread_create(&threads[k], NULL, run_lane, &lanes[k]) == 0;
	}
	run_lane(&lanes[0]);
	for (int k = 1; k < LANES; k++)
	{
		if (started[k])
			pthread_join(threads[k], NULL);
		else
			run_lane(&lanes[k]);	/* no thread: after the first lane, then */
	}
	for (int k = 0; k < LANES; k++)
		if (lanes[k].failed_at >= 0 && lanes[k].failed_at < stop)
			stop = lanes[k].failed_at;
	if (stop > 0)
		*offset = strtoll(PQgetvalue(ups, stop - 1, 1), NULL, 10) + 1;
	return stop == PQntuples(ups);
}

/*
 * poll_once
 *		One getUpdates and the handling of what it brought; returns how long
 *		to wait before the next one.
 */
static double
poll_once(int64_t *offset, int *failures)
{
	char		body[256];
	TgResponse	res;
	double		t0 = now_mono();
	double		wait = 0;

	snprintf(body, sizeof(body),
			 "{\"offset\": %lld, \"timeout\": %d, \"allowed_updates\": [\"message\", \"callback_query\"]}",
			 (long long) *offset, config.poll_timeout);
	tg_call("getUpdates", body, NULL, config.poll_timeout + 15, &res);
	observe_poll(now_mono() - t0);
	if (stopping && res.status == 0)
		;						/* interrupted by a signal */
	else if (res.status == 200)
	{
		char		lanes[16];
		const char *params[2] = {res.body, lanes};
		PGresult   *ups;

		health_telegram(true);
		*failures = 0;
		/* each update, its id, and its lane: by its user (or chat) */
		snprintf(lanes, sizeof(lanes), "%d", LANES);
		ups = db_exec(&db, "SELECT u::text, u OPERATOR(pg_catalog.->>) 'update_id', "
					  "pg_catalog.abs(pg_catalog.hashtext(COALESCE(u OPERATOR(pg_catalog.#>>) '{message,from,id}', "
					  "u OPERATOR(pg_catalog.#>>) '{callback_query,from,id}', "
					  "u OPERATOR(pg_catalog.#>>) '{message,chat,id}', ''))::pg_catalog.int8) "
					  "OPERATOR(pg_catalog.%) $2::pg_catalog.int8 "
					  "FROM pg_catalog.jsonb_array_elements($1::pg_catalog.jsonb "
					  "OPERATOR(pg_catalog.->) 'result') WITH ORDINALITY AS t(u, i) ORDER BY i",
					  2, params, 0);
		if (!ups && db.conn)
		{
			log_msg(LOG_WARN, "poll_retry", "getUpdates answered 200 with no update list");
			wait = backoff_delay(++*failures);
		}
		if (ups)
		{
			metric_add(&metrics.updates_received, (uint64_t) PQntuples(ups));
			/* a lane's connection is away: not again at once */
			if (!handle_batch(ups, offset) && !stopping && db.conn)
				wait = 0.5;
			PQclear(ups);
		}
	}
	else if (tg_fatal_status(res.status))
		token_refused(res.status, "getUpdates");
	else if (res.status == 429)
	{
		char	   *after = db_json_field(&db, res.body, "{parameters,retry_after}");

		health_telegram(true);
		metric_inc(&metrics.telegram_429);
		wait = after && atof(after) > 0 ? atof(after) : 5;
		log_msg(LOG_WARN, "poll_retry", "getUpdates: 429 Too Many Requests; retrying in %.0f s", wait);
		free(after);
	}
	else
	{
		wait = backoff_delay(++*failures);
		if (res.status == 409)
			log_msg(LOG_WARN, "poll_retry", "getUpdates: 409 Conflict (another poller, or a long poll "
					"of an earlier run still open); retrying in %.2f s", wait);
		else if (res.status)
			log_msg(LOG_WARN, "poll_retry", "getUpdates: HTTP %ld; retrying in %.2f s", res.status, wait);
		else
			log_msg(LOG_WARN, "poll_retry", "getUpdates: no answer (%s); retrying in %.2f s", res.error, wait);
		health_telegram(res.status == 409);
	}
	tg_response_free(&res);
	return wait;
}

int
main(void)
{
	struct sigaction sa = {0};
	pthread_t	sender;
	int64_t		offset = 0;
	int			failures = 0;
	double		next_forget = 0;

	if (!configure())
		return 2;
	srandom((unsigned) (now_mono() * 1000));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	tg_global_init();
	if (!health_start(config.health_addr))
		return 2;
	pthread_create(&sender, NULL, sender_main, NULL);
	log_msg(LOG_INFO, "start", "invoice-bridge polling %s", config.api_base);
	check_token();

	while (!stopping)
	{
		double		wait;

		if (!have_lock || !session_alive())
		{
			if (!(have_lock = take_lock()))
			{
				sleep_while_running(db.conn ? 5 : 0.5);
				continue;
			}
			sender_wake();		/* send what is still pending */
		}
		if (now_mono() >= next_forget)
		{
			const char *params[1] = {config.retention};
			PGresult   *res = db_exec(&db, "SELECT invoice.telegram_forget($1::pg_catalog.interval)",
									  1, params, 0);

			if (res)
				PQclear(res);
			else if (db.conn)
				log_msg(LOG_WARN, "forget", "telegram_forget(\"%s\") failed: %s", config.retention,
						PQerrorMessage(db.conn));
			next_forget = now_mono() + 3600;
		}
		wait = poll_once(&offset, &failures);
		if (wait > 0)
			sleep_while_running(wait);
	}

	log_msg(exit_code ? LOG_ERROR : LOG_INFO, "stop", "invoice-bridge stopping (exit %d)", (int) exit_code);
	pthread_join(sender, NULL);
	health_stop();
	PQfinish(db.conn);
	PQfinish(lane_db.conn);
	tg_thread_done(true);
	free((char *) config.api_base);
	return exit_code;
}
