"""Times the metrics API of a running server: the overview (30 days, with and without filters,
in UTC and America/New_York) and reports median and p95 per case.

    python bench/metrics_latency.py --url http://127.0.0.1:8000 --key ags_... [--runs 20]

Only loopback URLs are accepted. Uses only the standard library.
"""

import argparse
import datetime as dt
import json
import statistics
import time
import urllib.parse
import urllib.request

CASES = [
    ("no filter, UTC", {}),
    ("no filter, New York", {"tz": "America/New_York"}),
    ("device+source", {"device": "mobile", "source": "web"}),
    ("country+language, New York", {"country": "US", "language": "en", "tz": "America/New_York"}),
    ("environment+customer_id", {"environment": "production", "customer_id": "cust-00042"}),
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--days", type=int, default=30)
    args = ap.parse_args()
    host = urllib.parse.urlparse(args.url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("refusing a non-loopback target")
    to = dt.date.today()
    frm = to - dt.timedelta(days=args.days - 1)
    results = {}
    for name, extra in CASES:
        params = {"from": frm.isoformat(), "to": to.isoformat(), **extra}
        url = f"{args.url}/api/metrics/overview/?{urllib.parse.urlencode(params)}"
        req = urllib.request.Request(url, headers={"Authorization": f"Api-Key {args.key}"})
        times = []
        body = None
        for _ in range(args.runs):
            t0 = time.perf_counter()
            with urllib.request.urlopen(req, timeout=120) as r:
                body = json.loads(r.read())
            times.append((time.perf_counter() - t0) * 1000)
        times.sort()
        p95 = times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]
        results[name] = {
            "median_ms": round(statistics.median(times), 1),
            "p95_ms": round(p95, 1),
            "messages": body["total_messages"],
            "conversations": body["total_conversations"],
        }
        print(f"{name:32} median {results[name]['median_ms']:8.1f} ms  p95 {p95:8.1f} ms  "
              f"({body['total_messages']} messages, {body['total_conversations']} conversations)")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
