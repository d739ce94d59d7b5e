#!/bin/sh
# The container's entrypoint (README "Deploying and scaling").
#   entrypoint.sh serve                        migrate once, recover, import, then gunicorn (the default)
#   entrypoint.sh every SECONDS COMMAND [ARGS]  run `manage.py COMMAND ARGS` now and every SECONDS
#   entrypoint.sh sidecar                      the periodic jobs: probe_keys and purge_images
#   entrypoint.sh manage COMMAND [ARGS]        one `manage.py` command (e.g. createsuperuser)
set -eu
cd "$(dirname "$0")/.."

manage() {
    python manage.py "$@"
}

serve() {
    # The same steps as `make setup`, except collectstatic (the image has its static files baked in), all
    # under migrate_once's lock: instances starting together would otherwise race to create the same rows.
    manage migrate_once --then recover_ledger --then import_env --then ensure_superuser
    exec gunicorn imagegen.asgi:application \
        --config python:imagegen.gunicorn_config \
        --workers "${WEB_CONCURRENCY:-2}" \
        --bind "${BIND:-0.0.0.0}:${PORT:-8000}" \
        --access-logfile -
}

every() {
    interval=$1
    shift
    case $interval in
        '' | *[!0-9]*) echo "entrypoint.sh every: '$interval' is not a number of seconds" >&2; exit 2 ;;
    esac
    while :; do
        # One failed run (a database restarting) is logged and the loop goes on; the next run retries.
        manage "$@" || echo "entrypoint.sh: manage.py $* failed (exit $?); next run in ${interval}s" >&2
        sleep "$interval"
    done
}

sidecar() {
    every "${PROBE_KEYS_EVERY:-300}" probe_keys &
    probes=$!
    every "${PURGE_IMAGES_EVERY:-3600}" purge_images &
    purges=$!
    # docker stop sends TERM: end both loops now rather than be killed after the stop timeout.
    trap 'kill "$probes" "$purges" 2>/dev/null || true; exit 0' TERM INT
    wait
}

command=${1:-serve}
[ $# -gt 0 ] && shift
case $command in
    serve) serve ;;
    every) every "$@" ;;
    sidecar) sidecar ;;
    manage) manage "$@" ;;
    *) echo "usage: entrypoint.sh [serve | every SECONDS COMMAND [ARGS...] | sidecar | manage COMMAND [ARGS...]]" >&2; exit 2 ;;
esac
