#!/usr/bin/env bash
# Runs the HTML viewer's tests in headless Chromium (package decomp/render:
# TestHTMLInChromium loads a 1,000-rank 256^3 page over the DevTools protocol)
# and saves a screenshot. Installs Debian's chromium first when no browser is
# found (needs root and apt). Usage: scripts/chromium-test.sh [screenshot.png]
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
if [[ -z ${HILO_CHROMIUM:-} ]] && ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null \
	&& ! command -v google-chrome >/dev/null; then
	apt-get update && apt-get install -y chromium
fi
export HILO_VIEWER_SHOT="${1:-docs/viewer.png}"
go test -count=1 -run 'HTML' -v ./decomp/render/
echo "screenshot: $HILO_VIEWER_SHOT"
