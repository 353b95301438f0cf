#!/usr/bin/env bash
# Install everything the tests need on a fresh Debian machine, then run every test:
# unit, app (AppTest), browser (Playwright + Debian's Chromium) and Neo4j (a throwaway
# Neo4j 5 Community server built with Maven and started by the test session).
#
#   bash scripts/test.sh [extra pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v chromium >/dev/null 2>&1; then
    echo "== installing Debian's chromium (browser tests)"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
for tool in java mvn; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "== installing JDK 17 and Maven (Neo4j tests)"
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jdk-headless maven >/dev/null
        break
    fi
done

echo "== installing Python packages (requirements-dev.txt) and this project (editable)"
python3 -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -e .

echo "== running the tests"
exec python3 -m pytest "$@"
