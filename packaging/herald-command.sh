#!/bin/sh
# /usr/bin/herald, as the Debian package installs it: the herald command works on the service's
# data by default. The binary (/usr/lib/herald/herald) reads the service's settings file named by
# HERALD_ENV_FILE (default /etc/herald/herald.env; set it empty to ignore the file); the
# environment and the options --data-dir and --database win over the file.
#
# Run by root on the service's data, the command runs as the herald user (runuser), so that what
# it creates in /var/lib/herald (the database, its journal, the credential key file) stays the
# service's to open. Files named in its arguments must then be readable by the herald user.
set -e
HERALD_ENV_FILE="${HERALD_ENV_FILE-/etc/herald/herald.env}"
export HERALD_ENV_FILE
if [ "$(id -u)" = 0 ] && [ -n "$HERALD_ENV_FILE" ] && [ -z "${HERALD_DATA_DIR-}${HERALD_DATABASE-}" ] && getent passwd herald >/dev/null; then
    case " $* " in
        *" --data-dir"* | *" --database"*) ;;
        *) exec runuser -u herald -- /usr/lib/herald/herald "$@" ;;
    esac
fi
exec /usr/lib/herald/herald "$@"
