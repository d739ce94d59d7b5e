"""Headless Chromium driven over the DevTools protocol (a websocket, through aiohttp): open an admin page
as a logged-in user, collect every JavaScript error and failed load, evaluate an expression, save a PNG.

    with Browser.start(tmp_path) as browser:
        shot = browser.visit(url, cookies={"sessionid": ...}, png=tmp_path / "page.png", evaluate="1 + 1")
        shot.errors    # uncaught exceptions, console errors, resources that failed to load
        shot.value     # what ``evaluate`` returned (a promise is awaited)

    async with browser.tab(url, cookies=...) as page:    # to type, click and draw before looking
        await page.evaluate("...")
        await page.call("Input.dispatchMouseEvent", ...)
        await page.screenshot(png)

``chromium_path()`` is None when no Chromium is installed: tests skip then.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import re
import shutil
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

WIDTH = 1400


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@dataclass
class Shot:
    errors: list[str] = field(default_factory=list)
    value: object = None


class Browser:
    def __init__(self, process: subprocess.Popen, endpoint: str) -> None:
        self.process, self.endpoint = process, endpoint

    @classmethod
    def start(cls, profile: Path) -> Browser:
        args = [chromium_path(), "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run"]
        args += ["--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1", f"--user-data-dir={profile}"]
        process = subprocess.Popen([*args, "about:blank"], stderr=subprocess.PIPE, text=True)
        for line in process.stderr:  # "DevTools listening on ws://127.0.0.1:<port>/devtools/browser/<id>"
            found = re.search(r"ws://127\.0\.0\.1:(\d+)/", line)
            if found:
                return cls(process, f"http://127.0.0.1:{found.group(1)}")
        process.kill()
        raise RuntimeError("chromium did not start")

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc) -> None:
        self.process.kill()
        self.process.wait(10)

    def visit(self, url: str, *, cookies: dict[str, str], png: Path, evaluate: str = "") -> Shot:
        return asyncio.run(asyncio.wait_for(self._visit(url, cookies, png, evaluate), 60))

    async def _visit(self, url: str, cookies: dict[str, str], png: Path, evaluate: str) -> Shot:
        async with self.tab(url, cookies=cookies) as page:
            shot = Shot(errors=page.errors)
            if evaluate:
                shot.value = await page.evaluate(evaluate)
            await page.screenshot(png)
            return shot

    @asynccontextmanager
    async def tab(self, url: str, *, cookies: dict[str, str]) -> AsyncIterator[Page]:
        """A new tab with the cookies set, ``url`` loaded: for tests that go on to type, click and draw."""
        async with aiohttp.ClientSession() as session:
            async with session.put(f"{self.endpoint}/json/new?about:blank") as response:
                target = await response.json()
            async with session.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                page = Page(ws)
                for domain in ("Page", "Runtime", "Log", "Network"):
                    await page.call(f"{domain}.enable")
                for name, value in cookies.items():
                    await page.call("Network.setCookie", name=name, value=value, url=url)
                await page.resize(900)
                await page.call("Page.navigate", url=url)
                await page.wait_for("Page.loadEventFired")
                yield page


class Page:
    """One page's websocket: commands with their answers, and the events that say something went wrong."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws, self.ids, self.errors, self.seen = ws, itertools.count(1), [], set()

    async def call(self, method: str, **params) -> dict:
        message_id = next(self.ids)
        await self.ws.send_str(json.dumps({"id": message_id, "method": method, "params": params}))
        while True:
            message = await self._next()
            if message.get("id") == message_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    async def evaluate(self, expression: str) -> object:
        """The expression's value; a promise is awaited. A script error raises, with its message."""
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise RuntimeError(details.get("exception", {}).get("description") or details.get("text"))
        return result["result"].get("value")

    async def resize(self, height: int) -> None:
        await self.call(
            "Emulation.setDeviceMetricsOverride", width=WIDTH, height=height, deviceScaleFactor=1, mobile=False
        )

    async def screenshot(self, png: Path) -> None:
        """The whole page, however tall, as a PNG."""
        height = (await self.call("Page.getLayoutMetrics"))["cssContentSize"]["height"]
        await self.resize(int(height))
        picture = await self.call("Page.captureScreenshot", format="png")
        png.write_bytes(base64.b64decode(picture["data"]))

    async def wait_for(self, event: str) -> None:
        while event not in self.seen:
            await self._next()

    async def _next(self) -> dict:
        message = json.loads((await self.ws.receive()).data)
        method, params = message.get("method"), message.get("params", {})
        if method:
            self.seen.add(method)
        if method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            self.errors.append(details.get("exception", {}).get("description") or details.get("text", "exception"))
        elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
            self.errors.append(" ".join(str(arg.get("value", arg.get("description"))) for arg in params["args"]))
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error" and not _favicon(params["entry"]):
            self.errors.append(f"{params['entry']['text']} {params['entry'].get('url', '')}")
        return message


def _favicon(entry: dict) -> bool:
    """The browser asks for /favicon.ico by itself; the gateway has none, which is no fault of the page."""
    return entry.get("url", "").endswith("/favicon.ico")
