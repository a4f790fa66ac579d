#!/usr/bin/env bash
# Install the brokers the integration tests start on 127.0.0.1 (tests/helpers/brokers.py): redis-server
# and rabbitmq-server from Debian's packages. The SQS stand-in (moto's server) comes with `uv sync`.
# It also installs chromium, the headless browser the dashboard and HTML report tests open pages in
# (tests/helpers/browser.py, tests/integration/test_dashboard.py).
# The packages' own services are not started: each test session starts its own servers on free ports.
# Without root or apt the tests of a missing broker (or browser) are skipped, each saying why.
set -euo pipefail
missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || missing+=(rabbitmq-server)
command -v chromium >/dev/null || missing+=(chromium)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "install-brokers: ${missing[*]} missing and cannot be installed here (needs root and apt); their tests will be skipped" >&2
  exit 0
fi
# Keep the packages from starting their system services (a policy-rc.d that refuses every start).
policy=/usr/sbin/policy-rc.d
had_policy=0
[ -e "$policy" ] && had_policy=1
if [ $had_policy -eq 0 ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy"
  chmod +x "$policy"
fi
trap '[ $had_policy -eq 0 ] && rm -f "$policy"' EXIT
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-brokers: installed ${missing[*]}"
