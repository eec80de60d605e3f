/*-------------------------------------------------------------------------
 *
 * health.c
 *	  The bridge's own endpoints (libmicrohttpd) and its metrics.
 *
 * /health/live answers 200 while the process runs; /health/ready answers
 * 200 when the database and Telegram answered recently, else 503 with a
 * JSON body naming what is down; /metrics is Prometheus text (0.0.4).
 * The sender touches the database every second, so the database going
 * away shows here within a few seconds.
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <microhttpd.h>

#include "bridge.h"

Metrics		metrics;

#define NBUCKETS 14
static const double bucket_le[NBUCKETS] =
{0.001, 0.0025, 0.005, 0.01, 0.015, 0.02, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 60};

typedef struct Histogram
{
	uint64_t	counts[NBUCKETS];	/* not cumulative */
	uint64_t	count;
	double		sum;
} Histogram;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static Histogram poll_hist;
static Histogram handle_hist;
static double db_last_ok = -1e9;
static bool db_up = false;
static double tg_last_ok = -1e9;
static bool tg_up = false;
static struct MHD_Daemon *daemon_handle = NULL;

void
metric_add(uint64_t *counter, uint64_t n)
{
	__atomic_add_fetch(counter, n, __ATOMIC_RELAXED);
}

void
metric_inc(uint64_t *counter)
{
	metric_add(counter, 1);
}

static void
observe(Histogram *h, double seconds)
{
	pthread_mutex_lock(&lock);
	for (int i = 0; i < NBUCKETS; i++)
		if (seconds <= bucket_le[i])
		{
			h->counts[i]++;
			break;
		}
	h->count++;
	h->sum += seconds;
	pthread_mutex_unlock(&lock);
}

void
observe_poll(double seconds)
{
	observe(&poll_hist, seconds);
}

void
observe_handle(double seconds)
{
	observe(&handle_hist, seconds);
}

void
health_db(bool ok)
{
	pthread_mutex_lock(&lock);
	db_up = ok;
	if (ok)
		db_last_ok = now_mono();
	pthread_mutex_unlock(&lock);
}

void
health_telegram(bool ok)
{
	pthread_mutex_lock(&lock);
	tg_up = ok;
	if (ok)
		tg_last_ok = now_mono();
	pthread_mutex_unlock(&lock);
}

/* what is down, as a JSON array's elements ("" when nothing) */
static void
down_list(char *buf, size_t size)
{
	double		now = now_mono();
	bool		db_ok,
				tg_ok;

	pthread_mutex_lock(&lock);
	db_ok = db_up && now - db_last_ok < 10;
	/* a long poll may last poll_timeout seconds without news */
	tg_ok = tg_up && now - tg_last_ok < 2 * config.poll_timeout + 30;
	pthread_mutex_unlock(&lock);
	snprintf(buf, size, "%s%s%s", db_ok ? "" : "\"database\"",
			 !db_ok && !tg_ok ? "," : "", tg_ok ? "" : "\"telegram\"");
}

static void
counter(FILE *f, const char *name, const char *help, uint64_t *value)
{
	fprintf(f, "# HELP invoice_bridge_%s %s\n# TYPE invoice_bridge_%s counter\ninvoice_bridge_%s %llu\n",
			name, help, name, name,
			(unsigned long long) __atomic_load_n(value, __ATOMIC_RELAXED));
}

static void
histogram(FILE *f, const char *name, const char *help, const Histogram *h)
{
	uint64_t	cum = 0;

	fprintf(f, "# HELP invoice_bridge_%s %s\n# TYPE invoice_bridge_%s histogram\n",
			name, help, name);
	for (int i = 0; i < NBUCKETS; i++)
	{
		cum += h->counts[i];
		fprintf(f, "invoice_bridge_%s_bucket{le=\"%g\"} %llu\n", name, bucket_le[i],
				(unsigned long long) cum);
	}
	fprintf(f, "invoice_bridge_%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long) h->count);
	fprintf(f, "invoice_bridge_%s_sum %.6f\ninvoice_bridge_%s_count %llu\n",
			name, h->sum, name, (unsigned long long) h->count);
}

/* the /metrics text, malloc'd */
static char *
metrics_text(size_t *len)
{
	char	   *buf = NULL;
	char		down[64];
	FILE	   *f = open_memstream(&buf, len);

	counter(f, "updates_received_total", "Updates received from getUpdates.", &metrics.updates_received);
	counter(f, "updates_handled_total", "Updates handled by invoice.telegram_handle.", &metrics.updates_handled);
	counter(f, "updates_failed_total", "Updates given up after repeated database errors.", &metrics.updates_failed);
	counter(f, "actions_sent_total", "Outbox actions Telegram accepted.", &metrics.actions_sent);
	counter(f, "actions_failed_total", "Outbox actions dropped (Telegram refused them).", &metrics.actions_failed);
	counter(f, "actions_retried_total", "Outbox actions tried again after a transient failure.", &metrics.actions_retried);
	counter(f, "telegram_429_total", "Answers 429 Too Many Requests from Telegram.", &metrics.telegram_429);
	counter(f, "db_reconnects_total", "Database connections made again after a failure.", &metrics.db_reconnects);
	pthread_mutex_lock(&lock);
	histogram(f, "poll_seconds", "Duration of getUpdates calls.", &poll_hist);
	histogram(f, "handle_seconds", "Duration of invoice.telegram_handle per update.", &handle_hist);
	pthread_mutex_unlock(&lock);
	down_list(down, sizeof(down));
	fprintf(f, "# HELP invoice_bridge_ready Whether the database and Telegram answered recently.\n"
			"# TYPE invoice_bridge_ready gauge\ninvoice_bridge_ready %d\n", down[0] ? 0 : 1);
	fclose(f);
	return buf;
}

static enum MHD_Result
answer(void *cls, struct MHD_Connection *conn, const char *url,
	   const char *method, const char *version, const char *upload_data,
	   size_t *upload_data_size, void **con_cls)
{
	struct MHD_Response *resp;
	unsigned int status = MHD_HTTP_OK;
	const char *type = "application/json";
	char	   *body;
	size_t		len;
	enum MHD_Result ret;

	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
	{
		status = MHD_HTTP_METHOD_NOT_ALLOWED;
		body = strdup("{\"error\":\"method not allowed\"}");
	}
	else if (strcmp(url, "/health/live") == 0)
		body = strdup("{\"status\":\"live\"}");
	else if (strcmp(url, "/health/ready") == 0)
	{
		char		down[64];

		down_list(down, sizeof(down));
		if (down[0])
			status = MHD_HTTP_SERVICE_UNAVAILABLE;
		len = strlen(down) + 64;
		body = malloc(len);
		snprintf(body, len, "{\"status\":\"%s\",\"down\":[%s]}",
				 down[0] ? "unavailable" : "ready", down);
	}
	else if (strcmp(url, "/metrics") == 0)
	{
		body = metrics_text(&len);
		type = "text/plain; version=0.0.4; charset=utf-8";
	}
	else
	{
		status = MHD_HTTP_NOT_FOUND;
		body = strdup("{\"error\":\"not found\"}");
	}
	resp = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(resp, "Content-Type", type);
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/*
 * health_start
 *		Listen on host:port; false (logged) when it cannot.
 */
bool
health_start(const char *addr)
{
	char		host[256];
	const char *colon = strrchr(addr, ':');
	struct addrinfo hints = {0};
	struct addrinfo *ai;
	int			rc;
	int			fd;
	int			one = 1;

	if (!colon || colon == addr || (size_t) (colon - addr) >= sizeof(host))
	{
		log_msg(LOG_ERROR, "config", "BRIDGE_HEALTH_ADDR must be host:port, not \"%s\"", addr);
		return false;
	}
	memcpy(host, addr, colon - addr);
	host[colon - addr] = '\0';
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(host, colon + 1, &hints, &ai)) != 0)
	{
		log_msg(LOG_ERROR, "config", "BRIDGE_HEALTH_ADDR \"%s\": %s", addr, gai_strerror(rc));
		return false;
	}
	/* our own socket: SO_REUSEADDR (a restart finds the port in TIME_WAIT), not SO_REUSEPORT */
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
		bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 64) != 0)
	{
		log_msg(LOG_ERROR, "health", "cannot listen on %s: %s", addr, strerror(errno));
		freeaddrinfo(ai);
		if (fd >= 0)
			close(fd);
		return false;
	}
	freeaddrinfo(ai);
	daemon_handle = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD,
									 0, NULL, NULL, answer, NULL,
									 MHD_OPTION_LISTEN_SOCKET, fd,
									 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) 10,
									 MHD_OPTION_END);
	if (!daemon_handle)
	{
		log_msg(LOG_ERROR, "health", "cannot serve on %s", addr);
		close(fd);
		return false;
	}
	log_msg(LOG_INFO, "health", "endpoints on http://%s/health/live, /health/ready, /metrics", addr);
	return true;
}

void
health_stop(void)
{
	if (daemon_handle)
		MHD_stop_daemon(daemon_handle);
}
