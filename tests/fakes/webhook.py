"""A fake alert webhook (Slack's incoming webhook shape): POST /hooks/<token> records the JSON and answers ``ok``.

hook = WebhookFake().start()
settings.ALERT_WEBHOOK_URL = hook.hook_url
hook.status = 500                          # answer every post with this status instead
hook.texts()                               # the "text" of each post, in order
"""

from __future__ import annotations

from aiohttp import web

from tests.fakes.server import FakeServer

TOKEN = "T0000/B0000/webhook-secret-token-1234"


class WebhookFake(FakeServer):
    def __init__(self) -> None:
        super().__init__()
        self.status = 200

    @property
    def hook_url(self) -> str:
        return f"{self.url}/hooks/{TOKEN}"

    def setup_routes(self, app: web.Application) -> None:
        app.router.add_post("/hooks/{token:.+}", self._hook)

    async def _hook(self, request: web.Request) -> web.Response:
        return web.Response(status=self.status, text="ok" if self.status == 200 else "invalid_payload")

    def posts(self) -> list[dict]:
        return [request.json for request in self.requests if request.method == "POST"]

    def texts(self) -> list[str]:
        return [post["text"] for post in self.posts()]
