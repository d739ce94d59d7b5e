"""gunicorn's settings for serving the gateway, from the gateway's own settings (the environment, .env).

    gunicorn -c python:imagegen.gunicorn_config imagegen.asgi:application --workers 2 --bind 0.0.0.0:8000

``make run``, the bench and the end-to-end tests start gunicorn this way, and so should a container:
one variable, SHUTDOWN_GRACE_SECONDS, is then both how long the master waits before it kills the
workers and the deadline the workers give in-flight generations (``imagegen.server``). Flags on the
command line still win over what is set here.

The metrics of all workers add up in ``settings.METRICS_DIR`` (``core.metrics``): the master empties it
as it starts, so a restart begins from zero and no file of an old process is counted, and it drops a
dead worker's in-flight gauge when the worker exits (its counters stay, as counters should).
"""

import os
import shutil

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imagegen.settings")

from django.conf import settings  # noqa: E402  (after the settings module is named)
from gunicorn.glogging import Logger  # noqa: E402

worker_class = "imagegen.server.GatewayWorker"
graceful_timeout = settings.SHUTDOWN_GRACE_SECONDS
# A worker that has not told the master it is alive for this long is restarted.
timeout = 60


class GatewayLogger(Logger):
    """gunicorn's logger; with LOG_FORMAT=json its lines are JSON objects too, the master's from the first
    (the workers inherit its handlers, and ``core.logs`` gives the access line the same format)."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        if settings.LOG_FORMAT == "json":
            from core.logs import JsonFormatter

            for log in (self.error_log, self.access_log):
                for handler in log.handlers:
                    handler.setFormatter(JsonFormatter())


logger_class = GatewayLogger


def on_starting(server) -> None:
    """Before the first worker: an empty metrics folder (the workers' files of a previous run are gone)."""
    for path in settings.METRICS_DIR.iterdir():
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def child_exit(server, worker) -> None:
    """A worker exited (or was killed): its requests are no longer in flight."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid, str(settings.METRICS_DIR))
