"""Settings for imagegen, read from the environment through django-environ.

Every variable has an embedded default that runs on a laptop (SQLite in ``data/``, images in
``data/media/``, in-process cache). A value that cannot be parsed stops the start with an
``ImproperlyConfigured`` naming the variable. ``.env.example`` documents each one.
"""

import secrets
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")


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
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    """SECRET_KEY from the environment, else one generated once and kept in DATA_DIR.

    Keeping it on disk matters: vendor keys are encrypted with a key derived from it, so a new
    random key at every start would make stored vendor keys unreadable.
    """
    configured = env.str("SECRET_KEY", default="")
    if configured:
        return configured
    path = DATA_DIR / ".secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
# Vendor keys are encrypted at rest with this key (Fernet). Defaults to one derived from SECRET_KEY.
ENCRYPTION_KEY = env.str("ENCRYPTION_KEY", default="")
DEBUG = _bool("DEBUG", False)
ALLOWED_HOSTS = _read("list", "ALLOWED_HOSTS", ["*"])
CSRF_TRUSTED_ORIGINS = _read("list", "CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
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
    # A pool per worker: requests hand their connection back after each short database step,
    # so hundreds of waiting generations need only a few connections.
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": _positive("int", "DATABASE_POOL_SIZE", 10),
        "timeout": 30,
    }

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "imagegen"}}
CACHES["default"]["KEY_PREFIX"] = env.str("CACHE_KEY_PREFIX", default="imagegen")

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
# Base for permanent image URLs, e.g. https://img.example.com. Empty: built from the request host.
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="").rstrip("/")

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
