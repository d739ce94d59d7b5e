"""A round-robin TCP proxy for the two-instance bench (scenario e): a stand-in for the compose file's
reverse proxy, so the load client reaches several gateway instances through one address.

    .venv/bin/python bench/round_robin_proxy.py --port 9300 --backend 127.0.0.1:9101 --backend 127.0.0.1:9102

Each accepted connection goes to the next backend in turn and its bytes are copied both ways, in one
asyncio loop; it reads no HTTP, so keep-alive connections stay on the instance they first reached
(as a TCP balancer does). ``RoundRobinProxy`` runs it as a child process. It exits by itself after
``--max-seconds``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import socket
import subprocess
import sys
import time
from pathlib import Path


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(ConnectionError, OSError):
            writer.close()


async def serve(port: int, backends: list[tuple[str, int]], max_seconds: float) -> None:
    turns = itertools.cycle(backends)

    async def relay(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        host, backend_port = next(turns)
        try:
            backend_reader, backend_writer = await asyncio.open_connection(host, backend_port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(_pipe(client_reader, backend_writer), _pipe(backend_reader, client_writer))

    server = await asyncio.start_server(relay, "127.0.0.1", port, backlog=1024)
    async with server:
        await asyncio.sleep(max_seconds)


class RoundRobinProxy:
    """The proxy as a child process in front of ``backends`` (ports on 127.0.0.1)."""

    def __init__(self, port: int, backends: list[int], max_seconds: float = 600):
        self.port, self.backends, self.max_seconds = port, backends, max_seconds
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> RoundRobinProxy:
        argv = [sys.executable, str(Path(__file__)), "--port", str(self.port), "--max-seconds", str(self.max_seconds)]
        for backend in self.backends:
            argv += ["--backend", f"127.0.0.1:{backend}"]
        self.process = subprocess.Popen(argv)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 1):
                return self
            time.sleep(0.05)
        self.__exit__()
        raise RuntimeError("the round-robin proxy did not start")

    def __exit__(self, *exc) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description="round-robin TCP proxy (bench only)")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--backend", action="append", required=True, help="host:port, repeatable")
    parser.add_argument("--max-seconds", type=float, default=600)
    args = parser.parse_args()
    backends = [(host, int(port)) for host, port in (b.rsplit(":", 1) for b in args.backend)]
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.port, backends, args.max_seconds))


if __name__ == "__main__":
    main()
