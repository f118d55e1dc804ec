#!/usr/bin/env python3
"""A mock OpenAI upstream that holds streams open cheaply (asyncio).

Every POST gets `200 text/event-stream` (chunked); the first event of the
fixture stream is sent at once, then the stream is held for --hold seconds,
then the rest of the fixture follows and the stream ends. Used for the
"1,000 concurrently open streams" RSS scenario, where an nginx static file
would finish each stream at once.

    slow_sse.py --port 18091 --fixture tests/fixtures/openai/chat_stream.sse --hold 3
"""
import argparse
import asyncio


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


async def handle(reader, writer, events, hold):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            if length:
                await reader.readexactly(length)
            writer.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                b"cache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n"
                + chunk(events[0])
            )
            await writer.drain()
            await asyncio.sleep(hold)
            writer.write(b"".join(chunk(e) for e in events[1:]) + b"0\r\n\r\n")
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
        pass
    finally:
        writer.close()


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--fixture", required=True)
    ap.add_argument("--hold", type=float, default=3.0)
    args = ap.parse_args()
    raw = open(args.fixture, "rb").read().replace(b"\r\n", b"\n")
    events = [e + b"\n\n" for e in raw.split(b"\n\n") if e.strip()]
    server = await asyncio.start_server(
        lambda r, w: handle(r, w, events, args.hold),
        "127.0.0.1", args.port, backlog=4096, limit=1 << 22,
    )
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
