#!/usr/bin/env python3
"""A mock upstream that sends server-sent events slowly (asyncio).

Every POST gets `200 text/event-stream` (chunked) with the events of the
fixture its route names (the first path segment); how they are paced is the
route's mode:

  hold=S      the first event at once, the rest after S seconds: holds a
              stream open cheaply (the "1,000 concurrently open streams" RSS
              check, where an nginx static file would finish each at once)
  interval=S  one event every S seconds (the paced-streams test: many slow
              streams open at once, each event its own write)

    slow_sse.py --port 18091 \\
        --route openai-hold=tests/fixtures/openai/chat_stream.sse,hold=3 \\
        --route openai-paced=/tmp/openai-20.sse,interval=0.05

A request for an unknown route gets 404.
"""
import argparse
import asyncio


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def events_of(path):
    raw = open(path, "rb").read().replace(b"\r\n", b"\n")
    return [e + b"\n\n" for e in raw.split(b"\n\n") if e.strip()]


HEAD = (b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
        b"cache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n")


async def respond(writer, events, mode, seconds):
    if mode == "hold":
        writer.write(HEAD + chunk(events[0]))
        await writer.drain()
        await asyncio.sleep(seconds)
        writer.write(b"".join(chunk(e) for e in events[1:]) + b"0\r\n\r\n")
    else:
        writer.write(HEAD)
        for e in events:
            writer.write(chunk(e))
            await writer.drain()
            await asyncio.sleep(seconds)
        writer.write(b"0\r\n\r\n")
    await writer.drain()


async def handle(reader, writer, routes):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.split(b"\r\n")
            length = 0
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            if length:
                await reader.readexactly(length)
            parts = lines[0].split(b" ")
            route = routes.get(parts[1].split(b"/")[1].decode() if len(parts) > 1 and parts[1].count(b"/") else "")
            if route is None:
                writer.write(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
                await writer.drain()
                continue
            await respond(writer, *route)
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
        pass
    finally:
        writer.close()


def route(spec):
    name, _, rest = spec.partition("=")
    path, _, pacing = rest.rpartition(",")
    mode, _, seconds = pacing.partition("=")
    if not name or not path or mode not in ("hold", "interval"):
        raise argparse.ArgumentTypeError(f"route: NAME=FIXTURE,hold=S or NAME=FIXTURE,interval=S, not {spec!r}")
    return name, (events_of(path), mode, float(seconds))


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--route", type=route, action="append", required=True)
    args = ap.parse_args()
    routes = dict(args.route)
    server = await asyncio.start_server(
        lambda r, w: handle(r, w, routes),
        "127.0.0.1", args.port, backlog=4096, limit=1 << 22,
    )
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
