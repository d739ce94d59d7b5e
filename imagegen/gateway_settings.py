"""The gateway's own settings, read from the environment (``imagegen.settings`` imports them all).

Clients, the upstream HTTP client, key rotation and cooldowns, images, and the server's shutdown and
connection bounds. ``.env.example`` documents each variable.
"""

from django.core.exceptions import ImproperlyConfigured

from imagegen.env_reading import boolean, env, positive, read

# --- The gateway -------------------------------------------------------------------------------
# AUTHORIZED_API_KEY (the seed's client key) is not a setting: manage.py import_env makes it a ClientKey row.
# Base for permanent image URLs, e.g. https://img.example.com. Empty: built from the request host,
# which ALLOWED_HOSTS has checked before anything was generated.
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="").rstrip("/")

# The database and the cache must answer within this before any vendor is called (else 503), and for /health.
DEPENDENCY_CHECK_TIMEOUT = positive("float", "DEPENDENCY_CHECK_TIMEOUT", 1.0)
# Wrong or missing client keys per address (IPv6: /64) per window of seconds, then 429 (imagegen/api/throttle.py).
CLIENT_AUTH_FAILURE_LIMIT = positive("int", "CLIENT_AUTH_FAILURE_LIMIT", 20)
CLIENT_AUTH_FAILURE_WINDOW = positive("int", "CLIENT_AUTH_FAILURE_WINDOW", 60)
# A client key's in-flight slot is leased for this long and renewed while its generation runs, so the
# slots of a worker that died come free within it (imagegen/client_limits.py).
CLIENT_KEY_SLOT_LEASE = positive("int", "CLIENT_KEY_SLOT_LEASE", 60)  # whole seconds: Redis rounds down

# Shared upstream HTTP client (one per worker).
HTTP_TRANSPORT = env.str("HTTP_TRANSPORT", default="aiohttp")
if HTTP_TRANSPORT not in {"aiohttp", "httpx"}:
    raise ImproperlyConfigured(f"HTTP_TRANSPORT={HTTP_TRANSPORT!r} must be 'aiohttp' or 'httpx'.")
UPSTREAM_CONNECT_TIMEOUT = positive("float", "UPSTREAM_CONNECT_TIMEOUT", 10.0)
UPSTREAM_MAX_CONNECTIONS = positive("int", "UPSTREAM_MAX_CONNECTIONS", 1000)

# Key rotation and cooldowns (shared by every worker through the cache).
KEY_RATE_LIMIT_COOLDOWN = positive("float", "KEY_RATE_LIMIT_COOLDOWN", 60.0)
KEY_FAILURE_COOLDOWN = positive("float", "KEY_FAILURE_COOLDOWN", 30.0)
KEY_FAILURES_BEFORE_COOLDOWN = positive("int", "KEY_FAILURES_BEFORE_COOLDOWN", 3)
# The longest any key rests, whatever a vendor's Retry-After (or reset time) asks for: an hour, so a
# bogus or hostile header costs at most an hour of a key. Workers AI's spent daily allocation is then
# asked about again each hour (a free 429) rather than resting until 00:00 UTC; 86460 allows that.
KEY_MAX_COOLDOWN = positive("float", "KEY_MAX_COOLDOWN", 3600.0)
if not 1 <= KEY_MAX_COOLDOWN < float("inf"):  # NaN fails this too
    raise ImproperlyConfigured(f"KEY_MAX_COOLDOWN must be a number of seconds, at least 1 (got {KEY_MAX_COOLDOWN}).")

# Vendor caps (requests per minute, concurrent calls; set per vendor in admin): a request past a cap waits
# in a queue at most this many seconds (0: not at all), with at most this many others, then gets 503 vendor_busy.
VENDOR_QUEUE_WAIT = read("float", "VENDOR_QUEUE_WAIT", 10.0)
if not 0 <= VENDOR_QUEUE_WAIT <= 600:  # NaN fails this too
    raise ImproperlyConfigured(f"VENDOR_QUEUE_WAIT must be 0 to 600 seconds (got {VENDOR_QUEUE_WAIT}).")
VENDOR_QUEUE_LENGTH = positive("int", "VENDOR_QUEUE_LENGTH", 50)

# Most images one request may ask for (the "n" field of both endpoints).
MAX_IMAGES_PER_REQUEST = positive("int", "MAX_IMAGES_PER_REQUEST", 4)
# A streamed chat answer sends an SSE comment at least this often while the image is being made,
# so proxies that cut idle connections after 60-120 s never see one.
STREAM_HEARTBEAT_SECONDS = positive("float", "STREAM_HEARTBEAT_SECONDS", 10.0)

# The currency of every price in admin (the price table, the optimizer's token prices) and of every cost.
PRICE_CURRENCY = env.str("PRICE_CURRENCY", default="USD").strip().upper()
if not 1 <= len(PRICE_CURRENCY) <= 8 or not PRICE_CURRENCY.isalnum():
    raise ImproperlyConfigured(f"PRICE_CURRENCY={PRICE_CURRENCY!r} must be a currency code such as USD or EUR.")

# Idempotency-Key: how long (seconds) a key's answer is kept and replayed (24 h), and how long a duplicate
# that arrives while the first request is still running waits for its answer before a 409 with Retry-After.
IDEMPOTENCY_TTL = positive("int", "IDEMPOTENCY_TTL", 24 * 3600)
IDEMPOTENCY_WAIT_SECONDS = positive("float", "IDEMPOTENCY_WAIT_SECONDS", 60.0)

# Stored images.
IMAGE_MAX_BYTES = positive("int", "IMAGE_MAX_BYTES", 20 * 1024 * 1024)
IMAGE_FETCH_TIMEOUT = positive("float", "IMAGE_FETCH_TIMEOUT", 60.0)
# Images a client sends in (chat image parts, POST /v1/images/edits): most per request, bytes of one, bytes
# of all of them together (imagegen/input_images.py). A chat body is also bounded by MAX_REQUEST_BYTES.
INPUT_IMAGES_MAX_COUNT = positive("int", "INPUT_IMAGES_MAX_COUNT", 16)
INPUT_IMAGE_MAX_BYTES = positive("int", "INPUT_IMAGE_MAX_BYTES", 20 * 1024 * 1024)
INPUT_IMAGES_MAX_TOTAL_BYTES = positive("int", "INPUT_IMAGES_MAX_TOTAL_BYTES", 50 * 1024 * 1024)
IMAGE_FETCH_MAX_REDIRECTS = read("int", "IMAGE_FETCH_MAX_REDIRECTS", 3)
IMAGE_FETCH_ALLOW_PRIVATE = boolean("IMAGE_FETCH_ALLOW_PRIVATE", False)
# Days an image is kept when its model sets no retention of its own (0, the default: forever);
# manage.py purge_images deletes the expired ones.
IMAGE_RETENTION_DAYS = read("int", "IMAGE_RETENTION_DAYS", 0)
if IMAGE_RETENTION_DAYS < 0:
    raise ImproperlyConfigured(f"IMAGE_RETENTION_DAYS must be 0 (forever) or more days (got {IMAGE_RETENTION_DAYS}).")
# How often a worker asks the shared cache whether an image was taken down or purged since it last looked;
# until then its in-memory index of recently served images is trusted (imagegen/api/image_files.py).
IMAGE_REMOVAL_CHECK_SECONDS = read("float", "IMAGE_REMOVAL_CHECK_SECONDS", 1.0)
# Images each worker fetches, checks and writes at once; more wait their turn (bounds memory in bursts).
IMAGE_PREPARE_CONCURRENCY = positive("int", "IMAGE_PREPARE_CONCURRENCY", 16)
# Stored images kept in each worker's memory for serving (MiB; 0: read from storage every time).
IMAGE_MEMORY_CACHE_MB = read("int", "IMAGE_MEMORY_CACHE_MB", 32)
# Behind nginx: answer image GETs with this header naming the file (X-Accel-Redirect) and no body, so
# the proxy sends the file itself; IMAGE_OFFLOAD_PREFIX is its internal location. Local storage only.
IMAGE_OFFLOAD_HEADER = env.str("IMAGE_OFFLOAD_HEADER", default="")
IMAGE_OFFLOAD_PREFIX = env.str("IMAGE_OFFLOAD_PREFIX", default="/_stored/")

# How long a worker trusts its in-memory copy of routing tables and client keys.
ROUTING_CACHE_SECONDS = read("float", "ROUTING_CACHE_SECONDS", 5.0)

# How long the prompt optimizer's rewrite of an idea is kept in the shared cache (seconds; 0: off): the same
# idea, mode, optimizer model and style are then rewritten with no LLM call (imagegen/prompt_cache.py).
OPTIMIZER_CACHE_SECONDS = read("int", "OPTIMIZER_CACHE_SECONDS", 86400)
if OPTIMIZER_CACHE_SECONDS < 0:
    raise ImproperlyConfigured(f"OPTIMIZER_CACHE_SECONDS must be 0 (off) or seconds (got {OPTIMIZER_CACHE_SECONDS}).")

# --- The server: shutdown, connection bounds, proxies (imagegen/server.py, imagegen/gunicorn_config.py) --
# SIGTERM lets in-flight generations finish for this long (gunicorn's graceful timeout: the worker is
# killed after it). The default is the default vendor timeout; raise it with longer vendor timeouts.
SHUTDOWN_GRACE_SECONDS = positive("int", "SHUTDOWN_GRACE_SECONDS", 120)
# A pending ledger row older than this is taken as abandoned by a worker of another host. It must
# outlast the longest generation (vendor timeouts of every key and fallback tried, plus the download).
LEDGER_STALE_SECONDS = positive("float", "LEDGER_STALE_SECONDS", 3600.0)
# Addresses of the proxies whose X-Forwarded-For / X-Forwarded-Proto are believed ("*": any). Default:
# none; the client address is the peer's.
FORWARDED_ALLOW_IPS = read("list", "FORWARDED_ALLOW_IPS", [])
# Per worker: connections at once (more get an OpenAI-shaped 503), the size of a request's line and
# headers (more: 431), seconds to send them and then the body (a slow client is disconnected), and
# seconds an idle keep-alive connection stays open.
MAX_CONNECTIONS_PER_WORKER = positive("int", "MAX_CONNECTIONS_PER_WORKER", 4000)
MAX_HEADER_BYTES = positive("int", "MAX_HEADER_BYTES", 32 * 1024)
HEADER_READ_TIMEOUT = positive("float", "HEADER_READ_TIMEOUT", 10.0)
BODY_READ_TIMEOUT = positive("float", "BODY_READ_TIMEOUT", 30.0)
KEEPALIVE_TIMEOUT = positive("float", "KEEPALIVE_TIMEOUT", 5.0)
