#!/usr/bin/env bash
# Make sure the MQTT tests can run: a broker answering on 127.0.0.1:1883, or the mosquitto
# binary from which the tests start a throwaway one. Installs Debian's mosquitto package when
# neither is there and we may (root with apt-get).
set -euo pipefail
if (exec 3<>/dev/tcp/127.0.0.1/1883) 2>/dev/null; then exit 0; fi
if command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ]; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing the Mosquitto MQTT broker for the tests (apt-get install mosquitto)…" >&2
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto >/dev/null
  exit 0
fi
echo "MQTT tests need a broker on 127.0.0.1:1883 or the mosquitto binary: install mosquitto" >&2
exit 1
