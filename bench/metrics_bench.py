"""The metrics benchmark: times `GET /api/metrics/overview/` of a running server over a 30-day
range — without filters and with every pair of filters, in UTC and America/New_York — and, with
`--duckdb`, computes the same overviews with DuckDB over the same raw rows (moved across as CSV,
because DuckDB's SQLite extension would be downloaded at run time), checks that both give the
same numbers, and reports the ratio. It also reports the server's resident memory (`--pid`).

    python bench/metrics_bench.py --url http://127.0.0.1:18601 --key ags_... \\
        --db /tmp/m1m/agentsight.db --pid 12345 [--runs 20] [--duckdb] [--duckdb-runs 5]

With `--vs-url` and `--vs-key` (and `--vs-pid`), a second server holding the same data — the
scale-out nodes on PostgreSQL and ClickHouse after `agentsight migrate`, say — is timed in the
same run: for each case the two servers are asked in turn, run by run, both answers must be
equal (any difference is printed and fails the run), and the ratio of the medians is reported.

    python bench/metrics_bench.py --url http://127.0.0.1:25601 --key ags_... --db box/agentsight.db \
        --vs-url http://127.0.0.1:25602 --vs-key ags_... --vs-name clickhouse --runs 10

Only loopback URLs are accepted. Needs the standard library, and `duckdb` for `--duckdb`
(`bench/run-metrics-bench.sh` makes a venv with it).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import itertools
import json
import os
import sqlite3
import statistics
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from zoneinfo import ZoneInfo

ESCALATION = ["fallback_to_human", "open_ticket", "ticket", "contact_human"]
FILTERS = ["environment", "source", "device", "language", "country", "customer_id", "metadata"]
ZONES = ["UTC", "America/New_York"]


# ------------------------------------------------------------------------------ our server


class Server:
    def __init__(self, url: str, key: str):
        host = urllib.parse.urlparse(url).hostname
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise SystemExit("refusing a non-loopback target")
        self.url = url.rstrip("/")
        self.key = key

    def get(self, path: str, params: dict | None = None):
        q = f"?{urllib.parse.urlencode(params)}" if params else ""
        req = urllib.request.Request(f"{self.url}{path}{q}", headers={"Authorization": f"Api-Key {self.key}"})
        with urllib.request.urlopen(req, timeout=300) as r:
            return json.loads(r.read())

    def wait_ready(self, timeout: float = 1800) -> dict:
        t0 = time.time()
        while True:
            st = self.get("/api/metrics/status/")
            if st["phase"] != "loading" or time.time() - t0 > timeout:
                return st
            time.sleep(0.5)


def rss_mb(pid: int | None) -> dict | None:
    if not pid:
        return None
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        k, _, v = line.partition(":")
        if k in ("VmRSS", "VmHWM"):
            out[k] = round(int(v.split()[0]) / 1024, 1)
    return out


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p * (len(xs) - 1))))]


# ------------------------------------------------------------------------------ cases


def pick_values(db: Path, agent_id: int) -> dict[str, str]:
    """The most frequent value of each filter among the agent's conversations (so every filter
    keeps a realistic share of the data)."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    vals = {}
    for col in ["environment", "source", "device", "language", "country", "customer_id"]:
        row = con.execute(
            f"SELECT {col}, count(*) n FROM conversations WHERE agent_id = ? AND {col} IS NOT NULL "
            f"AND {col} <> '' GROUP BY 1 ORDER BY n DESC LIMIT 1",
            (agent_id,),
        ).fetchone()
        vals[col] = row[0]
    row = con.execute(
        "SELECT json_extract(metadata, '$.plan') v, count(*) n FROM conversations WHERE agent_id = ? "
        "AND json_type(metadata, '$.plan') = 'text' GROUP BY 1 ORDER BY n DESC LIMIT 1",
        (agent_id,),
    ).fetchone()
    vals["metadata"] = f"plan:{row[0]}" if row else "plan:pro"
    con.close()
    return vals


def cases(values: dict[str, str], days: int) -> list[tuple[str, dict]]:
    to = dt.date.today()
    frm = to - dt.timedelta(days=days - 1)
    base = {"from": frm.isoformat(), "to": to.isoformat()}
    out = []
    for tz in ZONES:
        out.append((f"no filter, {tz}", {**base, "tz": tz}))
    for tz in ZONES:
        for a, b in itertools.combinations(FILTERS, 2):
            out.append((f"{a}+{b}, {tz}", {**base, "tz": tz, a: values[a], b: values[b]}))
    return out


# ------------------------------------------------------------------------------ DuckDB


EXPORTS = {
    "conversations": "SELECT id, agent_id, started_at, ended_at, customer_id, environment, source, device, "
    "language, country, city, latitude, longitude, is_used, is_deleted, metadata FROM conversations",
    "messages": "SELECT id, agent_id, conversation_pk, kind, sender, ts, response_us FROM messages",
    "action_logs": "SELECT id, agent_id, conversation_pk, ts, action_name, duration_ms, started_at, ended_at, "
    "coalesce(error_msg, '') <> '' AS has_error FROM action_logs",
    "feedbacks": "SELECT id, agent_id, conversation_pk, sentiment, created_at FROM feedbacks",
}

TYPES = {
    "conversations": "id BIGINT, agent_id BIGINT, started_at BIGINT, ended_at BIGINT, customer_id VARCHAR, "
    "environment VARCHAR, source VARCHAR, device VARCHAR, language VARCHAR, country VARCHAR, city VARCHAR, "
    "latitude DOUBLE, longitude DOUBLE, is_used BOOLEAN, is_deleted BOOLEAN, metadata VARCHAR",
    "messages": "id BIGINT, agent_id BIGINT, conversation_pk BIGINT, kind INTEGER, sender VARCHAR, ts BIGINT, "
    "response_us BIGINT",
    "action_logs": "id BIGINT, agent_id BIGINT, conversation_pk BIGINT, ts BIGINT, action_name VARCHAR, "
    "duration_ms BIGINT, started_at BIGINT, ended_at BIGINT, has_error BOOLEAN",
    "feedbacks": "id BIGINT, agent_id BIGINT, conversation_pk BIGINT, sentiment VARCHAR, created_at BIGINT",
}


def export_csv(db: Path, out: Path) -> float:
    """Writes the metric-relevant columns of the raw tables as CSV (once per database state)."""
    out.mkdir(parents=True, exist_ok=True)
    done = out / "done"
    if done.exists():
        return 0.0
    t0 = time.time()
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    for table, sql in EXPORTS.items():
        with open(out / f"{table}.csv", "w", newline="") as f:
            w = csv.writer(f)
            cur = con.execute(sql)
            while rows := cur.fetchmany(100_000):
                w.writerows([["" if v is None else v for v in r] for r in rows])
    con.close()
    done.write_text("ok")
    return time.time() - t0


def load_duckdb(csv_dir: Path):
    import duckdb

    con = duckdb.connect()
    t0 = time.time()
    for table, types in TYPES.items():
        cols = ", ".join(f"'{c.split()[0]}': '{c.split()[1]}'" for c in types.split(", "))
        con.execute(
            f"CREATE TABLE {table} AS SELECT * FROM read_csv('{csv_dir / (table + '.csv')}', header=false, "
            f"columns={{{cols}}}, nullstr='', quote='\"', escape='\"')"
        )
    return con, time.time() - t0


def day_start(day: dt.date, tz: str) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(tz)).timestamp()) * 1_000_000


def sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def feedback_sql(path: str) -> tuple[str, str]:
    """SQL for (sentiment, rating) of the JSON value at `path` of `c.metadata` (metrics.md,
    *Effective feedback*: a sentiment string, a boolean, a 1–5 number, or an object read through
    its sentiment key, else its rating key)."""

    def scalar(p: str) -> tuple[str, str]:
        t = f"json_type(c.metadata, '{p}')"
        s = f"lower(trim(json_extract_string(c.metadata, '{p}')))"
        num = f"TRY_CAST(json_extract_string(c.metadata, '{p}') AS DOUBLE)"
        is_num = f"{t} IN ('BIGINT', 'UBIGINT', 'DOUBLE')"
        rated = f"({is_num} AND {num} BETWEEN 1 AND 5)"
        sent = (
            f"CASE WHEN {t} = 'VARCHAR' AND {s} IN ('positive', 'neutral', 'negative') THEN {s} "
            f"WHEN {t} = 'BOOLEAN' THEN CASE WHEN {s} = 'true' THEN 'positive' ELSE 'negative' END "
            f"WHEN {rated} THEN CASE WHEN round({num}) >= 4 THEN 'positive' WHEN round({num}) = 3 THEN 'neutral' "
            f"ELSE 'negative' END END"
        )
        return sent, f"CASE WHEN {rated} THEN {num} END"

    s_top, r_top = scalar(path)
    s_sent, r_sent = scalar(path + ".sentiment")
    s_rate, r_rate = scalar(path + ".rating")
    t = f"json_type(c.metadata, '{path}')"
    sent = f"CASE WHEN {t} = 'OBJECT' THEN coalesce({s_sent}, {s_rate}) ELSE {s_top} END"
    rating = (
        f"CASE WHEN {t} = 'OBJECT' THEN CASE WHEN {s_sent} IS NOT NULL THEN {r_sent} ELSE {r_rate} END "
        f"ELSE {r_top} END"
    )
    return sent, rating


def duck_overview(con, agent_id: int, params: dict, use_stored_responses: bool) -> dict:
    tz = params.get("tz", "UTC")
    frm = dt.date.fromisoformat(params["from"])
    to = dt.date.fromisoformat(params["to"])
    start, end = day_start(frm, tz), day_start(to + dt.timedelta(days=1), tz)
    where = ["c.agent_id = $agent", "NOT c.is_deleted"]
    for f in ["environment", "source", "device", "language", "country", "customer_id"]:
        if f in params:
            where.append(f"c.{f} = {sql_str(params[f])}")
    if "metadata" in params:
        k, v = params["metadata"].split(":", 1)
        p = f'$."{k}"'
        where.append(
            f"(CASE json_type(c.metadata, '{p}') WHEN 'VARCHAR' THEN json_extract_string(c.metadata, '{p}') "
            f"WHEN 'BIGINT' THEN json_extract_string(c.metadata, '{p}') WHEN 'UBIGINT' THEN "
            f"json_extract_string(c.metadata, '{p}') WHEN 'BOOLEAN' THEN json_extract_string(c.metadata, '{p}') "
            f"END) = {sql_str(v)}"
        )
    cw = " AND ".join(where)
    local = f"timezone({sql_str(tz)}, timezone('UTC', make_timestamp({{}})))"
    args = {"agent": agent_id, "s": start, "e": end}
    esc = ", ".join(sql_str(n) for n in ESCALATION)
    sent, rating = feedback_sql("$.feedback")
    q = con.execute
    conv = q(
        f"""
        WITH c AS (SELECT * FROM conversations c WHERE {cw} AND c.started_at >= $s AND c.started_at < $e),
        last AS (SELECT conversation_pk, max(ts) last_ts, bool_or(kind = 0) has_msg FROM messages
                 WHERE agent_id = $agent AND conversation_pk IN (SELECT id FROM c) GROUP BY 1),
        fb AS (SELECT conversation_pk, arg_max(sentiment, created_at::HUGEINT * 1000000000 + id) s FROM feedbacks
               WHERE agent_id = $agent GROUP BY 1),
        esc AS (SELECT DISTINCT conversation_pk FROM action_logs WHERE agent_id = $agent AND action_name IN ({esc})),
        x AS (SELECT c.*, l.last_ts, coalesce(l.has_msg, false) has_msg, fb.s explicit, {sent} meta_s, {rating} meta_r,
                     esc.conversation_pk IS NOT NULL escalated
              FROM c LEFT JOIN last l ON l.conversation_pk = c.id LEFT JOIN fb ON fb.conversation_pk = c.id
              LEFT JOIN esc ON esc.conversation_pk = c.id),
        y AS (SELECT *, CASE WHEN explicit IS NOT NULL THEN explicit ELSE meta_s END eff,
                        CASE WHEN explicit IS NOT NULL THEN NULL ELSE meta_r END eff_r FROM x)
        SELECT count(*), count(*) FILTER (is_used),
               count(*) FILTER (has_msg), sum(coalesce(ended_at, last_ts) - started_at) FILTER (has_msg),
               count(DISTINCT customer_id) FILTER (customer_id <> ''),
               count(*) FILTER (escalated),
               count(*) FILTER (eff = 'positive'), count(*) FILTER (eff = 'neutral'),
               count(*) FILTER (eff = 'negative'), count(eff_r), avg(eff_r)
        FROM y""",
        args,
    ).fetchone()
    groups = {}
    for col in ["device", "source", "language", "country"]:
        groups[col] = q(
            f"SELECT {col}, count(*) FROM conversations c WHERE {cw} AND c.started_at >= $s AND c.started_at < $e "
            f"GROUP BY 1",
            args,
        ).fetchall()
    daily_c = dict(
        q(
            f"SELECT CAST({local.format('c.started_at')} AS DATE)::VARCHAR, count(*) FROM conversations c "
            f"WHERE {cw} AND c.started_at >= $s AND c.started_at < $e GROUP BY 1",
            args,
        ).fetchall()
    )
    msgs = q(
        f"""SELECT CAST(lt AS DATE)::VARCHAR, isodow(lt) - 1, hour(lt), sender, count(*) FROM (
              SELECT {local.format('m.ts')} lt, m.sender FROM messages m JOIN conversations c ON c.id = m.conversation_pk
              WHERE m.agent_id = $agent AND m.kind = 0 AND m.ts >= $s AND m.ts < $e AND {cw}) GROUP BY ALL""",
        args,
    ).fetchall()
    if use_stored_responses:
        resp = q(
            f"SELECT count(*), sum(m.response_us) FROM messages m JOIN conversations c ON c.id = m.conversation_pk "
            f"WHERE m.agent_id = $agent AND m.kind = 0 AND m.ts >= $s AND m.ts < $e AND m.response_us IS NOT NULL "
            f"AND {cw}",
            args,
        ).fetchone()
    else:
        resp = q(
            f"""WITH m AS (
                  SELECT m.ts, m.sender, lag(m.sender) OVER w prev_sender, lag(m.ts) OVER w prev_ts
                  FROM messages m JOIN conversations c ON c.id = m.conversation_pk
                  WHERE m.agent_id = $agent AND m.kind = 0 AND m.ts < $e AND {cw}
                    AND m.conversation_pk IN (SELECT conversation_pk FROM messages WHERE agent_id = $agent
                        AND kind = 0 AND sender = 'agent' AND ts >= $s AND ts < $e)
                  WINDOW w AS (PARTITION BY m.conversation_pk ORDER BY m.ts, m.id))
                SELECT count(*), sum(ts - prev_ts) FROM m
                WHERE sender = 'agent' AND prev_sender = 'end_user' AND ts >= $s""",
            args,
        ).fetchone()
    tools = q(
        f"""SELECT a.action_name, count(*), count(*) FILTER (a.has_error),
                   count(*) FILTER (a.duration_ms IS NOT NULL OR (a.started_at IS NOT NULL AND a.ended_at IS NOT NULL)),
                   sum(CASE WHEN a.duration_ms IS NOT NULL THEN a.duration_ms * 1000
                            WHEN a.started_at IS NOT NULL AND a.ended_at IS NOT NULL THEN a.ended_at - a.started_at END)
            FROM action_logs a JOIN conversations c ON c.id = a.conversation_pk
            WHERE a.agent_id = $agent AND a.ts >= $s AND a.ts < $e AND a.action_name <> 'token_usage' AND {cw}
            GROUP BY 1""",
        args,
    ).fetchall()
    by_sender = {"end_user": 0, "agent": 0, "system": 0}
    matrix = [[0] * 24 for _ in range(7)]
    daily_m: dict[str, int] = {}
    for date, wd, h, sender, n in msgs:
        by_sender[sender if sender in ("end_user", "agent") else "system"] += n
        matrix[wd][h] += n
        daily_m[date] = daily_m.get(date, 0) + n
    days = [(frm + dt.timedelta(days=i)).isoformat() for i in range((to - frm).days + 1)]
    return {
        "total_conversations": conv[0],
        "unique_interactions": conv[1],
        "avg_conversation_duration_ms": conv[3] / conv[2] / 1000 if conv[2] else None,
        "unique_users": conv[4],
        "human_escalation": conv[5],
        "feedback": [conv[6], conv[7], conv[8]],
        "ratings": [conv[9], conv[10]],
        "total_messages": sum(by_sender.values()),
        "messages_by_sender": by_sender,
        "peak_hours": matrix,
        "daily": [[d, daily_m.get(d, 0), daily_c.get(d, 0)] for d in days],
        "bot_responses": resp[0],
        "avg_bot_response_time_ms": resp[1] / resp[0] / 1000 if resp[0] else None,
        "tools": sorted(
            [[n, c, e, (s / k / 1000 if k else None)] for n, c, e, k, s in tools], key=lambda t: (-t[1], t[0])
        ),
        "devices": sorted([[v, n] for v, n in groups["device"]], key=lambda t: (-t[1], t[0] is None, t[0] or "")),
        "sources": sorted([[v, n] for v, n in groups["source"]], key=lambda t: (-t[1], t[0] is None, t[0] or "")),
        "languages": sorted([[v, n] for v, n in groups["language"]], key=lambda t: (-t[1], t[0] is None, t[0] or "")),
        "countries": sorted([[v, n] for v, n in groups["country"]], key=lambda t: (-t[1], t[0] is None, t[0] or "")),
    }


def ours_comparable(o: dict) -> dict:
    return {
        "total_conversations": o["total_conversations"],
        "unique_interactions": o["unique_interactions"],
        "avg_conversation_duration_ms": o["avg_conversation_duration_ms"],
        "unique_users": o["unique_users"],
        "human_escalation": o["human_escalation"]["conversations"],
        "feedback": [o["feedback"]["positive"], o["feedback"]["neutral"], o["feedback"]["negative"]],
        "ratings": [o["feedback"]["ratings"]["count"], o["feedback"]["ratings"]["average"]],
        "total_messages": o["total_messages"],
        "messages_by_sender": o["messages_by_sender"],
        "peak_hours": o["peak_hours"]["matrix"],
        "daily": [[d["date"], d["messages"], d["conversations"]] for d in o["daily"]],
        "bot_responses": o["bot_responses"],
        "avg_bot_response_time_ms": o["avg_bot_response_time_ms"],
        "tools": [[t["name"], t["calls"], t["errors"], t["avg_duration_ms"]] for t in o["tools"]],
        "devices": [[d["device"], d["conversations"]] for d in o["devices"]],
        "sources": [[d["source"], d["conversations"]] for d in o["sources"]],
        "languages": [[d["language"], d["conversations"]] for d in o["languages"]],
        "countries": [[d["country"], d["conversations"]] for d in o["countries"]],
    }


def same(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            return a is b
        return abs(a - b) <= 1e-6 * max(abs(a), abs(b), 1.0)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b


def diff(ours: dict, duck: dict) -> list[str]:
    return [k for k in ours if not same(ours[k], duck.get(k))]


# ------------------------------------------------------------------------------ main


def comparable(body: dict) -> dict:
    """An overview without what names the engine or the moment it answered."""
    return {k: v for k, v in body.items() if k not in ("engine", "generated_at", "computed_at")}


def equal(a, b) -> bool:
    """Equal, but floats to 1e-9 relative (averages summed in another order differ in the last digit)."""
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, (int, float)) and isinstance(b, (int, float)) and abs(a - b) <= 1e-9 * max(abs(a), abs(b), 1)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b))
    return a == b


def versus(args) -> None:
    """Times every case on both servers in turn, run by run, and requires equal answers."""
    a, b = Server(args.url, args.key), Server(args.vs_url, args.vs_key)
    print(f"first: {a.wait_ready()}", flush=True)
    probe = a.get("/api/metrics/overview/")
    values = pick_values(args.db, probe["agent"]["id"])
    print(f"filter values: {values}", flush=True)
    rows, differing = [], []
    for name, params in cases(values, args.days):
        if args.cases and args.cases not in name:
            continue
        ta, tb, ba, bb = [], [], None, None
        for _ in range(args.runs):
            for srv, times, which in ((a, ta, "a"), (b, tb, "b")):
                t = time.perf_counter()
                body = srv.get("/api/metrics/overview/", params)
                times.append((time.perf_counter() - t) * 1000)
                if which == "a":
                    ba = body
                else:
                    bb = body
        same = equal(comparable(ba), comparable(bb))
        if not same:
            differing.append(name)
            keys = sorted(k for k in comparable(ba) if not equal(comparable(ba).get(k), comparable(bb).get(k)))
            print(f"  DIFFERS in {keys}", flush=True)
        r = {
            "case": name,
            "messages": ba["total_messages"],
            "conversations": ba["total_conversations"],
            "first_median_ms": round(statistics.median(ta), 1),
            "first_p95_ms": round(pct(ta, 0.95), 1),
            f"{args.vs_name}_median_ms": round(statistics.median(tb), 1),
            f"{args.vs_name}_p95_ms": round(pct(tb, 0.95), 1),
            "ratio": round(statistics.median(tb) / max(statistics.median(ta), 0.001), 1),
            "same": same,
        }
        rows.append(r)
        print(f"{name:42} first {r['first_median_ms']:8.1f} / {r['first_p95_ms']:8.1f} ms   "
              f"{args.vs_name} {r[f'{args.vs_name}_median_ms']:8.1f} / {r[f'{args.vs_name}_p95_ms']:8.1f} ms   "
              f"x{r['ratio']}  ({r['messages']} messages){'' if same else '  DIFFERS'}", flush=True)
    mem = {"first": rss_mb(args.pid), args.vs_name: [rss_mb(p) for p in args.vs_pid]}
    summary = {
        "cases": len(rows),
        "memory_mb": mem,
        "first_median_of_medians_ms": round(statistics.median(r["first_median_ms"] for r in rows), 1),
        f"{args.vs_name}_median_of_medians_ms": round(
            statistics.median(r[f"{args.vs_name}_median_ms"] for r in rows), 1),
        f"{args.vs_name}_worst_median_ms": max(r[f"{args.vs_name}_median_ms"] for r in rows),
        f"{args.vs_name}_worst_p95_ms": max(r[f"{args.vs_name}_p95_ms"] for r in rows),
        "ratio_median": round(statistics.median(r["ratio"] for r in rows), 1),
        "differing": differing,
    }
    print(json.dumps(summary, indent=2))
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "cases": rows}, indent=2))
    if differing:
        sys.exit(1)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--db", required=True, type=Path, help="the server's agentsight.db (read-only)")
    ap.add_argument("--pid", type=int, help="the server's pid, for its resident memory")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--duckdb", action="store_true")
    ap.add_argument("--duckdb-runs", type=int, default=5)
    ap.add_argument("--csv-dir", type=Path, default=Path.home() / ".cache/agentsight/bench-csv")
    ap.add_argument("--json", type=Path, help="write the results here")
    ap.add_argument("--vs-url", help="a second server with the same data, timed in turn with the first")
    ap.add_argument("--vs-key")
    ap.add_argument("--vs-pid", type=int, action="append", default=[],
                    help="its processes, for their resident memory (repeat: the node, ClickHouse, ...)")
    ap.add_argument("--vs-name", default="second")
    ap.add_argument("--cases", help="only the cases whose name contains this")
    args = ap.parse_args()
    if args.vs_url:
        return versus(args)

    server = Server(args.url, args.key)
    t0 = time.time()
    status = server.wait_ready()
    print(f"metrics engine: {status} (waited {time.time() - t0:.1f} s)", flush=True)
    probe = server.get("/api/metrics/overview/")
    agent_id = probe["agent"]["id"]
    values = pick_values(args.db, agent_id)
    print(f"filter values: {values}", flush=True)
    all_cases = cases(values, args.days)

    results = []
    for name, params in all_cases:
        times = []
        body = None
        for _ in range(args.runs):
            t = time.perf_counter()
            body = server.get("/api/metrics/overview/", params)
            times.append((time.perf_counter() - t) * 1000)
        results.append(
            {
                "case": name,
                "params": params,
                "median_ms": round(statistics.median(times), 2),
                "p95_ms": round(pct(times, 0.95), 2),
                "messages": body["total_messages"],
                "conversations": body["total_conversations"],
                "ours": body,
            }
        )
        r = results[-1]
        print(f"{name:42} median {r['median_ms']:8.1f} ms  p95 {r['p95_ms']:8.1f} ms  "
              f"({r['messages']} messages, {r['conversations']} conversations)", flush=True)
    memory = rss_mb(args.pid)
    print(f"server memory after the queries: {memory}", flush=True)

    duck_info = None
    if args.duckdb:
        st = os.stat(args.db)
        wal = Path(str(args.db) + "-wal")
        tag = f"{st.st_ino}-{int(st.st_mtime)}-{int(wal.stat().st_mtime) if wal.exists() else 0}"
        csv_dir = args.csv_dir / tag
        exported = export_csv(args.db, csv_dir)
        con, loaded = load_duckdb(csv_dir)
        import duckdb

        duck_info = {"version": duckdb.__version__, "export_s": round(exported, 1), "load_s": round(loaded, 1)}
        print(f"DuckDB {duckdb.__version__}: export {exported:.1f} s, load {loaded:.1f} s", flush=True)
        for r in results:
            for variant, stored in (("stored_responses", True), ("window_responses", False)):
                times = []
                duck = None
                for _ in range(args.duckdb_runs):
                    t = time.perf_counter()
                    duck = duck_overview(con, agent_id, r["params"], stored)
                    times.append((time.perf_counter() - t) * 1000)
                bad = diff(ours_comparable(r["ours"]), duck)
                r[f"duckdb_{variant}"] = {
                    "median_ms": round(statistics.median(times), 1),
                    "p95_ms": round(pct(times, 0.95), 1),
                    "differs": bad,
                }
            d1, d2 = r["duckdb_stored_responses"], r["duckdb_window_responses"]
            print(f"{r['case']:42} DuckDB median {d1['median_ms']:8.1f} ms (window {d2['median_ms']:8.1f} ms) "
                  f"ratio x{d1['median_ms'] / r['median_ms']:.1f} (x{d2['median_ms'] / r['median_ms']:.1f})"
                  f"{'  DIFFERS: ' + ', '.join(d1['differs'] + d2['differs']) if d1['differs'] or d2['differs'] else ''}",
                  flush=True)

    filtered = [r for r in results if not r["case"].startswith("no filter")]
    summary = {
        "engine": status,
        "memory_mb": memory,
        "duckdb": duck_info,
        "unfiltered": {r["case"]: [r["median_ms"], r["p95_ms"]] for r in results if r not in filtered},
        "filtered_worst_median_ms": max(r["median_ms"] for r in filtered),
        "filtered_worst_p95_ms": max(r["p95_ms"] for r in filtered),
    }
    if args.duckdb:
        ratios = [r["duckdb_stored_responses"]["median_ms"] / r["median_ms"] for r in results]
        wratios = [r["duckdb_window_responses"]["median_ms"] / r["median_ms"] for r in results]
        summary["duckdb_ratio_min"] = round(min(ratios), 1)
        summary["duckdb_ratio_median"] = round(statistics.median(ratios), 1)
        summary["duckdb_window_ratio_min"] = round(min(wratios), 1)
        summary["cases_differing"] = [
            r["case"] for r in results
            if r["duckdb_stored_responses"]["differs"] or r["duckdb_window_responses"]["differs"]
        ]
    print(json.dumps(summary, indent=2))
    if args.json:
        for r in results:
            r.pop("ours", None)
        args.json.write_text(json.dumps({"summary": summary, "cases": results}, indent=2))
    if args.duckdb and summary["cases_differing"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
