#!/usr/bin/env python3
"""Turns bench/run's raw results (results.jsonl) into a markdown report and a
JSON file, every number next to the direct baseline of the same run, and
checks the targets of issue 8. With --check (smoke mode) it exits non-zero
unless every scenario produced numbers."""
import argparse
import json
import os
import platform
import sys


def load(raw):
    rows = [json.loads(line) for line in open(os.path.join(raw, "results.jsonl")) if line.strip()]
    by = {}
    for r in rows:
        by[(r["kind"], r["name"], r["target"])] = r["data"]
    return rows, by


def rps(d):
    if d is None:
        return None
    if "duration_us" in d:
        return d["requests"] * 1e6 / d["duration_us"] if d["duration_us"] else 0.0
    return d.get("rps")


def wrk_errors(d):
    if not d:
        return 0
    return sum(d.get(k, 0) for k in ("errors_connect", "errors_read", "errors_write", "errors_status", "errors_timeout"))


def cpu(d):
    """The proxy's CPU µs per request and its core's utilisation, as text."""
    if not d or "proxy_cpu_us" not in d or not d["requests"]:
        return "–"
    return f"{d['proxy_cpu_us'] / d['requests']:.1f} µs ({100 * d['proxy_cpu_us'] / d['duration_us']:.0f} %)"


def machine():
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        load_avg = open("/proc/loadavg").read().split()[:3]
    except OSError:
        load_avg = []
    return {"nproc": os.cpu_count(), "cpu": cpu, "kernel": platform.release(), "loadavg_at_report": load_avg}


def fmt(x, digits=0):
    if x is None:
        return "–"
    if digits == 0:
        return f"{x:,.0f}"
    return f"{x:,.{digits}f}"


def ratio(a, b):
    return a / b if a is not None and b else None


def ms(us):
    return None if us is None else us / 1000


def mb(kb):
    return None if kb is None else kb / 1024


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--raw", required=True)
    ap.add_argument("--out", required=True, help="path prefix for .md and .json")
    ap.add_argument("--mode", default="full")
    ap.add_argument("--commit", default="unknown")
    ap.add_argument("--conns", type=int, default=64)
    ap.add_argument("--duration", type=int, default=0)
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()

    rows, by = load(args.raw)
    g = lambda kind, name, target: by.get((kind, str(name), target))  # noqa: E731
    missing, failures, targets = [], [], []
    md = []

    def need(kind, name, target, value):
        if value is None or value <= 0:
            missing.append(f"{kind}/{name}/{target}")
        return value

    def target(label, ok, detail):
        targets.append({"target": label, "met": bool(ok), "detail": detail})

    m = machine()
    start = g("machine", "loadavg", "start")
    m["loadavg_at_start"] = start["loadavg"] if start else None
    md.append(f"## Run {os.path.basename(args.raw)} ({args.mode})\n")
    md.append(f"Commit `{args.commit}` · {m['nproc']} CPUs ({m['cpu']}) · kernel {m['kernel']} · "
              f"gateway `workers = 1` pinned to CPU 1; mock upstream (nginx, canned fixtures) and "
              f"load generator (wrk, oha) pinned to CPU 0 · {args.conns} connections · "
              f"{args.duration} s per saturation run · load average {m['loadavg_at_start']} at the start, "
              f"{' '.join(m['loadavg_at_report'])} at the end (the suite itself keeps about 2 busy).\n")

    # 1. Throughput
    md.append("### Non-streaming throughput (saturation)\n")
    md.append("| upstream dialect | direct req/s | gateway req/s | gateway / direct | nginx proxy / direct | gateway CPU per request (core busy) | nginx proxy CPU per request (core busy) | gateway p50 / p99 (ms) | direct p50 / p99 (ms) |")
    md.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    tp = {}
    for name, label in (("openai", "OpenAI (pass-through)"), ("anthropic", "Anthropic (conversion)"), ("gemini", "Gemini (conversion)")):
        d, gw, ng = g("throughput", name, "direct"), g("throughput", name, "gateway"), g("throughput", name, "nginx")
        rd, rg, rn = need("throughput", name, "direct", rps(d)), need("throughput", name, "gateway", rps(gw)), rps(ng)
        if wrk_errors(gw):
            failures.append(f"throughput/{name}/gateway had {wrk_errors(gw)} errors")
        tp[name] = ratio(rg, rd)
        md.append(f"| {label} | {fmt(rd)} | {fmt(rg)} | **{fmt(tp[name], 2)}×** | {fmt(ratio(rn, rd), 2) + '×' if rn else '–'} | "
                  f"{cpu(gw)} | {cpu(ng)} | "
                  f"{fmt(ms(gw and gw['lat_p50_us']), 2)} / {fmt(ms(gw and gw['lat_p99_us']), 2)} | "
                  f"{fmt(ms(d and d['lat_p50_us']), 2)} / {fmt(ms(d and d['lat_p99_us']), 2)} |")
    mock = g("throughput", "mock", "gateway")
    if mock:
        md.append(f"\nIn-process `mock` provider (no upstream, gateway alone on its core): {fmt(rps(mock))} req/s "
                  f"({fmt(ratio(rps(mock), rps(g('throughput', 'openai', 'direct'))), 2)}× the direct OpenAI rate), gateway CPU {cpu(mock)}.")
    md.append("\nDirect is bound by CPU 0, which runs both the load generator and the mock; it does the same work in every "
              "row, so a ratio near or above 1× means the gateway's core kept up. The CPU-per-request column is the "
              "gateway's own cost (user + system time of all its threads over the run / requests).")
    target("OpenAI pass-through throughput ≥ 0.5× direct", tp["openai"] and tp["openai"] >= 0.5, f"{fmt(tp['openai'], 2)}×")
    target("Anthropic conversion throughput ≥ 0.35× direct", tp["anthropic"] and tp["anthropic"] >= 0.35, f"{fmt(tp['anthropic'], 2)}×")
    md.append("")

    # 2. Latency at fixed rates
    md.append("### Added latency at fixed rates (OpenAI pass-through, corrected for coordinated omission)\n")
    md.append("| rate req/s | achieved direct / gateway | direct p50 / p99 / p99.9 (ms) | gateway p50 / p99 / p99.9 (ms) | **added** p50 / p99 / p99.9 (ms) | nginx proxy added p50 / p99 (ms) |")
    md.append("|---:|---:|---:|---:|---:|---:|")
    rates = sorted({int(r["name"]) for r in rows if r["kind"] == "latency"})
    for rate in rates:
        d, gw, ng = g("latency", rate, "direct"), g("latency", rate, "gateway"), g("latency", rate, "nginx")
        need("latency", rate, "direct", d and d["p99_us"])
        need("latency", rate, "gateway", gw and gw["p99_us"])
        if not (d and gw):
            continue
        add = {k: (gw[k] - d[k]) / 1000 for k in ("p50_us", "p99_us", "p999_us")}
        nadd = {k: (ng[k] - d[k]) / 1000 for k in ("p50_us", "p99_us")} if ng else None
        held = "" if d["rps"] >= 0.97 * rate else " (direct did not hold the rate)"
        if gw.get("success", 1) < 1:
            failures.append(f"latency/{rate}/gateway success rate {gw['success']}")
        md.append(f"| {rate:,} | {fmt(d['rps'])} / {fmt(gw['rps'])}{held} | "
                  f"{fmt(ms(d['p50_us']), 2)} / {fmt(ms(d['p99_us']), 2)} / {fmt(ms(d['p999_us']), 2)} | "
                  f"{fmt(ms(gw['p50_us']), 2)} / {fmt(ms(gw['p99_us']), 2)} / {fmt(ms(gw['p999_us']), 2)} | "
                  f"**{add['p50_us']:+.2f} / {add['p99_us']:+.2f} / {add['p999_us']:+.2f}** | "
                  + (f"{nadd['p50_us']:+.2f} / {nadd['p99_us']:+.2f} |" if nadd else "– |"))
        if rate in (500, 2000):
            target(f"added p99 ≤ 1 ms at {rate} req/s", add["p99_us"] <= 1.0, f"{add['p99_us']:+.2f} ms")
    md.append("")

    # 3. Streaming
    md.append("### Streaming\n")
    md.append("| upstream dialect | direct streams/s | gateway streams/s | gateway / direct | nginx proxy / direct | gateway CPU per stream (core busy) | time to first chunk p50 / p99, direct → gateway (ms) |")
    md.append("|---|---:|---:|---:|---:|---:|---:|")
    st = {}
    for name, label in (("openai", "OpenAI (pass-through)"), ("anthropic", "Anthropic (conversion)"), ("gemini", "Gemini (conversion)")):
        d, gw, ng = g("stream", name, "direct"), g("stream", name, "gateway"), g("stream", name, "nginx")
        rd, rg, rn = need("stream", name, "direct", rps(d)), need("stream", name, "gateway", rps(gw)), rps(ng)
        if wrk_errors(gw):
            failures.append(f"stream/{name}/gateway had {wrk_errors(gw)} errors")
        st[name] = ratio(rg, rd)
        td, tg = g("ttfc", name, "direct"), g("ttfc", name, "gateway")
        ttfc = "–"
        if td and tg:
            need("ttfc", name, "gateway", tg["streams"])
            ttfc = (f"{fmt(ms(td['ttfc_p50_us']), 2)} → {fmt(ms(tg['ttfc_p50_us']), 2)} / "
                    f"{fmt(ms(td['ttfc_p99_us']), 2)} → {fmt(ms(tg['ttfc_p99_us']), 2)}")
        md.append(f"| {label} | {fmt(rd)} | {fmt(rg)} | **{fmt(st[name], 2)}×** | {fmt(ratio(rn, rd), 2) + '×' if rn else '–'} | {cpu(gw)} | {ttfc} |")
    target("OpenAI streams/s ≥ 0.25× direct", st["openai"] and st["openai"] >= 0.25, f"{fmt(st['openai'], 2)}×")
    target("Anthropic streams/s ≥ 0.1× direct", st["anthropic"] and st["anthropic"] >= 0.1, f"{fmt(st['anthropic'], 2)}×")
    md.append("\nTime to first chunk: sequential streams on one keep-alive connection (Python client), so it is per-request latency, not under load.\n")

    # 4. Large prompts
    md.append("### Large prompts (non-streaming)\n")
    md.append("| body | dialect | direct req/s | gateway req/s | gateway / direct | gateway CPU per request (core busy) |")
    md.append("|---|---|---:|---:|---:|---:|")
    for size in ("100k", "1m"):
        for name in ("openai", "anthropic"):
            key = f"{name}-{size}"
            d, gw = g("large", key, "direct"), g("large", key, "gateway")
            rd, rg = need("large", key, "direct", rps(d)), need("large", key, "gateway", rps(gw))
            if wrk_errors(gw):
                failures.append(f"large/{key}/gateway had {wrk_errors(gw)} errors")
            md.append(f"| {'100 KB' if size == '100k' else '1 MB'} | {name} | {fmt(rd)} | {fmt(rg)} | **{fmt(ratio(rg, rd), 2)}×** | {cpu(gw)} |")
    md.append("")

    # Features on the hot path
    base, lim, red, nom = (g("features", "openai", t) for t in ("gateway", "gateway_limits", "gateway_redis", "gateway_nometrics"))
    if base or lim or nom:
        md.append("### Cost of per-key limits and of metrics (OpenAI pass-through, same run)\n")
        md.append("| gateway | req/s | vs plain | p50 / p99 latency (µs) | gateway CPU per request (core busy) |")
        md.append("|---|---:|---:|---:|---:|")
        rb = need("features", "openai", "gateway", rps(base))
        for label, d in (("plain (metrics on, key without limits)", base),
                         ("key with rpm, tpm, max_concurrent and an allow-list", lim),
                         ("the same key on the Redis store (`store = \"redis\"`)", red),
                         ("metrics off", nom)):
            r = need("features", "openai", label, rps(d))
            lat = f"{d['lat_p50_us']} / {d['lat_p99_us']}" if d else "–"
            md.append(f"| {label} | {fmt(r)} | {fmt(ratio(r, rb), 2)}× | {lat} | {cpu(d)} |")
        if lim and red and lim.get("requests") and red.get("requests"):
            per = lambda d: d["proxy_cpu_us"] / d["requests"]
            md.append(f"\nThe Redis store adds {fmt(per(red) - per(lim), 1)} µs of gateway CPU and "
                      f"{fmt(red['lat_p50_us'] - lim['lat_p50_us'])} µs of p50 latency per request "
                      "(one admission round trip; the settle is off the hot path).")
        md.append("")

    # 5. Invalid keys
    md.append("### Invalid-key flood\n")
    d, gw = g("invalid_key", "flood", "direct"), g("invalid_key", "flood", "gateway")
    up = g("upstream_requests", "flood", "gateway")
    rd, rg = need("invalid_key", "flood", "direct", rps(d)), need("invalid_key", "flood", "gateway", rps(gw))
    all401 = gw is not None and gw["errors_status"] == gw["requests"]
    md.append("| direct req/s (mock answers 200) | gateway 401/s | gateway / direct | gateway CPU per request (core busy) | every gateway answer non-2xx | upstream requests during the flood |")
    md.append("|---:|---:|---:|---:|---|---:|")
    md.append(f"| {fmt(rd)} | {fmt(rg)} | **{fmt(ratio(rg, rd), 2)}×** | {cpu(gw)} | {'yes' if all401 else 'NO'} | {up['delta'] if up else '–'} |")
    target("invalid keys never reach the upstream", up is not None and up["delta"] == 0 and all401,
           f"{up['delta'] if up else '?'} upstream requests")
    md.append("")

    # 6. Memory
    md.append("### Memory (gateway VmRSS / VmHWM)\n")
    md.append("| when | VmRSS (MB) | VmHWM (MB) |")
    md.append("|---|---:|---:|")
    labels = {"idle": "idle, started, no request yet", "after_throughput": "after non-streaming saturation runs",
              "after_small_load": "after latency and streaming runs",
              }
    for name, label in labels.items():
        r = g("rss", name, "gateway")
        need("rss", name, "gateway", r and r["rss_kb"])
        if r:
            md.append(f"| {label} | {fmt(mb(r['rss_kb']), 1)} | {fmt(mb(r['hwm_kb']), 1)} |")
    op = next((r["data"] for r in rows if r["kind"] == "open_streams"), None)
    if op:
        need("open_streams", op["streams"], "gateway", op["rss_open_kb"])
        md.append(f"| {op['streams']:,} streams open at once ({op['open_at_sample']:,} open when sampled; {op['completed']:,} completed, {op['bad']} failed) | "
                  f"{fmt(mb(op['rss_open_kb']), 1)} | {fmt(mb(op['hwm_kb']), 1)} |")
    r = g("rss", "idle_after_load", "gateway")
    need("rss", "idle_after_load", "gateway", r and r["rss_kb"])
    if r:
        md.append(f"| idle again, after the open streams closed | {fmt(mb(r['rss_kb']), 1)} | {fmt(mb(r['hwm_kb']), 1)} |")
    soak = [r["data"] for r in rows if r["kind"] == "soak"]
    for s in soak:
        md.append(f"| after {s['requests']:,} mixed requests (soak) | {fmt(mb(s['rss_kb']), 1)} | {fmt(mb(s['hwm_kb']), 1)} |")
        need("soak", s["requests"], "gateway", s["rss_kb"])
        if s["errors_status"]:
            failures.append(f"soak had {s['errors_status']} non-2xx answers")
    r = g("rss", "after_large", "gateway")
    need("rss", "after_large", "gateway", r and r["rss_kb"])
    if r:
        md.append(f"| after the 100 KB / 1 MB prompt runs (last) | {fmt(mb(r['rss_kb']), 1)} | {fmt(mb(r['hwm_kb']), 1)} |")
    idle = g("rss", "idle", "gateway")
    if idle:
        target("idle RSS < 15 MB", idle["rss_kb"] < 15 * 1024, f"{fmt(mb(idle['rss_kb']), 1)} MB")
    if op:
        target(f"RSS < 100 MB with {op['streams']:,} open streams",
               op["rss_open_kb"] < 100 * 1024 and op["open_at_sample"] >= 0.95 * op["streams"],
               f"{fmt(mb(op['rss_open_kb']), 1)} MB with {op['open_at_sample']:,} open")
    if len(soak) >= 2:
        a, b = soak[0], soak[-1]
        growth = b["rss_kb"] - a["rss_kb"]
        ok = growth <= max(1024, 0.05 * a["rss_kb"])
        target(f"no RSS growth {a['requests']:,} → {b['requests']:,} requests", ok,
               f"{growth / 1024:+.1f} MB ({fmt(mb(a['rss_kb']), 1)} → {fmt(mb(b['rss_kb']), 1)} MB; allowed: 1 MB or 5 %)")
    md.append("")

    md.append("### Targets\n")
    md.append("| target | met | measured |")
    md.append("|---|---|---|")
    for t in targets:
        md.append(f"| {t['target']} | {'✅ met' if t['met'] else '❌ not met'} | {t['detail']} |")
    if failures:
        md.append("\nErrors during the run: " + "; ".join(failures))
    md.append("")

    text = "\n".join(md)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out + ".md", "w") as f:
        f.write(text)
    with open(args.out + ".json", "w") as f:
        json.dump({"run": os.path.basename(args.raw), "mode": args.mode, "commit": args.commit, "machine": m,
                   "connections": args.conns, "duration_s": args.duration, "targets": targets,
                   "failures": failures, "missing": missing, "results": rows}, f, indent=1)
    print(text)
    print(f"report: {args.out}.md, {args.out}.json", file=sys.stderr)
    if args.check:
        if missing or failures:
            print("SMOKE FAILED: no numbers for " + ", ".join(missing) + ("; " + "; ".join(failures) if failures else ""),
                  file=sys.stderr)
            sys.exit(1)
        print(f"smoke: every scenario produced numbers ({len(rows)} results)", file=sys.stderr)


if __name__ == "__main__":
    main()
