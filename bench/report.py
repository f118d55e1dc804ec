#!/usr/bin/env python3
"""Turns bench/run's raw results (results.jsonl) into a markdown report and a
JSON file. Every scenario ran BENCH_REPEAT rounds (targets alternated); a
figure is the median over the rounds with its min–max, the gateway's CPU per
request next to the nginx reference proxy's of the same run and their ratio
(the median of the per-round ratios), and each row carries the other-CPU
share: the part of the machine's CPU time that processes this suite did not
start used while the row ran. Instructions per request (callgrind) are
reported per run so that their stability shows. With --check (smoke mode)
it exits non-zero unless every scenario that ran produced numbers."""
import argparse
import json
import os
import platform
import statistics
import sys

SECTIONS = ("throughput", "features", "latency", "stream", "long", "paced", "ttfc",
            "invalid", "open", "soak", "large", "callgrind")
# Goals of issue 21: gateway CPU per request / nginx's, same run.
GOAL_RATIO = {"pass": 1.2, "conv": 1.5, "stream": 1.5, "large": 2.0}
CONTAMINATED = 0.10  # other-CPU share above which a row is flagged


def load(raw):
    rows = [json.loads(line) for line in open(os.path.join(raw, "results.jsonl")) if line.strip()]
    by = {}
    for r in rows:
        if r["name"] == "warmup":
            continue
        by.setdefault((r["kind"], r["name"], r["target"]), {})[r.get("rep", 1)] = r["data"]
    return rows, by


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def spread(xs, digits=1, unit=""):
    """'median (min–max)' of the values, or '–'."""
    xs = [x for x in xs if x is not None]
    if not xs:
        return "–"
    m = statistics.median(xs)
    if len(xs) == 1:
        return f"{m:,.{digits}f}{unit}"
    return f"{m:,.{digits}f}{unit} ({min(xs):,.{digits}f}–{max(xs):,.{digits}f})"


def rps(d):
    if not d:
        return None
    if "duration_us" in d and "requests" in d:
        return d["requests"] * 1e6 / d["duration_us"] if d["duration_us"] else 0.0
    return d.get("rps")


def units(d):
    """What a run's CPU is divided by: requests (wrk) or streams (paced)."""
    if not d:
        return 0
    return d.get("requests", d.get("streams", 0))


def cpu_per(d):
    """The measured proxy's CPU µs per request (or per stream)."""
    if not d or d.get("proxy_cpu_us") is None or not units(d):
        return None
    return d["proxy_cpu_us"] / units(d)


def busy(d):
    """Share of its core the measured proxy used."""
    if not d or d.get("proxy_cpu_us") is None or not d.get("duration_us"):
        return None
    return d["proxy_cpu_us"] / d["duration_us"]


def wrk_errors(d):
    if not d:
        return 0
    return sum(d.get(k, 0) for k in ("errors_connect", "errors_read", "errors_write", "errors_status", "errors_timeout"))


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


def fmt(x, digits=0, unit=""):
    if x is None:
        return "–"
    return f"{x:,.{digits}f}{unit}"


def pct(x):
    return "–" if x is None else f"{100 * x:.0f} %"


class Report:
    def __init__(self, by, sections):
        self.by = by
        self.sections = sections
        self.missing, self.failures, self.targets, self.summary = [], [], [], []
        self.md = []

    def runs(self, kind, name, target):
        """{rep: data} of one scenario and target."""
        return self.by.get((kind, str(name), target), {})

    def values(self, kind, name, target, f):
        return [f(d) for _, d in sorted(self.runs(kind, name, target).items())]

    def need(self, section, kind, name, target, f=rps):
        """Records a missing number when a section that ran left none."""
        vals = [v for v in self.values(kind, name, target, f) if v is not None and v > 0]
        if section in self.sections and not vals:
            self.missing.append(f"{kind}/{name}/{target}")
        return vals

    def ratios(self, kind, name, num="gateway", den="nginx", f=cpu_per):
        """Per-round ratios num/den (rounds alternate targets, so a round's
        two runs are minutes apart at most)."""
        a, b = self.runs(kind, name, num), self.runs(kind, name, den)
        out = []
        for rep in sorted(set(a) & set(b)):
            x, y = f(a[rep]), f(b[rep])
            if x is not None and y:
                out.append(x / y)
        return out

    def other(self, *keys):
        """Other-CPU shares of the runs of the given (kind, name, target)s."""
        return [d.get("other_cpu") for k in keys for d in self.runs(*k).values() if d.get("other_cpu") is not None]

    def other_cell(self, *keys):
        xs = self.other(*keys)
        if not xs:
            return "–"
        flag = " ⚠" if max(xs) > CONTAMINATED else ""
        return f"{max(0, 100 * median(xs)):.0f} % (max {max(0, 100 * max(xs)):.0f} %){flag}"

    def target(self, label, value, limit, detail):
        if value is None:
            return
        self.targets.append({"target": label, "met": value <= limit, "detail": detail})

    def add(self, *lines):
        self.md.extend(lines)


def callgrind(rep, field="ir_per_request"):
    """{name: {target: [field per run]}} of the callgrind counts."""
    out = {}
    for (kind, name, target), runs in rep.by.items():
        if kind == "callgrind":
            out.setdefault(name, {})[target] = [runs[r][field] for r in sorted(runs)]
    return out


def cg_spread(xs):
    if len(xs) < 2:
        return "–"
    return f"{100 * (max(xs) - min(xs)) / min(xs):.2f} %"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--raw", required=True)
    ap.add_argument("--out", required=True, help="path prefix for .md and .json")
    ap.add_argument("--mode", default="full")
    ap.add_argument("--commit", default="unknown")
    ap.add_argument("--conns", type=int, default=64)
    ap.add_argument("--duration", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--only", default="")
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()

    rows, by = load(args.raw)
    sections = set(args.only.split(",")) if args.only else set(SECTIONS)
    r = Report(by, sections)
    m = machine()
    start = next((x["data"] for x in rows if x["kind"] == "machine" and x["target"] == "start"), {})
    end = next((x["data"] for x in rows if x["kind"] == "machine" and x["target"] == "end"), None)
    events = start.get("events", {})
    m["loadavg_at_start"] = start.get("loadavg")
    if end:
        m["loadavg_at_report"] = end["loadavg"].split()
    all_other = [x["data"]["other_cpu"] for x in rows if isinstance(x.get("data"), dict) and x["data"].get("other_cpu") is not None]
    cg = callgrind(r)

    r.add(f"## Run {os.path.basename(args.raw)} ({args.mode})\n",
          f"Commit `{args.commit}` ({start.get('profile', 'release')} build) · {m['nproc']} CPUs ({m['cpu']}) · kernel {m['kernel']} · "
          f"gateway `workers = 1` and the nginx reference proxy (1 worker) pinned to CPU 1; mock upstreams (nginx with canned "
          f"fixtures, bench/mock/slow_sse.py) and load generators (wrk, bench/load.rs, bench/streams.py) pinned to CPU 0 · "
          f"{args.conns} connections · **{args.repeat} round(s) per scenario**, targets alternated, {args.duration} s per saturation run; "
          f"figures are medians with (min–max) over the rounds · load average {m['loadavg_at_start']} at the start, "
          f"{' '.join(m['loadavg_at_report'])} at the end (the suite itself keeps about 2 busy).\n",
          f"**Other-CPU share** (CPU time of processes this suite did not start, as a share of both cores, from /proc/stat): "
          f"median {pct(median(all_other))}, max {pct(max(all_other) if all_other else None)} over {len(all_other)} runs; "
          f"rows above {100 * CONTAMINATED:.0f} % are flagged ⚠. CPU per request is the proxy's own CPU time (schedstat, all "
          f"threads) over the run / requests; it moves less with other load than req/s does, but does move (shared caches, "
          f"the other core's load). Instructions per request (callgrind) do not.\n")

    # --- summary: gateway against nginx ----------------------------------------------
    r.add("### Gateway against the nginx reference proxy (same run)\n",
          "| path | gateway CPU per request (µs) | nginx CPU per request (µs) | **gateway / nginx** | goal | "
          "gateway instructions per request | nginx instructions per request | **instr. gateway / nginx** | other CPU during these runs |",
          "|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    summary_rows = [
        ("OpenAI pass-through, whole answer", "throughput", "throughput", "openai", "openai", "pass"),
        ("Anthropic conversion, whole answer", "throughput", "throughput", "anthropic", "anthropic", "conv"),
        ("Gemini conversion, whole answer", "throughput", "throughput", "gemini", "gemini", "conv"),
        (f"OpenAI stream, pass-through ({events.get('openai-stream', '?')} events)", "stream", "stream", "openai", "openai-stream", "stream"),
        (f"Anthropic stream, converted ({events.get('anthropic-stream', '?')} events)", "stream", "stream", "anthropic", "anthropic-stream", "stream"),
        ("Gemini stream, converted", "stream", "stream", "gemini", None, "stream"),
        (f"OpenAI long stream ({events.get('openai-long', '?')} events)", "long", "long", "openai", None, "stream"),
        (f"Anthropic long stream ({events.get('anthropic-long', '?')} events)", "long", "long", "anthropic", None, "stream"),
        (f"OpenAI slow stream ({events.get('openai-paced', '?')} events, paced), per stream", "paced", "paced", "openai-paced", None, "stream"),
        (f"Anthropic slow stream ({events.get('anthropic-paced', '?')} events, paced), per stream", "paced", "paced", "anthropic-paced", None, "stream"),
        ("100 KB request body, OpenAI pass-through", "large", "large", "openai-100k", "openai-100k", "large"),
        ("100 KB request body, Anthropic conversion", "large", "large", "anthropic-100k", None, "large"),
        ("1 MB request body, OpenAI pass-through", "large", "large", "openai-1m", None, None),
        ("1 MB request body, Anthropic conversion", "large", "large", "anthropic-1m", None, None),
    ]
    for label, section, kind, name, cg_name, goal in summary_rows:
        if section not in sections and not (cg_name and cg_name in cg):
            continue
        g = r.values(kind, name, "gateway", cpu_per)
        n = r.values(kind, name, "nginx", cpu_per)
        r.need(section, kind, name, "gateway", cpu_per)
        r.need(section, kind, name, "nginx", cpu_per)
        ratio = r.ratios(kind, name)
        cgr = cg.get(cg_name, {}) if cg_name else {}
        gi, ni = median(cgr.get("gateway", [])), median(cgr.get("nginx", []))
        limit = GOAL_RATIO.get(goal) if goal else None
        r.add(f"| {label} | {spread(g)} | {spread(n)} | **{spread(ratio, 2, '×')}** | {fmt(limit, 1, '×') if limit else '–'} | "
              f"{fmt(gi)} | {fmt(ni)} | **{fmt(gi / ni if gi and ni else None, 2, '×')}** | "
              f"{r.other_cell((kind, name, 'gateway'), (kind, name, 'nginx'))} |")
        r.summary.append({"path": label, "kind": kind, "name": name, "gateway_cpu_us": median(g), "nginx_cpu_us": median(n),
                          "ratio": median(ratio), "ratio_min": min(ratio) if ratio else None, "ratio_max": max(ratio) if ratio else None,
                          "goal": limit, "gateway_ir": gi, "nginx_ir": ni, "ir_ratio": gi / ni if gi and ni else None,
                          "other_cpu_median": median(r.other((kind, name, "gateway"), (kind, name, "nginx")))})
        if limit:
            rm = median(ratio)
            r.target(f"{label}: gateway CPU ≤ {limit}× nginx's", rm, limit,
                     f"{fmt(rm, 2, '×')} (CPU); {fmt(gi / ni if gi and ni else None, 2, '×')} (instructions)")
    r.add("\nA ratio is the median of the per-round ratios (the two runs of a round are seconds apart); per stream for "
          "the stream rows. Instructions per request: see the callgrind section below (one request at a time).\n")

    # --- callgrind --------------------------------------------------------------------------
    if "callgrind" in sections:
        r.add("### Instructions per request (valgrind --tool=callgrind)\n",
              "Each process runs under callgrind on CPU 1 (gateway: the same config, its own port; nginx: the same proxy "
              "config with `master_process off`). Per path: a warm-up, then the counters are zeroed, a fixed number of "
              "requests is sent one after another on one keep-alive connection (bench/load.rs), and the counters are "
              "dumped; the process's idle rate, counted over a few quiet seconds, is subtracted pro rata. Each "
              "run is a fresh process; the spread between runs shows what the count is worth. These are user-space "
              "instructions only: the kernel's part of a request (syscalls, loopback TCP; much the same for both "
              "proxies, about half of the gateway's CPU time and most of nginx's) is not in them, so the instruction "
              "ratio is larger than the CPU-time ratio.\n",
              "| path | requests counted | gateway, per run | spread | nginx, per run | spread | gateway / nginx |",
              "|---|---:|---:|---:|---:|---:|---:|")
        labels = {"openai": "OpenAI pass-through, whole answer", "anthropic": "Anthropic conversion",
                  "gemini": "Gemini conversion", "openai-stream": "OpenAI stream", "anthropic-stream": "Anthropic stream",
                  "openai-100k": "100 KB body (OpenAI)"}
        counted = callgrind(r, "requests")
        for name, label in labels.items():
            t = cg.get(name, {})
            g, n = t.get("gateway", []), t.get("nginx", [])
            if not g:
                r.missing.append(f"callgrind/{name}/gateway")
            if not n:
                r.missing.append(f"callgrind/{name}/nginx")
            gm, nm = median(g), median(n)
            r.add(f"| {label} | {fmt(median(counted.get(name, {}).get('gateway', [])))} | {' / '.join(f'{x:,}' for x in g) or '–'} | {cg_spread(g)} | "
                  f"{' / '.join(f'{x:,}' for x in n) or '–'} | {cg_spread(n)} | **{fmt(gm / nm if gm and nm else None, 2, '×')}** |")
        idle = callgrind(r, "idle_ir_per_s").get("openai", {})
        r.add(f"\nIdle instructions per second, per run (subtracted): gateway {' / '.join(f'{x:,}' for x in idle.get('gateway', [])) or '–'}, "
              f"nginx {' / '.join(f'{x:,}' for x in idle.get('nginx', [])) or '–'}.\n")

    # --- throughput ---------------------------------------------------------------------------
    if "throughput" in sections:
        r.add("### Non-streaming throughput (saturation, wrk)\n",
              "| upstream dialect | direct req/s | nginx req/s | gateway req/s | gateway / direct | gateway CPU per request (core busy) | nginx CPU per request (core busy) | gateway p50 / p99 (ms) | other CPU |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for name, label in (("openai", "OpenAI (pass-through)"), ("anthropic", "Anthropic (conversion)"), ("gemini", "Gemini (conversion)")):
            d = r.need("throughput", "throughput", name, "direct")
            n = r.need("throughput", "throughput", name, "nginx")
            g = r.need("throughput", "throughput", name, "gateway")
            for rep, gd in r.runs("throughput", name, "gateway").items():
                if wrk_errors(gd):
                    r.failures.append(f"throughput/{name}/gateway round {rep} had {wrk_errors(gd)} errors")
            gcpu = r.values("throughput", name, "gateway", cpu_per)
            ncpu = r.values("throughput", name, "nginx", cpu_per)
            gb, nb = median(r.values("throughput", name, "gateway", busy)), median(r.values("throughput", name, "nginx", busy))
            p50 = median(r.values("throughput", name, "gateway", lambda x: x["lat_p50_us"] / 1000))
            p99 = median(r.values("throughput", name, "gateway", lambda x: x["lat_p99_us"] / 1000))
            r.add(f"| {label} | {spread(d, 0)} | {spread(n, 0)} | {spread(g, 0)} | {spread(r.ratios('throughput', name, 'gateway', 'direct', rps), 2, '×')} | "
                  f"{spread(gcpu)} µs ({pct(gb)}) | {spread(ncpu)} µs ({pct(nb)}) | {fmt(p50, 2)} / {fmt(p99, 2)} | "
                  f"{r.other_cell(('throughput', name, 'direct'), ('throughput', name, 'nginx'), ('throughput', name, 'gateway'))} |")
        mk = r.need("throughput", "throughput", "mock", "gateway")
        if mk:
            r.add(f"\nIn-process `mock` provider (no upstream): {spread(mk, 0)} req/s, gateway CPU "
                  f"{spread(r.values('throughput', 'mock', 'gateway', cpu_per))} µs per request.")
        r.add("\nDirect is bound by CPU 0, which runs both the load generator and the mock; a proxied rate near or above "
              "direct's means the proxy's core kept up. Compare the CPU-per-request columns.\n")

    # --- latency ------------------------------------------------------------------------------
    if "latency" in sections:
        r.add("### Added latency at fixed rates (OpenAI pass-through, bench/load.rs, latency from each request's due time)\n",
              "| rate req/s | achieved direct / nginx / gateway | direct p50 / p99 / p99.9 (ms) | gateway p50 / p99 / p99.9 (ms) | **gateway added p99** (ms) | nginx added p99 (ms) | gateway added p99.9 (ms) | other CPU |",
              "|---:|---:|---:|---:|---:|---:|---:|---:|")
        rates = sorted({int(n) for (k, n, _) in by if k == "latency"})
        for rate in rates:
            for t in ("direct", "nginx", "gateway"):
                r.need("latency", "latency", rate, t, lambda x: x["p99_us"])
            ms = lambda key: (lambda x: x[key] / 1000)  # noqa: E731
            def diff(t, key):
                a, b = r.runs("latency", rate, t), r.runs("latency", rate, "direct")
                return [(a[k][key] - b[k][key]) / 1000 for k in sorted(set(a) & set(b))]
            def trip(t):
                return " / ".join(fmt(median(r.values("latency", rate, t, ms(k))), 2) for k in ("p50_us", "p99_us", "p999_us"))
            ach = " / ".join(fmt(median(r.values("latency", rate, t, lambda x: x["rps"]))) for t in ("direct", "nginx", "gateway"))
            for t in ("gateway", "nginx"):
                for rep, x in r.runs("latency", rate, t).items():
                    if x["ok"] < x["requests"] or x["errors"]:
                        r.failures.append(f"latency/{rate}/{t} round {rep}: {x['requests'] - x['ok']} not 2xx, {x['errors']} errors")
            gadd = diff("gateway", "p99_us")
            r.add(f"| {rate:,} | {ach} | {trip('direct')} | {trip('gateway')} | **{spread(gadd, 2)}** | {spread(diff('nginx', 'p99_us'), 2)} | "
                  f"{spread(diff('gateway', 'p999_us'), 2)} | {r.other_cell(*[('latency', str(rate), t) for t in ('direct', 'nginx', 'gateway')])} |")
            if rate in (500, 2000):
                r.target(f"added p99 ≤ 0.5 ms at {rate} req/s", median(gadd), 0.5, f"{fmt(median(gadd), 2)} ms (median of rounds)")
        r.add("")

    # --- streams --------------------------------------------------------------------------
    if sections & {"stream", "long", "paced"}:
        r.add("### Streams: per-event and per-stream cost\n",
              "Saturation (wrk, 64 connections): the short stream is the recorded fixture, the long one the same dialect "
              "with its text delta repeated; **per event** = (long − short) / (events long − events short), per round. "
              f"Paced: {next((d['streams'] for (k, _, _), rr in by.items() if k == 'paced' for d in rr.values()), '?')} "
              "streams opened at once against the slow mock, one event per interval; per stream = the proxy's CPU over the "
              "run / streams; **per-stream set-up** = short paced stream − its events × the paced per-event cost.\n",
              "| dialect | target | short stream (µs) | long stream (µs) | **per event (µs)** | paced short (µs) | paced long (µs) | **paced per event (µs)** | **paced per-stream set-up (µs)** |",
              "|---|---|---:|---:|---:|---:|---:|---:|---:|")
        for d in ("openai", "anthropic"):
            es, el = events.get(f"{d}-stream"), events.get(f"{d}-long")
            ps, pl = events.get(f"{d}-stream"), events.get(f"{d}-paced")
            for t in ("gateway", "nginx"):
                s = r.runs("stream", d, t)
                lg = r.runs("long", d, t)
                pss, pll = r.runs("paced", f"{d}-paced-short", t), r.runs("paced", f"{d}-paced", t)
                r.need("long", "long", d, t, cpu_per)
                r.need("paced", "paced", f"{d}-paced-short", t, cpu_per)
                r.need("paced", "paced", f"{d}-paced", t, cpu_per)
                for rr in (pss, pll):
                    for rep, x in rr.items():
                        if x["completed"] < x["streams"]:
                            r.failures.append(f"paced/{d}/{t} round {rep}: {x['streams'] - x['completed']} streams incomplete")
                per_event = [(cpu_per(lg[k]) - cpu_per(s[k])) / (el - es) for k in sorted(set(s) & set(lg))
                             if es and el and el > es and cpu_per(lg[k]) is not None and cpu_per(s[k]) is not None]
                paced_event = [(cpu_per(pll[k]) - cpu_per(pss[k])) / (pl - ps) for k in sorted(set(pss) & set(pll))
                               if ps and pl and pl > ps and cpu_per(pll[k]) is not None and cpu_per(pss[k]) is not None]
                setup = [cpu_per(pss[k]) - ps * e for k, e in zip(sorted(set(pss) & set(pll)), paced_event)]
                r.add(f"| {d} ({es}/{el} events; paced {ps}/{pl}) | {t} | {spread([cpu_per(x) for x in s.values()])} | "
                      f"{spread([cpu_per(x) for x in lg.values()])} | **{spread(per_event, 2)}** | "
                      f"{spread([cpu_per(x) for x in pss.values()])} | {spread([cpu_per(x) for x in pll.values()])} | "
                      f"**{spread(paced_event, 2)}** | **{spread(setup)}** |")
                r.summary.append({"path": f"{d} streams", "target": t, "per_event_us": median(per_event),
                                  "paced_per_event_us": median(paced_event), "paced_setup_us": median(setup)})
        r.add("\nOther CPU during the paced runs: " + r.other_cell(*[("paced", f"{d}-{k}", t) for d in ("openai", "anthropic")
                                                                    for k in ("paced", "paced-short") for t in ("gateway", "nginx")]) + ".\n")

    if "ttfc" in sections:
        r.add("### Time to first chunk (sequential streams on one connection, Python client)\n",
              "| dialect | direct p50 / p99 (ms) | nginx p50 / p99 (ms) | gateway p50 / p99 (ms) | gateway p99 − direct p99 (ms) |",
              "|---|---:|---:|---:|---:|")
        for d in ("openai", "anthropic"):
            cells = []
            for t in ("direct", "nginx", "gateway"):
                x = r.runs("ttfc", d, t).get(1)
                if "ttfc" in sections and not (x and x.get("streams")):
                    r.missing.append(f"ttfc/{d}/{t}")
                cells.append(f"{fmt(x and x['ttfc_p50_us'] / 1000, 2)} / {fmt(x and x['ttfc_p99_us'] / 1000, 2)}")
            dd, gg = r.runs("ttfc", d, "direct").get(1), r.runs("ttfc", d, "gateway").get(1)
            add = (gg["ttfc_p99_us"] - dd["ttfc_p99_us"]) / 1000 if dd and gg else None
            r.add(f"| {d} | {' | '.join(cells)} | {fmt(add, 2)} |")
            r.target(f"time to first chunk p99 ≤ direct + 0.5 ms ({d})", add, 0.5, f"{fmt(add, 2)} ms")
        r.add("")

    if "large" in sections:
        r.add("### Large prompts (non-streaming, wrk)\n",
              "| body | dialect | direct req/s | nginx req/s | gateway req/s | gateway CPU per request (µs) | nginx CPU per request (µs) | gateway / nginx | other CPU |",
              "|---|---|---:|---:|---:|---:|---:|---:|---:|")
        for size in ("100k", "1m"):
            for name in ("openai", "anthropic"):
                key = f"{name}-{size}"
                vals = [r.need("large", "large", key, t) for t in ("direct", "nginx", "gateway")]
                for rep, gd in r.runs("large", key, "gateway").items():
                    if wrk_errors(gd):
                        r.failures.append(f"large/{key}/gateway round {rep} had {wrk_errors(gd)} errors")
                r.add(f"| {'100 KB' if size == '100k' else '1 MB'} | {name} | {' | '.join(spread(v, 0) for v in vals)} | "
                      f"{spread(r.values('large', key, 'gateway', cpu_per))} | {spread(r.values('large', key, 'nginx', cpu_per))} | "
                      f"{spread(r.ratios('large', key), 2, '×')} | {r.other_cell(*[('large', key, t) for t in ('direct', 'nginx', 'gateway')])} |")
        r.add("")

    if "features" in sections:
        r.add("### Cost of per-key limits and of metrics (OpenAI pass-through)\n",
              "| gateway | req/s | CPU per request (µs) | vs plain (CPU, per round) | other CPU |",
              "|---|---:|---:|---:|---:|")
        for t, label in (("gateway", "plain (metrics on, key without limits)"),
                         ("gateway_limits", "key with rpm, tpm, max_concurrent and an allow-list"),
                         ("gateway_redis", "the same key on the Redis store (`store = \"redis\"`)"),
                         ("gateway_nometrics", "metrics off")):
            v = r.need("features", "features", "openai", t)
            r.add(f"| {label} | {spread(v, 0)} | {spread(r.values('features', 'openai', t, cpu_per))} | "
                  f"{spread(r.ratios('features', 'openai', t, 'gateway'), 2, '×')} | {r.other_cell(('features', 'openai', t))} |")
        r.add("")

    if "invalid" in sections:
        r.add("### Invalid-key flood\n",
              "| direct req/s (mock answers 200) | gateway 401/s | gateway CPU per request (µs) | every gateway answer non-2xx | upstream requests during the flood |",
              "|---:|---:|---:|---|---:|")
        d = r.need("invalid", "invalid_key", "flood", "direct")
        g = r.need("invalid", "invalid_key", "flood", "gateway")
        up = r.runs("upstream_requests", "flood", "gateway").get(1)
        gr = list(r.runs("invalid_key", "flood", "gateway").values())
        all401 = bool(gr) and all(x["errors_status"] == x["requests"] for x in gr)
        r.add(f"| {spread(d, 0)} | {spread(g, 0)} | {spread(r.values('invalid_key', 'flood', 'gateway', cpu_per))} | "
              f"{'yes' if all401 else 'NO'} | {up['delta'] if up else '–'} |")
        if up is not None:
            r.targets.append({"target": "invalid keys never reach the upstream", "met": up["delta"] == 0 and all401,
                              "detail": f"{up['delta']} upstream requests"})
        r.add("")

    # --- memory ----------------------------------------------------------------------------
    rss = lambda name: r.runs("rss", name, "gateway").get(1)  # noqa: E731
    mb = lambda kb: kb / 1024  # noqa: E731
    r.add("### Memory (gateway VmRSS / VmHWM, in run order)\n", "| when | VmRSS (MB) | VmHWM (MB) |", "|---|---:|---:|")
    labels = {"idle": "idle, started, no request yet", "after_throughput": "after the non-streaming saturation runs",
              "idle_after_load": "idle again, after the open streams closed",
              "after_small_load": "after the paced streams and the time-to-first-chunk runs",
              "after_large": "after the 100 KB / 1 MB prompt runs (last)"}
    for name, section in (("after_throughput", "throughput"), ("after_small_load", "ttfc"), ("after_large", "large")):
        if section in sections and not rss(name):
            r.missing.append(f"rss/{name}")
    op, soak = None, []
    for row in rows:
        kind, d = row["kind"], row["data"]
        if kind == "rss" and row["name"] in labels:
            r.add(f"| {labels[row['name']]} | {fmt(mb(d['rss_kb']), 1)} | {fmt(mb(d['hwm_kb']), 1)} |")
        elif kind == "open_streams":
            op = d
            r.add(f"| {d['streams']:,} streams open at once ({d['open_at_sample']:,} open when sampled; {d['completed']:,} completed, "
                  f"{d['bad']} failed; {fmt(mb(d['rss_before_kb']), 1)} MB before they opened) | "
                  f"{fmt(mb(d['rss_open_kb']), 1)} | {fmt(mb(d['hwm_kb']), 1)} |")
        elif kind == "soak":
            soak.append(d)
            r.add(f"| after {d['requests']:,} mixed requests (soak) | {fmt(mb(d['rss_kb']), 1)} | {fmt(mb(d['hwm_kb']), 1)} |")
            if d["errors_status"]:
                r.failures.append(f"soak had {d['errors_status']} errors or non-2xx answers")
    if "open" in sections and not (op and op["rss_open_kb"]):
        r.missing.append("open_streams")
    if "soak" in sections and not soak:
        r.missing.append("soak")
    idle = rss("idle")
    if idle:
        r.target("idle RSS ≤ 10 MB", mb(idle["rss_kb"]), 10, f"{fmt(mb(idle['rss_kb']), 1)} MB")
    if op and op["streams"] >= 1000:
        r.target(f"RSS ≤ 40 MB with {op['streams']:,} open streams", mb(op["rss_open_kb"]), 40,
                 f"{fmt(mb(op['rss_open_kb']), 1)} MB with {op['open_at_sample']:,} open "
                 f"(+{fmt(mb(op['rss_open_kb'] - op['rss_before_kb']), 1)} MB over the RSS before they opened)")
    if len(soak) >= 2:
        a, b = soak[0], soak[-1]
        growth = b["rss_kb"] - a["rss_kb"]
        r.targets.append({"target": f"no RSS growth {a['requests']:,} → {b['requests']:,} requests",
                          "met": growth <= max(1024, 0.05 * a["rss_kb"]),
                          "detail": f"{growth / 1024:+.1f} MB ({fmt(mb(a['rss_kb']), 1)} → {fmt(mb(b['rss_kb']), 1)} MB; allowed: 1 MB or 5 %)"})
    r.add("")

    r.add("### Goals of issue 21\n", "| goal | met | measured |", "|---|---|---|")
    for t in r.targets:
        r.add(f"| {t['target']} | {'✅ met' if t['met'] else '❌ not met'} | {t['detail']} |")
    if r.failures:
        r.add("\nErrors during the run: " + "; ".join(r.failures))
    r.add("")

    text = "\n".join(r.md)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out + ".md", "w") as f:
        f.write(text)
    with open(args.out + ".json", "w") as f:
        json.dump({"run": os.path.basename(args.raw), "mode": args.mode, "commit": args.commit, "machine": m,
                   "connections": args.conns, "duration_s": args.duration, "repeat": args.repeat, "events": events,
                   "other_cpu": {"median": median(all_other), "max": max(all_other) if all_other else None, "runs": len(all_other)},
                   "summary": r.summary, "callgrind": cg, "targets": r.targets,
                   "failures": r.failures, "missing": r.missing, "results": rows}, f, indent=1)
    print(text)
    print(f"report: {args.out}.md, {args.out}.json", file=sys.stderr)
    if args.check:
        if r.missing or r.failures:
            print("SMOKE FAILED: no numbers for " + (", ".join(r.missing) or "–") + ("; " + "; ".join(r.failures) if r.failures else ""),
                  file=sys.stderr)
            sys.exit(1)
        print(f"smoke: every scenario produced numbers ({len(rows)} results)", file=sys.stderr)


if __name__ == "__main__":
    main()
