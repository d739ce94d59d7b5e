"""The alerts' settings, read from the environment (``imagegen.settings`` imports them all).

``.env.example`` and README ("Alerts") document each variable.
"""

from django.core.exceptions import ImproperlyConfigured

from imagegen.env_reading import env, positive

# Where alerts are POSTed as JSON with a Slack-compatible "text" field. Empty: alerts are only listed in admin.
# The URL is a secret (a Slack webhook's path is its token): it is never logged or shown.
ALERT_WEBHOOK_URL = env.str("ALERT_WEBHOOK_URL", default="").strip()
# The same alert (kind and subject) is raised once per this many seconds, across workers (the shared cache).
ALERT_DEDUP_SECONDS = positive("int", "ALERT_DEDUP_SECONDS", 3600)
# At most this many webhook posts per clock hour, across workers; more are listed in admin, not sent.
ALERT_MAX_PER_HOUR = positive("int", "ALERT_MAX_PER_HOUR", 20)
# Seconds the webhook has to answer.
ALERT_WEBHOOK_TIMEOUT = positive("float", "ALERT_WEBHOOK_TIMEOUT", 10.0)
# A vendor's error rate: alert when at least this share of its calls failed in the last window of seconds,
# once it had at least the minimum number of calls in it.
ALERT_ERROR_RATE_THRESHOLD = positive("float", "ALERT_ERROR_RATE_THRESHOLD", 0.5)
if not 0 < ALERT_ERROR_RATE_THRESHOLD <= 1:
    raise ImproperlyConfigured(
        f"ALERT_ERROR_RATE_THRESHOLD must be a share above 0, at most 1 (got {ALERT_ERROR_RATE_THRESHOLD})."
    )
ALERT_ERROR_RATE_WINDOW = positive("int", "ALERT_ERROR_RATE_WINDOW", 300)
ALERT_ERROR_RATE_MIN_CALLS = positive("int", "ALERT_ERROR_RATE_MIN_CALLS", 10)
