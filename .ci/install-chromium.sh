#!/usr/bin/env bash
# Installs Debian's chromium for the configuration page's browser test (service/browser_test.go), unless it is
# there already. Non-interactive; needs root (as CI runs) or passwordless sudo.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
	exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
	sudo="sudo -n"
fi
export DEBIAN_FRONTEND=noninteractive
echo "installing chromium for the browser test" >&2
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null
/usr/bin/chromium --version >&2
