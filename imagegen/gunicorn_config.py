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

worker_class = "imagegen.server.GatewayWorker"
graceful_timeout = settings.SHUTDOWN_GRACE_SECONDS
# A worker that has not told the master it is alive for this long is restarted.
timeout = 60

if settings.LOG_FORMAT == "json":
    # gunicorn's own lines (the master's, from its first; the workers inherit the handlers) as JSON too.
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "core.logs.JsonFormatter"}},
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"},
            "error_console": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"},
        },
        "loggers": {
            "gunicorn.error": {"handlers": ["error_console"], "level": "INFO", "propagate": False},
            "gunicorn.access": {"handlers": ["console"], "level": "INFO", "propagate": False},
        },
        "root": {"handlers": ["error_console"], "level": "WARNING"},
    }


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
