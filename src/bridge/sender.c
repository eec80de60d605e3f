/*-------------------------------------------------------------------------
 *
 * sender.c
 *	  Performs the outbox's actions, paced, one queue per chat.
 *
 * Pending actions are read from invoice.telegram_pending(), the first few
 * of every chat, shops taking turns, into one queue per chat, served round
 * robin within a shop and shop after shop: a chat may have at most 3 messages
 * in any 3 seconds (1 a second on average), all chats together at most 30
 * in any second, so one chat's burst never keeps the others waiting.
 * Answers to button presses are not messages and skip the per-chat limit.
 * Telegram's answer decides what happens to an action: sent (marked so),
 * refused (400 and other 4xx: dropped with the reason), rate limited (429:
 * everything waits retry_after), unreachable (5xx, timeouts, dropped
 * connections, 409: retried after a jittered exponential backoff), or the
 * token is wrong (401/404: the bridge stops with an error).  Only the
 * process that holds the poller's advisory lock sends.
 *
 *-------------------------------------------------------------------------
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bridge.h"

#define PER_CHAT_MAX		3	/* messages to one chat ... */
#define PER_CHAT_WINDOW		3.0 /* ... in any this many seconds */
#define GLOBAL_MAX			30	/* messages to all chats in any second */
#define BATCH				1000	/* pending actions read at once ... */
#define BATCH_PER_CHAT		10	/* ... at most this many of one chat */
#define REFRESH_MIN			0.02	/* seconds between two reads of the outbox */

typedef struct Action
{
	int64_t		id;
	int64_t		org;			/* its shop, -1 for a stranger's reply */
	char		method[32];
	char	   *body;			/* JSON to POST, NULL for an upload */
	bool		sent;			/* Telegram took it; marking it failed */
	struct Action *next;
} Action;

typedef struct Chat
{
	int64_t		chat_id;
	Action	   *head;
	Action	   *tail;
	double		sent_at[PER_CHAT_MAX];	/* ring of the latest sends */
	int			next_slot;
} Chat;

static pthread_mutex_t wake_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake_cond = PTHREAD_COND_INITIALIZER;
static bool wake_pending = false;

static DbConn db = {.name = "sender"};
static Chat *chats = NULL;
static int	nchats = 0;
static int	rr = 0;				/* where the round robin resumes */
static int64_t last_org = -2;	/* the shop served last */
static double global_sent_at[GLOBAL_MAX];
static int	global_slot = 0;
static double paused_until = 0;
static int	failures = 0;		/* consecutive transient failures */
static int	nqueued = 0;		/* actions in the queues */

/*
 * sender_wake
 *		The poller wrote new actions: read the outbox now.
 */
void
sender_wake(void)
{
	pthread_mutex_lock(&wake_lock);
	wake_pending = true;
	pthread_cond_signal(&wake_cond);
	pthread_mutex_unlock(&wake_lock);
}

/* wait until woken, stopping, or seconds passed */
static void
wait_for(double seconds)
{
	struct timespec ts;

	if (seconds > 0.5)
		seconds = 0.5;			/* check stopping twice a second */
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += (long) (seconds * 1e9);
	ts.tv_sec += ts.tv_nsec / 1000000000L;
	ts.tv_nsec %= 1000000000L;
	pthread_mutex_lock(&wake_lock);
	if (!wake_pending && !stopping)
		pthread_cond_timedwait(&wake_cond, &wake_lock, &ts);
	pthread_mutex_unlock(&wake_lock);
}

static void
forget_all(void)
{
	for (int i = 0; i < nchats; i++)
		while (chats[i].head)
		{
			Action	   *a = chats[i].head;

			chats[i].head = a->next;
			free(a->body);
			free(a);
			nqueued--;
		}
	nchats = 0;
}

/* is action id in chat c's queue already? */
static bool
queued(const Chat *c, int64_t id)
{
	for (const Action *a = c->head; a; a = a->next)
		if (a->id == id)
			return true;
	return false;
}

static Chat *
chat_for(int64_t chat_id)
{
	for (int i = 0; i < nchats; i++)
		if (chats[i].chat_id == chat_id)
			return &chats[i];
	/* reuse an idle chat whose last sends are out of the window */
	for (int i = 0; i < nchats; i++)
		if (!chats[i].head && now_mono() - chats[i].sent_at[(chats[i].next_slot + PER_CHAT_MAX - 1) % PER_CHAT_MAX] > PER_CHAT_WINDOW)
		{
			memset(&chats[i], 0, sizeof(Chat));
			chats[i].chat_id = chat_id;
			return &chats[i];
		}
	chats = realloc(chats, sizeof(Chat) * (nchats + 1));
	if (!chats)
		abort();
	memset(&chats[nchats], 0, sizeof(Chat));
	chats[nchats].chat_id = chat_id;
	return &chats[nchats++];
}

/*
 * refresh
 *		Queue the pending actions not queued yet.  A lost connection makes
 *		us forget the queues: the outbox is the truth, read it again.
 */
static void
refresh(void)
{
	char		batch[16];
	char		per_chat[16];
	const char *params[2] = {batch, per_chat};
	PGresult   *res;

	snprintf(batch, sizeof(batch), "%d", BATCH);
	snprintf(per_chat, sizeof(per_chat), "%d", BATCH_PER_CHAT);
	res = db_exec(&db, "SELECT action_id, chat_id, method, body, org_id FROM invoice.telegram_pending($1, $2)",
				  2, params, 0);
	if (!res)
	{
		if (!db.conn)
			forget_all();
		return;
	}
	for (int i = 0; i < PQntuples(res); i++)
	{
		int64_t		id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
		Chat	   *c;
		Action	   *a;

		c = chat_for(strtoll(PQgetvalue(res, i, 1), NULL, 10));
		if (queued(c, id))
			continue;
		a = calloc(1, sizeof(Action));
		if (!a)
			abort();
		a->id = id;
		a->org = PQgetisnull(res, i, 4) ? -1 : strtoll(PQgetvalue(res, i, 4), NULL, 10);
		snprintf(a->method, sizeof(a->method), "%s", PQgetvalue(res, i, 2));
		a->body = PQgetisnull(res, i, 3) ? NULL : strdup(PQgetvalue(res, i, 3));
		if (c->tail)
			c->tail->next = a;
		else
			c->head = a;
		c->tail = a;
		nqueued++;
	}
	PQclear(res);
}

static bool
paced(const Action *a)
{
	return config.pacing && strcmp(a->method, "answerCallbackQuery") != 0;
}

/* when chat c may have its next message (<= now: at once) */
static double
chat_ready_at(const Chat *c)
{
	if (!paced(c->head))
		return 0;
	return c->sent_at[c->next_slot] + PER_CHAT_WINDOW;
}

static double
global_ready_at(void)
{
	return config.pacing ? global_sent_at[global_slot] + 1.0 : 0;
}

/* mark an action done with: sent (file_id may be NULL) or dropped */
static bool
mark(const Action *a, bool sent, const char *file_id, const char *reason)
{
	char		id[32];
	const char *params[2] = {id, sent ? file_id : reason};
	PGresult   *res;

	snprintf(id, sizeof(id), "%lld", (long long) a->id);
	res = db_exec(&db, sent ? "SELECT invoice.telegram_sent($1, $2)"
				  : "SELECT invoice.telegram_failed($1, $2, true)", 2, params, 0);
	if (res)
		PQclear(res);
	return res != NULL;
}

/* a transient failure: recorded, and everything waits a little */
static void
transient(const Action *a, const char *reason, double wait)
{
	char		id[32];
	const char *params[2] = {id, reason};
	PGresult   *res;

	snprintf(id, sizeof(id), "%lld", (long long) a->id);
	res = db_exec(&db, "SELECT invoice.telegram_failed($1, $2, false)", 2, params, 0);
	if (res)
		PQclear(res);
	metric_inc(&metrics.actions_retried);
	paused_until = now_mono() + wait;
	log_msg(LOG_WARN, "send_retry", "action %lld (%s): %s; retrying in %.2f s",
			(long long) a->id, a->method, reason, wait);
}

/* the form and the file of an upload; false when they cannot be had */
static bool
load_upload(const Action *a, TgForm *form, PGresult **fres, PGresult **dres, char **why)
{
	char		id[32];
	const char *params[1] = {id};
	PGresult   *r;

	snprintf(id, sizeof(id), "%lld", (long long) a->id);
	*fres = db_exec(&db, "SELECT name, value FROM invoice.telegram_form($1)", 1, params, 0);
	if (!*fres)
		return false;
	if ((r = db_exec(&db, "BEGIN", 0, NULL, 0)))
		PQclear(r);
	*dres = db_exec(&db, "SELECT filename, content FROM invoice.telegram_document($1)", 1, params, 1);
	if (!*dres && db.conn)
		*why = strdup(PQerrorMessage(db.conn));
	if (db.conn && (r = db_exec(&db, *dres ? "COMMIT" : "ROLLBACK", 0, NULL, 0)))
		PQclear(r);
	if (!*dres || PQntuples(*dres) != 1)
		return false;
	form->nfields = PQntuples(*fres);
	form->names = malloc(sizeof(char *) * (form->nfields + 1));
	form->values = malloc(sizeof(char *) * (form->nfields + 1));
	for (int i = 0; i < form->nfields; i++)
	{
		form->names[i] = PQgetvalue(*fres, i, 0);
		form->values[i] = PQgetvalue(*fres, i, 1);
	}
	form->filename = PQgetvalue(*dres, 0, 0);
	form->data = PQgetvalue(*dres, 0, 1);
	form->len = PQgetlength(*dres, 0, 1);
	return true;
}

/*
 * send_one
 *		Perform the action at the head of chat c; true when it is done with
 *		(sent and marked, or dropped).
 */
static bool
send_one(Chat *c)
{
	Action	   *a = c->head;
	TgResponse	res;
	TgForm		form = {0};
	PGresult   *fres = NULL,
			   *dres = NULL;
	char	   *why = NULL;
	bool		done = false;

	if (a->sent)
		return mark(a, true, NULL, NULL);
	if (!a->body && !load_upload(a, &form, &fres, &dres, &why))
	{
		if (db.conn)			/* not a pending document any more: drop it */
		{
			log_msg(LOG_WARN, "send_dropped", "action %lld: no document to upload: %s",
					(long long) a->id, why ? why : "none");
			done = mark(a, false, NULL, why ? why : "no document to upload");
		}
		goto out;
	}

	c->sent_at[c->next_slot] = now_mono();
	c->next_slot = (c->next_slot + 1) % PER_CHAT_MAX;
	global_sent_at[global_slot] = now_mono();
	global_slot = (global_slot + 1) % GLOBAL_MAX;
	tg_call(a->method, a->body, a->body ? NULL : &form, 30, &res);

	if (res.status == 200)
	{
		char	   *file_id = a->body ? NULL : db_json_field(&db, res.body, "{result,document,file_id}");

		health_telegram(true);
		failures = 0;
		metric_inc(&metrics.actions_sent);
		log_msg(LOG_DEBUG, "sent", "action %lld (%s) to chat %lld", (long long) a->id,
				a->method, (long long) c->chat_id);
		a->sent = true;
		done = mark(a, true, file_id, NULL);
		free(file_id);
	}
	else if (tg_fatal_status(res.status))
	{
		log_msg(LOG_ERROR, "unauthorized", "Telegram answered %ld %s to %s: the bot token "
				"(TELEGRAM_BOT_TOKEN) is wrong or was revoked", res.status,
				res.status == 401 ? "Unauthorized" : "Not Found", a->method);
		exit_code = 1;
		stopping = 1;
	}
	else if (res.status == 429)
	{
		char	   *after = db_json_field(&db, res.body, "{parameters,retry_after}");
		double		wait = after ? atof(after) : 5;

		health_telegram(true);
		metric_inc(&metrics.telegram_429);
		transient(a, "429 Too Many Requests", wait > 0 ? wait : 1);
		free(after);
	}
	else if (res.status >= 400 && res.status < 500 && res.status != 409)
	{
		char	   *desc = db_json_field(&db, res.body, "{description}");
		char		reason[600];

		health_telegram(true);
		snprintf(reason, sizeof(reason), "%ld: %s", res.status, desc ? desc : "no description");
		log_msg(LOG_WARN, "send_dropped", "action %lld (%s) refused by Telegram: %s",
				(long long) a->id, a->method, reason);
		metric_inc(&metrics.actions_failed);
		done = mark(a, false, NULL, reason);
		free(desc);
	}
	else if (!stopping)
	{
		char		reason[300];

		if (res.status)
			snprintf(reason, sizeof(reason), "HTTP %ld", res.status);
		else
			snprintf(reason, sizeof(reason), "no answer: %s", res.error);
		health_telegram(false);
		transient(a, reason, backoff_delay(++failures));
	}
	tg_response_free(&res);
out:
	free(form.names);
	free(form.values);
	free(why);
	if (fres)
		PQclear(fres);
	if (dres)
		PQclear(dres);
	return done;
}

/* is shop a served before shop b, in the circle that starts after last_org? */
static bool
shop_before(int64_t a, int64_t b)
{
	bool		a_wraps = a <= last_org;
	bool		b_wraps = b <= last_org;

	return a_wraps != b_wraps ? !a_wraps : a < b;
}

/*
 * sender_main
 *		The sender thread: refresh, pick the next chat that may be served,
 *		send, until stopping.
 */
void *
sender_main(void *arg)
{
	double		next_refresh = 0;
	double		last_refresh = -1;

	while (!stopping)
	{
		double		now = now_mono();
		double		soonest = now + 1;
		Chat	   *pick = NULL;

		/*
		 * New actions: read the outbox at once, but not more than every
		 * REFRESH_MIN s, and while the queues still hold many actions only
		 * once a second (each read goes over every pending action: reading
		 * after each update the poller handled cost more than sending).
		 */
		pthread_mutex_lock(&wake_lock);
		if (wake_pending && nqueued < BATCH / 10 && next_refresh > last_refresh + REFRESH_MIN)
			next_refresh = last_refresh + REFRESH_MIN;
		wake_pending = false;
		pthread_mutex_unlock(&wake_lock);

		if (!have_lock)
		{
			PGresult   *res = db_exec(&db, "SELECT 1", 0, NULL, 0);

			if (res)
				PQclear(res);
			forget_all();
			wait_for(1);
			continue;
		}
		if (now >= next_refresh)
		{
			refresh();
			last_refresh = now;
			next_refresh = now + 1;
		}
		if (next_refresh < soonest)
			soonest = next_refresh;
		if (now < paused_until)
		{
			wait_for(paused_until - now);
			continue;
		}
		/*
		 * Of the chats that may have a message now, the first (round robin)
		 * of the shop that comes next after the one served last (shops in
		 * a circle of their ids): one shop's burst never starves another.
		 */
		for (int k = 0; k < nchats; k++)
		{
			Chat	   *c = &chats[(rr + k) % nchats];
			double		at;

			if (!c->head)
				continue;
			at = chat_ready_at(c);
			if (paced(c->head) && global_ready_at() > at)
				at = global_ready_at();
			if (at > now)
			{
				if (at < soonest)
					soonest = at;
			}
			else if (!pick || shop_before(c->head->org, pick->head->org))
				pick = c;
		}
		if (pick)
		{
			rr = (int) (pick - chats + 1) % nchats;
			last_org = pick->head->org;
		}
		if (!pick)
		{
			wait_for(soonest - now);
			continue;
		}
		if (send_one(pick))
		{
			Action	   *a = pick->head;

			pick->head = a->next;
			if (!pick->head)
				pick->tail = NULL;
			free(a->body);
			free(a);
			nqueued--;
		}
	}
	forget_all();
	free(chats);
	PQfinish(db.conn);
	tg_thread_done(false);
	return NULL;
}
