"""Django settings for Shaping Lab.

Embedded by default (SQLite, in-memory channel layer): `make run` needs nothing installed.
Set DATABASE_URL (e.g. postgres://127.0.0.1:5432/test) for PostgreSQL and REDIS_URL
(e.g. redis://127.0.0.1:6379/0) for channels_redis and the shared cache; no code changes.
Production (DJANGO_DEBUG=0, `make run-prod`) takes its secrets and hosts from the environment;
docs/deploy.md lists every variable.
"""

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("SHAPING_LAB_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _env_bool(name: str, default: bool) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


DEBUG = _env_bool("DJANGO_DEBUG", True)
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "dev-only-insecure-key" if DEBUG else "")
if not SECRET_KEY:
    raise RuntimeError("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off")
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("DJANGO_CSRF_TRUSTED_ORIGINS", "").split(",") if o]

# HTTPS, on by default in production. TLS ends at the reverse proxy (docs/deploy.md), which says so
# in X-Forwarded-Proto. DJANGO_SECURE_HTTPS=0 serves plain HTTP, for a benchmark on one machine:
# secure cookies would never be sent back over http://.
SECURE_HTTPS = _env_bool("DJANGO_SECURE_HTTPS", not DEBUG)
if SECURE_HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", str(365 * 24 * 3600)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = _env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = _env_bool("DJANGO_HSTS_PRELOAD", True)

INSTALLED_APPS = [
    "daphne",  # `runserver` serves ASGI (websockets) too
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "rules.apps.AutodiscoverRulesConfig",  # loads each app's rules.py: webapp/studies/rules.py
    "webapp.studies",
    "webapp.play",
    "webapp.policies",
    "webapp.research",  # after studies: its admin extends the study admin
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",  # static files, from every worker
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "webapp.middleware.FriendlyNotFoundMiddleware",  # no technical 404 page for participants, even in DEBUG
]

ROOT_URLCONF = "webapp.urls"
ASGI_APPLICATION = "webapp.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
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

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}",
        conn_max_age=0,
        conn_health_checks=True,
    )
}
# Production on PostgreSQL: a pool of connections per worker. Opening a connection for every
# websocket message costs more than the message's own queries (experiments/load_test.py), and under
# ASGI Django's persistent connections are not an option (each request runs in its own thread).
# With conn_health_checks Django has the pool check a connection before lending it, so one broken
# by a database restart is replaced.
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and _env_bool("DJANGO_DB_POOL", not DEBUG):
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 2, "max_size": int(os.environ.get("DJANGO_DB_POOL_SIZE", "16")),
        # How long a request waits for a connection. While the database is away every request
        # waits this long before failing, and the participant's page shows that it is retrying.
        "timeout": float(os.environ.get("DJANGO_DB_POOL_TIMEOUT", "5")),
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        # Take the write lock at BEGIN: concurrent joins queue up instead of failing mid-way.
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not memory, so that tests with several threads (concurrent joins) share it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}

# channels_redis waits for a consumer's messages with a blocking pop that Redis answers after
# 5 s when none came (the layer's brpop_timeout). redis-py 8 gives every read a 5 s socket timeout
# by default, which races that answer: an idle consumer (one tab sends nothing through the layer)
# was torn down with close code 1011 (django/channels_redis#422). Its reads wait twice as long as
# the pop, so a Redis that has gone away is still noticed.
CHANNEL_LAYER_READ_TIMEOUT_S = 10


def redis_channel_layer(url: str) -> dict:
    return {"BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [{"address": url, "socket_timeout": CHANNEL_LAYER_READ_TIMEOUT_S}]}}


if os.environ.get("REDIS_URL"):
    CHANNEL_LAYERS = {"default": redis_channel_layer(os.environ["REDIS_URL"])}
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# Rate limits (webapp/ratelimit.py) count in the cache, so with REDIS_URL every worker shares them.
if os.environ.get("REDIS_URL"):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                          "LOCATION": os.environ["REDIS_URL"], "KEY_PREFIX": "shaping-lab"}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Model permissions from groups (ModelBackend); per-study permissions from the study's owners and
# collaborators (webapp/studies/rules.py).
AUTHENTICATION_BACKENDS = [
    "rules.permissions.ObjectPermissionBackend",
    "django.contrib.auth.backends.ModelBackend",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT", BASE_DIR / "staticfiles"))
if DEBUG:
    WHITENOISE_USE_FINDERS = True  # serve straight from static/ and the apps: no collectstatic
    WHITENOISE_AUTOREFRESH = True
else:
    # `collectstatic` (run by `make run-prod`) writes hashed, compressed copies that browsers may
    # cache for ever.
    STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_tokens": {"()": "webapp.logs.RedactTokens"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["redact_tokens"]}},
    "root": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "INFO")},
}

# A participant who has not been seen for this long without finishing counts as a drop-out.
SHAPING_LAB_DROPOUT_MINUTES = int(os.environ.get("SHAPING_LAB_DROPOUT_MINUTES", "30"))

# Rate limits (webapp/ratelimit.py): unknown participant tokens per client address and window (page and
# websocket together); play messages per connection, a sustained rate several times what a person
# clicks with room for bursts (a reconnect's resend), and the refused messages in a row that close it.
SHAPING_LAB_UNKNOWN_TOKEN_LIMIT = 30
SHAPING_LAB_UNKNOWN_TOKEN_WINDOW_S = 600
SHAPING_LAB_WS_MESSAGES_PER_S = 10.0
SHAPING_LAB_WS_MESSAGE_BURST = 30
SHAPING_LAB_WS_REFUSED_BEFORE_CLOSE = 100
