"""gunicorn's settings for serving the gateway, from the gateway's own settings (the environment, .env).

    gunicorn -c python:imagegen.gunicorn_config imagegen.asgi:application --workers 2 --bind 0.0.0.0:8000

``make run``, the bench and the end-to-end tests start gunicorn this way, and so should a container:
one variable, SHUTDOWN_GRACE_SECONDS, is then both how long the master waits before it kills the
workers and the deadline the workers give in-flight generations (``imagegen.server``). Flags on the
command line still win over what is set here.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imagegen.settings")

from django.conf import settings  # noqa: E402  (after the settings module is named)

worker_class = "imagegen.server.GatewayWorker"
graceful_timeout = settings.SHUTDOWN_GRACE_SECONDS
# A worker that has not told the master it is alive for this long is restarted.
timeout = 60
