"""Settings for imagegen, read from the environment through django-environ.

Every variable has an embedded default that runs on a laptop (SQLite in ``data/``, images in
``data/media/``, a file cache in ``data/cache/``). A value that cannot be parsed stops the start with an
``ImproperlyConfigured`` naming the variable. ``.env.example`` documents each one.
"""

import os
import secrets
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from imagegen.env_reading import boolean, env, positive, read
from imagegen.observability_settings import log_format, metrics_dir, networks
from imagegen.secrets_at_rest import encryption_keys, kept_secret, private_data_dir
from imagegen.storage_settings import *  # noqa: F403  (IMAGE_STORAGE, IMAGE_LINKS, ... and the backend)

BASE_DIR = Path(__file__).resolve().parent.parent

# The file of settings read at start; variables already in the environment win over it. Empty reads
# none: the test suite sets that (tests/without_env_file.py), so a developer's .env cannot change it.
ENV_FILE = os.environ.get("ENV_FILE", str(BASE_DIR / ".env"))
if ENV_FILE:
    environ.Env.read_env(ENV_FILE)


DATA_DIR = Path(read("str", "DATA_DIR", str(BASE_DIR / "data"))).resolve()
# Files the gateway writes are private to its user (umask 077); see imagegen/secrets_at_rest.py.
private_data_dir(DATA_DIR)
# Django's storage sets these modes itself whatever the umask (its default for files is 0644).
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700

# Sessions, admin logins and signed values; vendor keys do not depend on it (ENCRYPTION_KEYS below).
SECRET_KEY = env.str("SECRET_KEY", default="") or kept_secret(
    DATA_DIR / ".secret_key", lambda: secrets.token_urlsafe(50)
)
# Vendor keys are encrypted at rest with these Fernet keys, newest first: written with the first,
# read with any (vendors/crypto.py). ENCRYPTION_KEY, the older single-key setting, is read after
# them. With neither set, a key generated once is kept in DATA_DIR/.encryption_key, and then a copy
# of DATA_DIR alone can decrypt vendor keys: set ENCRYPTION_KEYS outside it for that not to be so.
ENCRYPTION_KEYS = encryption_keys(
    read("list", "ENCRYPTION_KEYS", []), env.str("ENCRYPTION_KEY", default=""), DATA_DIR / ".encryption_key"
)
DEBUG = boolean("DEBUG", False)
# Checked first on every API request and image download (else 400 invalid_host); production names its hosts.
ALLOWED_HOSTS = read("list", "ALLOWED_HOSTS", ["*"])
CSRF_TRUSTED_ORIGINS = read("list", "CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "playground",  # before the admin: its admin/base_site.html adds the Playground link to the admin header
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
    "rest_framework",
    "adrf",
    "vendors",
    "proxy",
    "imagegen",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes asks: answers a locked-out admin login
]

ROOT_URLCONF = "imagegen.urls"
ASGI_APPLICATION = "imagegen.asgi.application"
WSGI_APPLICATION = "imagegen.wsgi.application"
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

_database_url = env.str("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'db.sqlite3'}")
if _database_url.split("://", 1)[0] not in {"sqlite", "postgres", "postgresql", "pgsql"}:
    raise ImproperlyConfigured("DATABASE_URL must start with sqlite:// or postgres:// (PostgreSQL).")
try:
    DATABASES = {"default": env.db_url_config(_database_url)}
except Exception as exc:  # django-environ raises several types for a malformed URL
    raise ImproperlyConfigured(f"DATABASE_URL is not a valid database URL: {exc}") from exc

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers and the one writer proceed together across gunicorn workers; IMMEDIATE
    # transactions and a busy timeout turn write contention into waiting, not "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Fail fast: connecting gives up after DATABASE_CONNECT_TIMEOUT (whole seconds, at least 2), a statement
    # after DATABASE_STATEMENT_TIMEOUT (0: none, e.g. a long migration), the pool wait after DATABASE_POOL_TIMEOUT.
    _pg_options = DATABASES["default"].setdefault("OPTIONS", {})
    _pg_options["connect_timeout"] = positive("int", "DATABASE_CONNECT_TIMEOUT", 3)
    _statement_ms = int(read("float", "DATABASE_STATEMENT_TIMEOUT", 10.0) * 1000)
    if _statement_ms < 0:
        raise ImproperlyConfigured("DATABASE_STATEMENT_TIMEOUT must be 0 (no limit) or more.")
    _pg_options["options"] = f"{_pg_options.get('options', '')} -c statement_timeout={_statement_ms}".strip()
    # A pool per worker: requests hand their connection back after each short database step,
    # so hundreds of waiting generations need only a few connections.
    _pg_options["pool"] = {
        "min_size": 1,
        "max_size": positive("int", "DATABASE_POOL_SIZE", 10),
        "timeout": positive("float", "DATABASE_POOL_TIMEOUT", 5.0),
    }

REDIS_URL = env.str("REDIS_URL", default="")
# Connecting to Redis and each reply are bounded; Django's Redis pool makes connections that never retry.
REDIS_TIMEOUT = positive("float", "REDIS_TIMEOUT", 1.0)
REDIS_CACHE_OPTIONS = {"socket_connect_timeout": REDIS_TIMEOUT, "socket_timeout": REDIS_TIMEOUT}
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "core.redis_cache.SharedRedisCache",  # one pool per process (core/redis_cache.py)
            "LOCATION": REDIS_URL,
            "OPTIONS": REDIS_CACHE_OPTIONS,
        }
    }
else:
    # A cache every process of this machine shares (SQLite files under DATA_DIR/cache): rotation,
    # cooldowns and counters must agree across `make run`'s workers, which LocMemCache's do not.
    CACHES = {
        "default": {
            "BACKEND": "core.file_cache.SharedFileCache",
            "LOCATION": str(DATA_DIR / "cache"),
            # SQLite's busy timeout; writes that hit it are retried, reads must not give up early.
            "DATABASE_TIMEOUT": 1.0,
        }
    }
CACHES["default"]["KEY_PREFIX"] = env.str("CACHE_KEY_PREFIX", default="imagegen")

# Admin logins (django-axes, counted in the database): after ADMIN_LOGIN_FAILURE_LIMIT wrong passwords for a
# username from one REMOTE_ADDR (no django-ipware: no forwarded header), the next locks that pair out.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = positive("int", "ADMIN_LOGIN_FAILURE_LIMIT", 5) + 1
AXES_COOLOFF_TIME = timedelta(minutes=positive("float", "ADMIN_LOGIN_COOLOFF_MINUTES", 15.0))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_VERBOSE = False  # no banner on every start and management command

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# The container image bakes its static files outside DATA_DIR (a volume would keep an old copy).
STATIC_ROOT = Path(read("str", "STATIC_ROOT", str(DATA_DIR / "static")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # collectstatic fills it; WhiteNoise warns when it is missing
MEDIA_ROOT = Path(read("str", "MEDIA_ROOT", str(DATA_DIR / "media")))
# Stored images: local disk under MEDIA_ROOT, or an S3-compatible bucket (IMAGE_STORAGE, imagegen/storage_settings.py).
STORAGES = {
    "default": image_storage_backend(),  # noqa: F405
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Largest request body the API accepts; larger bodies get a 413 in the OpenAI error shape.
MAX_REQUEST_BYTES = positive("int", "MAX_REQUEST_BYTES", 1_048_576)
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_REQUEST_BYTES
# The longest prompt (chat: the last user message's text); gpt-image-1's limit (DALL-E 3's is 4,000).
MAX_PROMPT_CHARS = positive("int", "MAX_PROMPT_CHARS", 32000)

# The JSON endpoints (imagegen/api/views.py) are DRF views; tests/test_settings.py imports every
# class named here, so a name that does not exist fails the suite, not the first request.
REST_FRAMEWORK = {
    # A staff member's session first (only without an Authorization header): the playground's way in.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "playground.auth.StaffSessionAuthentication",
        "imagegen.api.auth.ClientKeyAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["imagegen.api.parsing.JsonObjectParser"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "imagegen.api.parsing.JsonNegotiation",
    "EXCEPTION_HANDLER": "imagegen.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
    # Read only when /v1/openapi.json is first built (imagegen.api.contract), never per request.
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "imagegen",
    "DESCRIPTION": "An OpenAI-compatible gateway for AI image generation. Every error has OpenAI's shape.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # The published contract is the client key; the playground's session is the admin's own page's way in.
    "AUTHENTICATION_WHITELIST": ["imagegen.api.auth.ClientKeyAuthentication"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "imagegen.api.contract.add_image_files",
    ],
    "ENUM_NAME_OVERRIDES": {"CheckStateEnum": "imagegen.api.openapi_bodies.CHECK_STATES"},
}

# The gateway's own settings (clients, vendors, keys, images, the server): imagegen/gateway_settings.py.
from imagegen.alert_settings import *  # noqa: E402, F403
from imagegen.gateway_settings import *  # noqa: E402, F403

# Where every worker writes its metric values for GET /metrics to add up (emptied when gunicorn starts).
METRICS_DIR = metrics_dir(DATA_DIR)
# GET /metrics answers a scraper that sends this as a Bearer token, or one from METRICS_ALLOW_IPS
# (addresses or networks, e.g. 10.0.0.0/8). With neither set, /metrics answers 403 to everyone.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_ALLOW_IPS = networks("METRICS_ALLOW_IPS")

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
# plain: "time level logger [request id]: message"; json: one JSON object per line (both redacted).
LOG_FORMAT = log_format()
# LOGGING, then the redacting filters on uvicorn's and gunicorn's own loggers (the access line among
# them), which LOGGING cannot reach without replacing where they write (see core/logs.py).
LOGGING_CONFIG = "core.logs.configure_logging"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "redact": {"()": "core.redaction.RedactingFilter"},
        "request_id": {"()": "core.logs.RequestIdFilter"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"},
        "json": {"()": "core.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["redact", "request_id"]}
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "httpx": {"level": "WARNING"},
    },
}
