#!/usr/bin/env bash
# A deploy step for any CI (GitLab, Jenkins, Buildkite, a cron job): create the version, follow the
# rollout, and let the exit code decide the build.
#   GANTRY_URL, GANTRY_KEY_ID, GANTRY_KEY_SECRET  where Gantry is and the key (versions:write is enough)
#   TAG                                           the version to roll out (defaults to the commit)
set -euo pipefail

TAG="${TAG:-$(git rev-parse --short HEAD)}"

# Optional: keep the delivery configuration in git and apply it first (needs an admin key).
# npx gantry apply -f gantry.yaml

set +e
npx gantry version create \
  --deployment api \
  --tag "$TAG" \
  --metadata "commit=$(git rev-parse HEAD)" \
  --metadata "pipeline=${CI_PIPELINE_URL:-local}" \
  --wait --timeout 30m
code=$?
set -e

case "$code" in
  0) echo "api $TAG is live everywhere" ;;
  1) echo "api $TAG failed or rolled back on some target; see: npx gantry status --deployment api" >&2 ;;
  2) echo "gantry was called wrongly (usage error)" >&2 ;;
  3) echo "api $TAG is still rolling out after 30m; it goes on without this build" >&2 ;;
esac
exit "$code"
