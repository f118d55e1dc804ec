#!/usr/bin/env python3
"""Streaming probes for bench/run (stdlib only; prints one JSON line).

  streams.py ttfc --url URL --body FILE [--key K] --count N
      N sequential streamed requests on one keep-alive connection: time to
      the first body byte (first chunk) and to the end of each stream, in µs.

  streams.py open --url URL --body FILE [--key K] --count N [--pid PID]
      Opens N concurrent streams, waits until every one has its first chunk,
      reads VmRSS/VmHWM of PID (if given), then waits for all of them to
      finish; a stream counts as completed when it answered 200 and its body
      contains --expect (default "[DONE]").
"""
import argparse
import asyncio
import json
import sys
import time
from urllib.parse import urlsplit


def request_bytes(url, body, key):
    u = urlsplit(url)
    path = u.path + (("?" + u.query) if u.query else "")
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {u.netloc}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    )
    if key:
        head += f"Authorization: Bearer {key}\r\n"
    return (head + "\r\n").encode() + body, u.hostname, u.port


async def read_response(reader, on_first=None):
    """Reads one response; calls on_first() at the first body byte.
    Returns (status, body bytes)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        if b":" in line:
            k, _, v = line.partition(b":")
            headers[k.strip().lower()] = v.strip().lower()
    body = bytearray()
    if headers.get(b"transfer-encoding") == b"chunked":
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                break
            data = await reader.readexactly(size + 2)
            if not body and on_first:
                on_first()
            body += data[:-2]
    else:
        n = int(headers.get(b"content-length", b"0"))
        if n:
            first = await reader.read(n)
            if on_first:
                on_first()
            body += first
            if len(body) < n:
                body += await reader.readexactly(n - len(body))
    return status, bytes(body)


def pct(values, p):
    if not values:
        return 0
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


async def ttfc(args):
    req, host, port = request_bytes(args.url, open(args.body, "rb").read(), args.key)
    reader, writer = await asyncio.open_connection(host, port, limit=1 << 24)
    firsts, totals, bad = [], [], 0
    for i in range(args.count + args.warmup):
        t0 = time.perf_counter()
        first = []
        writer.write(req)
        status, body = await read_response(reader, lambda: first.append(time.perf_counter()))
        t1 = time.perf_counter()
        ok = status == 200 and b"data:" in body
        if i < args.warmup:
            continue
        if not ok:
            bad += 1
            continue
        firsts.append((first[0] - t0) * 1e6 if first else 0)
        totals.append((t1 - t0) * 1e6)
    writer.close()
    print(json.dumps({
        "streams": len(totals), "bad": bad,
        "ttfc_p50_us": pct(firsts, 50), "ttfc_p99_us": pct(firsts, 99),
        "total_p50_us": pct(totals, 50), "total_p99_us": pct(totals, 99),
    }))


def rss(pid):
    out = {"VmRSS": 0, "VmHWM": 0}
    if not pid:
        return out
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                k, v = line.split(":")
                out[k] = int(v.split()[0])  # kB
    return out


async def open_streams(args):
    req, host, port = request_bytes(args.url, open(args.body, "rb").read(), args.key)
    all_first = asyncio.Event()
    state = {"first": 0, "done": 0, "bad": 0, "ttfc": []}

    async def one():
        t0 = time.perf_counter()
        got = []

        def on_first():
            got.append(1)
            state["ttfc"].append((time.perf_counter() - t0) * 1e6)
            state["first"] += 1
            if state["first"] >= args.count:
                all_first.set()

        try:
            reader, writer = await asyncio.open_connection(host, port, limit=1 << 24)
            writer.write(req)
            status, body = await read_response(reader, on_first)
            writer.close()
            if status == 200 and args.expect.encode() in body:
                state["done"] += 1
            else:
                state["bad"] += 1
        except Exception as e:  # noqa: BLE001 - counted, reported
            state["bad"] += 1
            print(f"stream failed: {e!r}", file=sys.stderr)
        finally:
            if not got:
                state["first"] += 1
                if state["first"] >= args.count:
                    all_first.set()

    t_start = time.perf_counter()
    rss_before = rss(args.pid)
    tasks = [asyncio.create_task(one()) for _ in range(args.count)]
    try:
        await asyncio.wait_for(all_first.wait(), timeout=args.timeout)
    except asyncio.TimeoutError:
        pass
    open_now = state["first"] - state["done"] - state["bad"]
    rss_open = rss(args.pid)
    await asyncio.wait(tasks, timeout=args.timeout)
    print(json.dumps({
        "duration_us": int((time.perf_counter() - t_start) * 1e6),
        "streams": args.count, "open_at_sample": open_now,
        "completed": state["done"], "bad": state["bad"],
        "ttfc_p50_us": pct(state["ttfc"], 50), "ttfc_p99_us": pct(state["ttfc"], 99),
        "rss_before_kb": rss_before["VmRSS"], "rss_open_kb": rss_open["VmRSS"],
        "hwm_kb": rss(args.pid)["VmHWM"],
    }))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["ttfc", "open"])
    ap.add_argument("--url", required=True)
    ap.add_argument("--body", required=True)
    ap.add_argument("--key", default="")
    ap.add_argument("--count", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--pid", type=int)
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--expect", default="[DONE]")
    args = ap.parse_args()
    asyncio.run(ttfc(args) if args.mode == "ttfc" else open_streams(args))


if __name__ == "__main__":
    main()
