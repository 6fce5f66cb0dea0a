#!/usr/bin/env bash
# Make sure the PostgreSQL tests can run: a server answering on 127.0.0.1:5432, or the server
# binaries (initdb, pg_ctl) from which the tests start a throwaway one. Installs Debian's
# postgresql package when neither is there and we may (root with apt-get).
set -euo pipefail
if (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; then exit 0; fi
if command -v initdb >/dev/null 2>&1 || compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing PostgreSQL server binaries for the tests (apt-get install postgresql)…" >&2
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  exit 0
fi
echo "PostgreSQL tests need a server on 127.0.0.1:5432 or its binaries: install postgresql" >&2
exit 1
