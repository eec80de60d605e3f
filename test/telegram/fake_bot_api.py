#!/usr/bin/env python3
"""test/telegram/fake_bot_api.py: a fake Telegram Bot API on 127.0.0.1.

Serves /bot<TOKEN>/<method> like Telegram does, for the bridge's tests:
getUpdates honours offset and timeout (a long poll) and delivers the
updates the test scripted; every call is recorded (multipart parts
included) with its time; sendMessage, editMessageText, sendDocument and
answerCallbackQuery are checked the way Telegram checks them (HTML
entities, text length, callback_data length) and refused with 400 when
wrong.  A wrong token gets 401.  Faults can be scripted per method:
429 with retry_after, 500, 502 with an nginx HTML body, 409, 400, a hang
(no answer) or a dropped connection.

    fake_bot_api.py --token TOKEN --port-file FILE [--port N]

Control endpoints (for the test, plain text or JSON):
    POST /control/updates      a JSON list of updates to deliver
    POST /control/fault        {"method": "sendMessage" | "*", "kind": "429",
                                "count": 1, "retry_after": 2}
    POST /control/redeliver    {"update": {...}}: deliver it once more
    GET  /control/calls        every call so far, one JSON object a line
    GET  /control/count?method=M[&chat_id=C][&status=200]
    GET  /control/times?method=M[&chat_id=C][&status=S]   one time a line
"""
import argparse
import email.parser
import email.policy
import html.parser
import json
import socket
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

lock = threading.Condition()
updates = []        # scripted updates not yet confirmed, by update_id
redeliveries = []   # updates to deliver once more, whatever the offset
calls = []          # every Bot API call, recorded
faults = []         # scripted faults: dicts with method, kind, count
next_update_id = 1000
next_message_id = 1
next_file = 1
TOKEN = None

ALLOWED_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del",
                "a", "code", "pre", "tg-spoiler", "span", "blockquote", "tg-emoji"}
ENTITIES = {"lt", "gt", "amp", "quot"}


class HtmlCheck(html.parser.HTMLParser):
    """Telegram's HTML: a few tags, balanced, and only four named entities."""

    def __init__(self):
        super().__init__(convert_charrefs=False)
        self.stack = []
        self.error = None
        self.text_len = 0

    def handle_starttag(self, tag, attrs):
        if tag not in ALLOWED_TAGS:
            self.error = "Unsupported start tag \"%s\"" % tag
        self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.error = "Unexpected end tag \"%s\"" % tag
        else:
            self.stack.pop()

    def handle_data(self, data):
        self.text_len += len(data)

    def handle_entityref(self, name):
        if name not in ENTITIES:
            self.error = "Unsupported entity \"&%s;\"" % name
        self.text_len += 1

    def handle_charref(self, name):
        self.text_len += 1


def check_text(params, field, limit):
    """None when params[field] is what Telegram accepts, else the reason."""
    text = params.get(field)
    if text is None:
        return None if field == "caption" else "Bad Request: message text is empty"
    text = str(text)
    length = len(text)
    if params.get("parse_mode") == "HTML":
        checker = HtmlCheck()
        checker.feed(text)
        checker.close()
        if "&" in text:
            # a bare "&" not starting an entity is refused too
            for part in text.split("&")[1:]:
                name = part.split(";", 1)[0]
                if ";" not in part or not (name in ENTITIES or name.startswith("#")):
                    checker.error = checker.error or "Unsupported entity at \"&%s\"" % part[:10]
        if checker.error or checker.stack:
            return "Bad Request: can't parse entities: %s" % (checker.error or "unclosed tag")
        length = checker.text_len
    if field == "text" and length == 0:
        return "Bad Request: message text is empty"
    if length > limit:
        return "Bad Request: message is too long"
    return None


def check_markup(params):
    markup = params.get("reply_markup")
    if markup is None:
        return None
    if isinstance(markup, str):
        try:
            markup = json.loads(markup)
        except ValueError:
            return "Bad Request: can't parse reply keyboard markup JSON object"
    for row in markup.get("inline_keyboard", []):
        for button in row:
            data = button.get("callback_data")
            if data is not None and not 1 <= len(data.encode()) <= 64:
                return "Bad Request: BUTTON_DATA_INVALID"
            if not button.get("text"):
                return "Bad Request: text buttons are unallowed in the inline keyboard"
    return None


def validate(method, params):
    """None when Telegram would take the call, else the 400 description."""
    if method in ("sendMessage", "editMessageText", "sendDocument"):
        if "chat_id" not in params:
            return "Bad Request: chat not found"
    if method in ("sendMessage", "editMessageText"):
        return check_text(params, "text", 4096) or check_markup(params)
    if method == "sendDocument":
        return check_text(params, "caption", 1024) or check_markup(params)
    if method == "answerCallbackQuery":
        if not params.get("callback_query_id"):
            return "Bad Request: query is too old and response timeout expired or query ID is invalid"
        if len(str(params.get("text", ""))) > 200:
            return "Bad Request: MESSAGE_TOO_LONG"
    return None


def take_fault(method):
    with lock:
        for f in faults:
            if f["count"] > 0 and f["method"] in (method, "*"):
                f["count"] -= 1
                return dict(f)
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        # headers and body leave in two writes: without TCP_NODELAY the
        # second waits for the client's delayed ACK (40 ms a call)
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().setup()

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, body, ctype="application/json"):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def reply_json(self, status, obj):
        self.reply(status, json.dumps(obj))

    def read_params(self):
        """The call's parameters and uploaded files (query, JSON, form or multipart)."""
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        ctype = self.headers.get("Content-Type", "")
        params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
        files = []
        if ctype.startswith("application/json") and raw:
            params.update(json.loads(raw))
        elif ctype.startswith("application/x-www-form-urlencoded"):
            params.update(urllib.parse.parse_qsl(raw.decode()))
        elif ctype.startswith("multipart/form-data"):
            msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
                b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + raw)
            for part in msg.iter_parts():
                name = part.get_param("name", header="content-disposition")
                body = part.get_payload(decode=True) or b""
                filename = part.get_filename()
                if filename is not None:
                    files.append({"name": name, "filename": filename, "size": len(body),
                                  "type": part.get_content_type(),
                                  "head": body[:8].decode("latin-1")})
                    params[name] = {"upload": filename}
                else:
                    params[name] = body.decode()
        return params, files

    def do_GET(self):
        self.handle_any()

    def do_POST(self):
        self.handle_any()

    def handle_any(self):
        path = urllib.parse.urlsplit(self.path).path
        if path.startswith("/control/"):
            return self.control(path[len("/control/"):])
        parts = path.split("/")
        if len(parts) != 3 or not parts[1].startswith("bot"):
            return self.reply_json(404, {"ok": False, "error_code": 404, "description": "Not Found"})
        token, method = parts[1][3:], parts[2]
        try:
            params, files = self.read_params()
        except ValueError as e:
            return self.reply_json(400, {"ok": False, "error_code": 400,
                                         "description": "Bad Request: %s" % e})
        record = {"t": time.time(), "method": method, "params": params, "files": files}
        with lock:
            calls.append(record)
        if token != TOKEN:
            record["status"] = 401
            return self.reply_json(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
        fault = take_fault(method)
        if fault:
            record["status"] = fault["kind"]
            return self.fault(fault)
        problem = validate(method, params)
        if problem:
            record["status"] = 400
            return self.reply_json(400, {"ok": False, "error_code": 400, "description": problem})
        record["status"] = 200
        if method == "getUpdates":
            return self.reply_json(200, {"ok": True, "result": self.get_updates(params)})
        return self.reply_json(200, {"ok": True, "result": self.result(method, params)})

    def fault(self, f):
        kind = f["kind"]
        if kind == "429":
            after = f.get("retry_after", 1)
            return self.reply_json(429, {"ok": False, "error_code": 429,
                                         "description": "Too Many Requests: retry after %d" % after,
                                         "parameters": {"retry_after": after}})
        if kind == "502":
            return self.reply(502, "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n"
                              "<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n"
                              "<hr><center>nginx/1.18.0</center>\r\n</body>\r\n</html>\r\n", "text/html")
        if kind == "hang":
            time.sleep(f.get("seconds", 120))
            self.close_connection = True
            return None
        if kind == "drop":
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return None
        code = int(kind)
        descriptions = {500: "Internal Server Error",
                        409: "Conflict: terminated by other getUpdates request; make sure that "
                             "only one bot instance is running",
                        400: "Bad Request: scripted"}
        return self.reply_json(code, {"ok": False, "error_code": code,
                                      "description": descriptions.get(code, "Error")})

    def get_updates(self, params):
        offset = int(params.get("offset") or 0)
        timeout = float(params.get("timeout") or 0)
        deadline = time.time() + timeout
        with lock:
            while True:
                if offset:
                    # updates before the offset are confirmed: forgotten
                    updates[:] = [u for u in updates if u["update_id"] >= offset]
                out = list(redeliveries) + [u for u in updates if u["update_id"] >= offset][:100]
                redeliveries.clear()
                if out or time.time() >= deadline:
                    return out
                lock.wait(min(0.2, deadline - time.time()))

    def result(self, method, params):
        global next_message_id, next_file
        with lock:
            next_message_id += 1
            message = {"message_id": next_message_id, "date": int(time.time()),
                       "chat": {"id": int(params.get("chat_id", 0) or 0), "type": "private"}}
            if method == "answerCallbackQuery":
                return True
            if method == "sendDocument":
                doc = params.get("document")
                if isinstance(doc, dict):
                    next_file += 1
                    doc = "FAKE-FILE-%d" % next_file
                message["document"] = {"file_id": doc, "file_unique_id": doc + "-u"}
                return message
            message["text"] = params.get("text", "")
            return message

    def control(self, what):
        global next_update_id
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        if what == "updates":
            with lock:
                for u in body:
                    if "update_id" not in u:
                        next_update_id += 1
                        u["update_id"] = next_update_id
                    updates.append(u)
                lock.notify_all()
            return self.reply(200, "ok\n", "text/plain")
        if what == "fault":
            body.setdefault("count", 1)
            with lock:
                faults.append(body)
            return self.reply(200, "ok\n", "text/plain")
        if what == "redeliver":
            with lock:
                redeliveries.append(body["update"])
                lock.notify_all()
            return self.reply(200, "ok\n", "text/plain")
        with lock:
            chosen = [c for c in calls
                      if ("method" not in query or c["method"] == query["method"])
                      and ("chat_id" not in query or str(c["params"].get("chat_id")) == query["chat_id"])
                      and ("status" not in query or str(c.get("status")) == query["status"])]
        if what == "calls":
            return self.reply(200, "".join(json.dumps(c) + "\n" for c in chosen), "text/plain")
        if what == "count":
            return self.reply(200, "%d\n" % len(chosen), "text/plain")
        if what == "times":
            return self.reply(200, "".join("%.3f\n" % c["t"] for c in chosen), "text/plain")
        return self.reply(404, "no such control\n", "text/plain")


def main():
    global TOKEN
    ap = argparse.ArgumentParser()
    ap.add_argument("--token", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", required=True)
    args = ap.parse_args()
    TOKEN = args.token
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    with open(args.port_file, "w") as f:
        f.write("%d\n" % server.server_address[1])
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
