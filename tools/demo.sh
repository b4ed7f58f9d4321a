#!/usr/bin/env bash
# The demo: installs what tidemark needs, builds it, and runs `tidemark demo`: an embedded Kafka
# (librdkafka's mock cluster) filled with realistic records, backed up, verified and described.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
bash tools/build.sh release
path="${TIDEMARK_DEMO_PATH:-/tmp/tidemark-demo}"
exec ./build/release/src/tidemark demo --path "$path" "$@"
