#!/bin/sh
# Install Debian's chromium for the browser tests (tests/reports/test_report_browser.py).
# Never downloads a browser build of its own; never fails the build: when chromium cannot
# be installed, the browser tests skip and say why.
if command -v chromium >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" = "0" ]; then
    APT=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    APT="sudo -n"
else
    echo "WARNING: chromium is not installed and this user cannot apt-get install it;" \
         "the browser tests will be skipped (install Debian's chromium package)." >&2
    exit 0
fi
echo "installing Debian's chromium for the browser tests" >&2
if ! { $APT apt-get update -qq && \
       DEBIAN_FRONTEND=noninteractive $APT apt-get install -y -qq --no-install-recommends chromium; } \
       >/dev/null; then
    echo "WARNING: apt-get install chromium failed; the browser tests will be skipped." >&2
fi
exit 0
