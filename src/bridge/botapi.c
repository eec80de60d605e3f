/*-------------------------------------------------------------------------
 *
 * botapi.c
 *	  One call to the Telegram Bot API with libcurl.
 *
 * It POSTs JSON text made by SQL (or a multipart form for a document
 * upload) to $TELEGRAM_API_BASE/bot<token>/<method> and hands back the
 * HTTP status and the raw body; deciding what an answer means is the
 * caller's business.  Each thread keeps its own handle, so connections
 * are reused.  A transfer stops as soon as the bridge is stopping, even
 * in the middle of a long poll.  libcurl's error strings are scrubbed of
 * the token before anyone sees them.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "bridge.h"

static __thread CURL *handle = NULL;

void
tg_global_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* the calling thread's handle goes, and with the main thread's, libcurl */
void
tg_thread_done(bool last)
{
	if (handle)
		curl_easy_cleanup(handle);
	handle = NULL;
	if (last)
		curl_global_cleanup();
}

/* libcurl's write callback: grow the response body */
static size_t
collect(char *ptr, size_t size, size_t nmemb, void *arg)
{
	TgResponse *res = arg;
	size_t		n = size * nmemb;
	char	   *grown = realloc(res->body, res->len + n + 1);

	if (!grown)
		return 0;
	res->body = grown;
	memcpy(res->body + res->len, ptr, n);
	res->len += n;
	res->body[res->len] = '\0';
	return n;
}

/* libcurl's progress callback: abort the transfer when stopping */
static int
progress(void *arg, curl_off_t dltotal, curl_off_t dlnow,
		 curl_off_t ultotal, curl_off_t ulnow)
{
	return stopping ? 1 : 0;
}

/*
 * tg_call
 *		POST one method.  With form, a multipart upload (the file part is
 *		"document"); else json as the body.  res->status is 0 when no HTTP
 *		answer came (timeout, refused or dropped connection, stopping).
 */
void
tg_call(const char *method, const char *json, const TgForm *form,
		long timeout_s, TgResponse *res)
{
	char		url[1024];
	char		errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *headers = NULL;
	curl_mime  *mime = NULL;
	CURLcode	rc;

	memset(res, 0, sizeof(*res));
	if (!handle && !(handle = curl_easy_init()))
	{
		snprintf(res->error, sizeof(res->error), "curl_easy_init failed");
		return;
	}
	curl_easy_reset(handle);
	snprintf(url, sizeof(url), "%s/bot%s/%s", config.api_base, config.token, method);
	curl_easy_setopt(handle, CURLOPT_URL, url);
	curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(handle, CURLOPT_TIMEOUT, timeout_s);
	curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(handle, CURLOPT_WRITEDATA, res);
	curl_easy_setopt(handle, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(handle, CURLOPT_XFERINFOFUNCTION, progress);
	curl_easy_setopt(handle, CURLOPT_USERAGENT, "invoice-bridge");

	if (form)
	{
		curl_mimepart *part;

		mime = curl_mime_init(handle);
		for (int i = 0; i < form->nfields; i++)
		{
			part = curl_mime_addpart(mime);
			curl_mime_name(part, form->names[i]);
			curl_mime_data(part, form->values[i], CURL_ZERO_TERMINATED);
		}
		part = curl_mime_addpart(mime);
		curl_mime_name(part, "document");
		curl_mime_filename(part, form->filename);
		curl_mime_type(part, "application/pdf");
		curl_mime_data(part, form->data, form->len);
		curl_easy_setopt(handle, CURLOPT_MIMEPOST, mime);
	}
	else
	{
		headers = curl_slist_append(headers, "Content-Type: application/json");
		curl_easy_setopt(handle, CURLOPT_HTTPHEADER, headers);
		curl_easy_setopt(handle, CURLOPT_POSTFIELDS, json);
	}

	rc = curl_easy_perform(handle);
	if (rc == CURLE_OK)
		curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &res->status);
	else
	{
		char	   *clean = scrub(errbuf[0] ? errbuf : curl_easy_strerror(rc));

		snprintf(res->error, sizeof(res->error), "%s", clean);
		free(clean);
		res->status = 0;
	}
	/* the URL holds the token: leave no copy behind in the handle */
	curl_easy_setopt(handle, CURLOPT_URL, "");
	memset(url, 0, sizeof(url));
	curl_slist_free_all(headers);
	curl_mime_free(mime);
}

void
tg_response_free(TgResponse *res)
{
	free(res->body);
	res->body = NULL;
}

/* 401 and 404 on the token: it is wrong or revoked, retrying cannot help */
bool
tg_fatal_status(long status)
{
	return status == 401 || status == 404;
}
