/*-------------------------------------------------------------------------
 *
 * log.c
 *	  One JSON object a line on stderr.
 *
 * Every line goes through scrub(): the bot token, and its secret part on
 * its own (which no URL encoding changes), are replaced before anything
 * is written, so neither a message of ours nor a libcurl or libpq error
 * string can print it.
 *
 *-------------------------------------------------------------------------
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bridge.h"

int			log_level = LOG_INFO;

static const char *secrets[2];
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *level_names[] = {"debug", "info", "warn", "error"};

/*
 * log_init
 *		Remember what must never be printed: the token and its secret part.
 */
void
log_init(const char *token)
{
	const char *colon = strchr(token, ':');

	secrets[0] = token;
	secrets[1] = (colon && strlen(colon + 1) >= 8) ? colon + 1 : NULL;
}

/*
 * scrub
 *		A malloc'd copy of s with every secret replaced by "***".
 */
char *
scrub(const char *s)
{
	size_t		cap = strlen(s) + 1;
	char	   *out = malloc(cap);
	size_t		o = 0;

	if (!out)
		abort();
	while (*s)
	{
		bool		hit = false;

		for (int i = 0; i < 2 && !hit; i++)
		{
			size_t		n = secrets[i] ? strlen(secrets[i]) : 0;

			if (n > 0 && strncmp(s, secrets[i], n) == 0)
			{
				/* "***" is never longer than a secret (8 bytes at least) */
				memcpy(out + o, "***", 3);
				o += 3;
				s += n;
				hit = true;
			}
		}
		if (!hit)
			out[o++] = *s++;
	}
	out[o] = '\0';
	return out;
}

/* append s to buf as the inside of a JSON string */
static void
json_escape(FILE *f, const char *s)
{
	for (; *s; s++)
	{
		unsigned char c = (unsigned char) *s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
}

/*
 * log_msg
 *		{"ts": ..., "level": ..., "event": ..., "msg": ...} on one line.
 */
void
log_msg(int level, const char *event, const char *fmt,...)
{
	char		raw[2048];
	char	   *clean;
	char		ts[40];
	struct timespec now;
	struct tm	tm;
	va_list		ap;

	if (level < log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	clean = scrub(raw);

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);

	pthread_mutex_lock(&log_lock);
	fprintf(stderr, "{\"ts\":\"%s.%03ldZ\",\"level\":\"%s\",\"event\":\"", ts,
			now.tv_nsec / 1000000, level_names[level]);
	json_escape(stderr, event);
	fputs("\",\"msg\":\"", stderr);
	json_escape(stderr, clean);
	fputs("\"}\n", stderr);
	fflush(stderr);
	pthread_mutex_unlock(&log_lock);
	free(clean);
}
