#!/usr/bin/env python3
"""ClickHouse's HTTP interface, served by chdb (current ClickHouse, in process, from PyPI).

The ClickHouse event store is tested against Debian's clickhouse-server (18.16). This serves
the subset of the HTTP interface the store speaks (crates/agentsight-store-clickhouse/src/http.rs:
the statement in the body or in `query=` followed by the body's rows, settings and `database=`
as URL parameters, `GET /ping`) from chdb, so the same contract suite checks every statement
on a current ClickHouse too (scripts/test.sh; docs/architecture.md, "ClickHouse versions").

    chdb-http.py PORT DATA_DIR        # prints http://127.0.0.1:PORT/ once it listens

One chdb session holds the data under DATA_DIR; requests run one at a time (chdb is one
embedded engine). An exception is answered 500 with ClickHouse's own text ("Code: N. DB::…"),
as the server does.
"""

import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from chdb import session

# URL parameters that are not settings.
NOT_SETTINGS = {"database", "query", "user", "password", "default_format"}
# Settings of 18.16 that current ClickHouse renamed or dropped: the store sends them to every
# server; they change nothing on one embedded engine.
IGNORED_SETTINGS = {"insert_distributed_sync"}


class Engine:
    def __init__(self, path):
        self.session = session.Session(path)
        self.lock = threading.Lock()
        self.settings = {}

    def run(self, database, settings, sql):
        with self.lock:
            for k, v in settings.items():
                if k in IGNORED_SETTINGS or self.settings.get(k) == v:
                    continue
                self.session.query(f"SET {k} = {quote(v)}")
                self.settings[k] = v
            if database:
                self.session.query(f"USE {database}")
            # TabSeparated is the HTTP interface's default; a FORMAT clause in the SQL wins.
            return self.session.query(sql, "TabSeparated").bytes()


def quote(v):
    if v.lstrip("-").isdigit():
        return v
    return "'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'"


def make_handler(engine):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def answer(self, status, body):
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=UTF-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            url = urlsplit(self.path)
            if url.path == "/ping":
                self.answer(200, b"Ok.\n")
                return
            params = dict(parse_qsl(url.query, keep_blank_values=True))
            self.handle_sql(params, params.get("query", "").encode())

        def do_POST(self):
            url = urlsplit(self.path)
            params = dict(parse_qsl(url.query, keep_blank_values=True))
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if "query" in params:
                body = params["query"].encode() + b"\n" + body
            self.handle_sql(params, body)

        def handle_sql(self, params, sql):
            settings = {k: v for k, v in params.items() if k not in NOT_SETTINGS}
            database = params.get("database")
            text = sql.decode("utf-8")
            # Creating the database the URL names cannot first switch to it.
            if text.lstrip().upper().startswith(("CREATE DATABASE", "DROP DATABASE")):
                database = None
            try:
                out = engine.run(database, settings, text)
            except Exception as e:  # chdb raises its exception with ClickHouse's text
                self.answer(500, (str(e).strip() + "\n").encode())
                return
            self.answer(200, out)

    return Handler


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    port, path = int(sys.argv[1]), sys.argv[2]
    engine = Engine(path)
    server = ThreadingHTTPServer(("127.0.0.1", port), make_handler(engine))
    print(f"http://127.0.0.1:{server.server_address[1]}/", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
