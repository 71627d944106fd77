#!/usr/bin/env bash
# Installs Debian's `chromium` for the browser tests (test/ui/browser.test.ts drives it with
# playwright-core, which downloads no browser of its own). Idempotent; CI runs as root on Debian.
set -euo pipefail

if [ ! -x /usr/bin/chromium ]; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi
/usr/bin/chromium --version 2>/dev/null
