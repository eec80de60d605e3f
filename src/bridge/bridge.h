/*-------------------------------------------------------------------------
 *
 * bridge.h
 *	  What the parts of invoice-bridge share.
 *
 * The bridge relays Bot API updates into invoice.telegram_handle() and
 * performs the actions the database wrote to its outbox; it decides
 * nothing and parses no JSON (PostgreSQL takes Telegram's answers apart).
 * Three threads: the poller (main thread: getUpdates, one transaction per
 * update, with a helper thread that handles other users' updates beside
 * it), the sender (outbox, pacing) and libmicrohttpd's (endpoints).
 *
 *-------------------------------------------------------------------------
 */
#ifndef BRIDGE_H
#define BRIDGE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

/* configuration, from the environment only (main.c) */
typedef struct BridgeConfig
{
	const char *token;			/* TELEGRAM_BOT_TOKEN: never printed */
	const char *api_base;		/* TELEGRAM_API_BASE, no trailing slash */
	const char *database_url;	/* DATABASE_URL, or "" for the PG* variables */
	const char *health_addr;	/* BRIDGE_HEALTH_ADDR, host:port */
	const char *retention;		/* BRIDGE_INBOX_RETENTION, an interval */
	int			poll_timeout;	/* TELEGRAM_POLL_TIMEOUT, seconds */
	bool		pacing;			/* BRIDGE_PACING=off lifts it (benchmarks) */
	int64_t		lock_key;		/* advisory lock key, from the bot's id */
} BridgeConfig;

extern BridgeConfig config;

/* set by SIGTERM/SIGINT, or by a fatal Telegram answer */
extern volatile sig_atomic_t stopping;
extern volatile sig_atomic_t exit_code;

/* whether the poller holds the bot's advisory lock: only then we send */
extern volatile int have_lock;

/* log.c: one JSON object a line on stderr; the token never appears */
enum
{
	LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR
};
extern int	log_level;
extern void log_init(const char *token);
extern void log_msg(int level, const char *event, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));
extern char *scrub(const char *s);

/* clocks and waits (main.c) */
extern double now_mono(void);
extern void sleep_while_running(double seconds);
extern double backoff_delay(int attempt);

/* telegram.c: one Bot API call */
typedef struct TgForm
{
	int			nfields;
	const char **names;
	const char **values;
	const char *filename;		/* the file part "document" */
	const char *data;
	size_t		len;
} TgForm;

typedef struct TgResponse
{
	long		status;			/* HTTP status, 0 when no answer came */
	char	   *body;			/* malloc'd, NUL-terminated */
	size_t		len;
	char		error[256];		/* libcurl's error, scrubbed */
} TgResponse;

extern void tg_global_init(void);
extern void tg_thread_done(bool last);
extern void tg_call(const char *method, const char *json, const TgForm *form,
					long timeout_s, TgResponse *res);
extern void tg_response_free(TgResponse *res);
extern bool tg_fatal_status(long status);

/* db.c: connections with a circuit breaker */
typedef struct DbConn
{
	const char *name;
	PGconn	   *conn;
	int			failures;		/* consecutive failed attempts */
	double		next_try;		/* circuit open until then */
} DbConn;

extern bool db_ensure(DbConn *db);
extern void db_lost(DbConn *db, const char *what);
extern PGresult *db_exec(DbConn *db, const char *sql, int nparams,
						 const char *const *values, int binary);
extern PGresult *db_exec_tx(DbConn *db, const char *sql, int nparams,
							const char *const *values);
extern char *db_json_field(DbConn *db, const char *json, const char *path);

/* sender.c */
extern void *sender_main(void *arg);
extern void sender_wake(void);

/* health.c: endpoints and metrics */
typedef struct Metrics
{
	uint64_t	updates_received;
	uint64_t	updates_handled;
	uint64_t	updates_failed;
	uint64_t	actions_sent;
	uint64_t	actions_failed;
	uint64_t	actions_retried;
	uint64_t	telegram_429;
	uint64_t	db_reconnects;
} Metrics;

extern Metrics metrics;
extern void metric_add(uint64_t *counter, uint64_t n);
extern void metric_inc(uint64_t *counter);
extern void observe_poll(double seconds);
extern void observe_handle(double seconds);
extern void health_db(bool ok);
extern void health_telegram(bool ok);
extern bool health_start(const char *addr);
extern void health_stop(void);

#endif							/* BRIDGE_H */
