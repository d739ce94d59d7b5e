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

from imagegen.secrets_at_rest import encryption_keys, kept_secret, private_data_dir

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# The file of settings read at start; variables already in the environment win over it. Empty reads
# none: the test suite sets that (tests/without_env_file.py), so a developer's .env cannot change it.
ENV_FILE = os.environ.get("ENV_FILE", str(BASE_DIR / ".env"))
if ENV_FILE:
    environ.Env.read_env(ENV_FILE)


def _read(kind: str, name: str, default):
    """Read one variable; a malformed value names the variable instead of a bare ValueError."""
    reader = getattr(env, kind)
    try:
        return reader(name, default=default)
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(f"{name}={env.str(name, default='')!r} is not a valid {kind}: {exc}") from exc


def _positive(kind: str, name: str, default):
    value = _read(kind, name, default)
    if value is not None and value <= 0:
        raise ImproperlyConfigured(f"{name} must be greater than 0 (got {value}).")
    return value


def _bool(name: str, default: bool) -> bool:
    raw = env.str(name, default="").strip().lower()
    if raw == "":
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use true or false).")


DATA_DIR = Path(_read("str", "DATA_DIR", str(BASE_DIR / "data"))).resolve()
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
    _read("list", "ENCRYPTION_KEYS", []), env.str("ENCRYPTION_KEY", default=""), DATA_DIR / ".encryption_key"
)
DEBUG = _bool("DEBUG", False)
# Checked first on every API request and image download (else 400 invalid_host); production names its hosts.
ALLOWED_HOSTS = _read("list", "ALLOWED_HOSTS", ["*"])
CSRF_TRUSTED_ORIGINS = _read("list", "CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
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
    _pg_options["connect_timeout"] = _positive("int", "DATABASE_CONNECT_TIMEOUT", 3)
    _statement_ms = int(_read("float", "DATABASE_STATEMENT_TIMEOUT", 10.0) * 1000)
    if _statement_ms < 0:
        raise ImproperlyConfigured("DATABASE_STATEMENT_TIMEOUT must be 0 (no limit) or more.")
    _pg_options["options"] = f"{_pg_options.get('options', '')} -c statement_timeout={_statement_ms}".strip()
    # A pool per worker: requests hand their connection back after each short database step,
    # so hundreds of waiting generations need only a few connections.
    _pg_options["pool"] = {
        "min_size": 1,
        "max_size": _positive("int", "DATABASE_POOL_SIZE", 10),
        "timeout": _positive("float", "DATABASE_POOL_TIMEOUT", 5.0),
    }

REDIS_URL = env.str("REDIS_URL", default="")
# Connecting to Redis and each reply are bounded; Django's Redis pool makes connections that never retry.
REDIS_TIMEOUT = _positive("float", "REDIS_TIMEOUT", 1.0)
REDIS_CACHE_OPTIONS = {"socket_connect_timeout": REDIS_TIMEOUT, "socket_timeout": REDIS_TIMEOUT}
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
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
AXES_FAILURE_LIMIT = _positive("int", "ADMIN_LOGIN_FAILURE_LIMIT", 5) + 1
AXES_COOLOFF_TIME = timedelta(minutes=_positive("float", "ADMIN_LOGIN_COOLOFF_MINUTES", 15.0))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)  # collectstatic fills it; WhiteNoise warns when it is missing
MEDIA_ROOT = Path(_read("str", "MEDIA_ROOT", str(DATA_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Largest request body the API accepts; larger bodies get a 413 in the OpenAI error shape.
MAX_REQUEST_BYTES = _positive("int", "MAX_REQUEST_BYTES", 1_048_576)
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_REQUEST_BYTES
# The longest prompt (chat: the last user message's text); gpt-image-1's limit (DALL-E 3's is 4,000).
MAX_PROMPT_CHARS = _positive("int", "MAX_PROMPT_CHARS", 32000)

# The JSON endpoints (imagegen/api/views.py) are DRF views; tests/test_settings.py imports every
# class named here, so a name that does not exist fails the suite, not the first request.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["imagegen.api.auth.ClientKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["imagegen.api.parsing.JsonObjectParser"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "imagegen.api.parsing.JsonNegotiation",
    "EXCEPTION_HANDLER": "imagegen.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
}

# --- The gateway -------------------------------------------------------------------------------
# Bootstrap client key from the seed; ClientKey rows made in admin work beside it.
AUTHORIZED_API_KEY = env.str("AUTHORIZED_API_KEY", default="")
# Base for permanent image URLs, e.g. https://img.example.com. Empty: built from the request host,
# which ALLOWED_HOSTS has checked before anything was generated.
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="").rstrip("/")

# The database and the cache must answer within this before any vendor is called (else 503), and for /health.
DEPENDENCY_CHECK_TIMEOUT = _positive("float", "DEPENDENCY_CHECK_TIMEOUT", 1.0)
# Wrong or missing client keys per address (IPv6: /64) per window of seconds, then 429 (imagegen/api/throttle.py).
CLIENT_AUTH_FAILURE_LIMIT = _positive("int", "CLIENT_AUTH_FAILURE_LIMIT", 20)
CLIENT_AUTH_FAILURE_WINDOW = _positive("int", "CLIENT_AUTH_FAILURE_WINDOW", 60)

# Shared upstream HTTP client (one per worker).
HTTP_TRANSPORT = env.str("HTTP_TRANSPORT", default="aiohttp")
if HTTP_TRANSPORT not in {"aiohttp", "httpx"}:
    raise ImproperlyConfigured(f"HTTP_TRANSPORT={HTTP_TRANSPORT!r} must be 'aiohttp' or 'httpx'.")
UPSTREAM_CONNECT_TIMEOUT = _positive("float", "UPSTREAM_CONNECT_TIMEOUT", 10.0)
UPSTREAM_MAX_CONNECTIONS = _positive("int", "UPSTREAM_MAX_CONNECTIONS", 1000)

# Key rotation and cooldowns (shared by every worker through the cache).
KEY_RATE_LIMIT_COOLDOWN = _positive("float", "KEY_RATE_LIMIT_COOLDOWN", 60.0)
KEY_FAILURE_COOLDOWN = _positive("float", "KEY_FAILURE_COOLDOWN", 30.0)
KEY_FAILURES_BEFORE_COOLDOWN = _positive("int", "KEY_FAILURES_BEFORE_COOLDOWN", 3)
# The longest any key rests, whatever a vendor's Retry-After (or reset time) asks for: an hour, so a
# bogus or hostile header costs at most an hour of a key. Workers AI's spent daily allocation is then
# asked about again each hour (a free 429) rather than resting until 00:00 UTC; 86460 allows that.
KEY_MAX_COOLDOWN = _positive("float", "KEY_MAX_COOLDOWN", 3600.0)
if not 1 <= KEY_MAX_COOLDOWN < float("inf"):  # NaN fails this too
    raise ImproperlyConfigured(f"KEY_MAX_COOLDOWN must be a number of seconds, at least 1 (got {KEY_MAX_COOLDOWN}).")

# Most images one request may ask for (the "n" field of both endpoints).
MAX_IMAGES_PER_REQUEST = _positive("int", "MAX_IMAGES_PER_REQUEST", 4)
# A streamed chat answer sends an SSE comment at least this often while the image is being made,
# so proxies that cut idle connections after 60-120 s never see one.
STREAM_HEARTBEAT_SECONDS = _positive("float", "STREAM_HEARTBEAT_SECONDS", 10.0)

# Stored images.
IMAGE_MAX_BYTES = _positive("int", "IMAGE_MAX_BYTES", 20 * 1024 * 1024)
IMAGE_FETCH_TIMEOUT = _positive("float", "IMAGE_FETCH_TIMEOUT", 60.0)
IMAGE_FETCH_MAX_REDIRECTS = _read("int", "IMAGE_FETCH_MAX_REDIRECTS", 3)
IMAGE_FETCH_ALLOW_PRIVATE = _bool("IMAGE_FETCH_ALLOW_PRIVATE", False)

# How long a worker trusts its in-memory copy of routing tables and client keys.
ROUTING_CACHE_SECONDS = _read("float", "ROUTING_CACHE_SECONDS", 5.0)

# --- The server: shutdown, connection bounds, proxies (imagegen/server.py, imagegen/gunicorn_config.py) --
# SIGTERM lets in-flight generations finish for this long (gunicorn's graceful timeout: the worker is
# killed after it). The default is the default vendor timeout; raise it with longer vendor timeouts.
SHUTDOWN_GRACE_SECONDS = _positive("int", "SHUTDOWN_GRACE_SECONDS", 120)
# A pending ledger row older than this is taken as abandoned by a worker of another host. It must
# outlast the longest generation (vendor timeouts of every key and fallback tried, plus the download).
LEDGER_STALE_SECONDS = _positive("float", "LEDGER_STALE_SECONDS", 3600.0)
# Addresses of the proxies whose X-Forwarded-For / X-Forwarded-Proto are believed ("*": any). Default:
# none; the client address is the peer's.
FORWARDED_ALLOW_IPS = _read("list", "FORWARDED_ALLOW_IPS", [])
# Per worker: connections at once (more get an OpenAI-shaped 503), the size of a request's line and
# headers (more: 431), seconds to send them and then the body (a slow client is disconnected), and
# seconds an idle keep-alive connection stays open.
MAX_CONNECTIONS_PER_WORKER = _positive("int", "MAX_CONNECTIONS_PER_WORKER", 4000)
MAX_HEADER_BYTES = _positive("int", "MAX_HEADER_BYTES", 32 * 1024)
HEADER_READ_TIMEOUT = _positive("float", "HEADER_READ_TIMEOUT", 10.0)
BODY_READ_TIMEOUT = _positive("float", "BODY_READ_TIMEOUT", 30.0)
KEEPALIVE_TIMEOUT = _positive("float", "KEEPALIVE_TIMEOUT", 5.0)

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
# LOGGING, then the redacting filters on uvicorn's and gunicorn's own loggers (the access line among
# them), which LOGGING cannot reach without replacing where they write (see core/logs.py).
LOGGING_CONFIG = "core.logs.configure_logging"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "core.redaction.RedactingFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact"]}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "httpx": {"level": "WARNING"},
    },
}
