#!/usr/bin/env bash
# Runs Berth's test suite (npm test runs this too). Needs what scripts/up.sh installs; makes sure
# dockerd runs and the offline base images exist, then runs every test/*.test.ts with Node 24's
# test runner, one file at a time (they share dockerd and host ports). Each test starts its own
# private Caddy and Berth server, so the ones up.sh runs are neither needed nor touched.
#
#   bash scripts/test.sh                 # all tests
#   bash scripts/test.sh test/x.test.ts  # some
#
# The exit code is the test runner's.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$BERTH_ROOT"
test_started=$(date +%s)

node24_ok || fail "Node 24 is not installed in $BERTH_NODE_DIR: run scripts/up.sh first"
use_node24
# Every test file, test server, CLI run and issue-admin-token is a Node process that compiles the same
# sources: Node's compile cache (keyed by each file's contents, TypeScript included) keeps that work
# across them and across runs (docs/benchmarks.md, "test suite wall time"). NODE_DISABLE_COMPILE_CACHE=1 turns it off.
export NODE_COMPILE_CACHE="${NODE_COMPILE_CACHE:-${TMPDIR:-/tmp}/berth-test-compile-cache}"
[ -d node_modules ] || fail "node_modules is missing: run scripts/up.sh first"
for tool in caddy docker-registry curl; do
  command -v "$tool" >/dev/null || fail "$tool is not installed: run scripts/up.sh first"
done

mkdir -p "$BERTH_LOG_DIR"
ensure_dockerd

if ! bash scripts/base-images.sh >>"$BERTH_LOG_DIR/base-images.log" 2>&1; then
  show_log_tail "$BERTH_LOG_DIR/base-images.log"
  fail "scripts/base-images.sh failed"
fi
ok "base images present (berth/debian:bookworm, berth/node:24, berth/python:3, berth/go:1, berth/postgres:15, berth/redis:7, berth/mariadb:10, berth-test/hello:latest)"

# Test servers and the CLI run from the shipped bundles, built now from these sources (a few seconds): a start from it costs
# a third of a start from sources (docs/benchmarks.md, "test suite wall time"). BERTH_TEST_FROM_SOURCES=1 runs the sources.
if [ "${BERTH_TEST_FROM_SOURCES:-}" != 1 ]; then
  node scripts/build.mjs --bundles >>"$BERTH_LOG_DIR/test-build.log" 2>&1 || { show_log_tail "$BERTH_LOG_DIR/test-build.log"; fail "the bundles did not build"; }
  export BERTH_TEST_SERVER_ENTRY="$BERTH_ROOT/dist/berth-server.mjs" BERTH_TEST_CLI_ENTRY="$BERTH_ROOT/dist/berth.mjs"
  ok "test servers and CLI runs use dist/berth-server.mjs and dist/berth.mjs (built from these sources)"
fi

# Tests must never pick up the installed server's settings (its data dir, ports, Caddy).
unset "${BERTH_SERVER_SETTINGS[@]}"

files=("$@")
shopt -s nullglob
[ ${#files[@]} -gt 0 ] || files=(test/*.test.ts test/*/*.test.ts)
shopt -u nullglob

# The Kubernetes scheduler's tests need the test cluster (shared/k8s), handed to them as BERTH_TEST_KUBECONFIG.
# .ci/run starts it once and passes that on; otherwise it is started here when a chosen test needs it, and
# stopped at the end only if this run started it (a cluster that was already up is left as it was).
if [ -z "${BERTH_TEST_KUBECONFIG:-}" ] && grep -qls 'k8s-cluster.ts' "${files[@]}"; then
  if ! kit=$(k8s_kit_dir); then
    warn "no Kubernetes test cluster kit at ${BERTH_K8S_KIT:-$BERTH_ROOT/../shared/k8s}: the k8s tests $([ "${CI:-}" = true ] && echo fail || echo skip)"
  else
    k8s_kit_running || trap '"$kit/stop.sh" >>"$BERTH_LOG_DIR/k8s-kit.log" 2>&1 || warn "k8s kit stop.sh failed (see $BERTH_LOG_DIR/k8s-kit.log)"' EXIT
    if BERTH_TEST_KUBECONFIG=$("$kit/start.sh" 2>>"$BERTH_LOG_DIR/k8s-kit.log"); then
      export BERTH_TEST_KUBECONFIG
      ok "Kubernetes test cluster up ($BERTH_TEST_KUBECONFIG)"
    else
      show_log_tail "$BERTH_LOG_DIR/k8s-kit.log"
      warn "the Kubernetes test cluster did not start: the k8s tests $([ "${CI:-}" = true ] && echo fail || echo skip)"
      unset BERTH_TEST_KUBECONFIG
    fi
  fi
fi
echo "running ${#files[@]} test file(s) with node $(node --version)"

# A test that hangs (a wedged engine, say) must not eat CI's whole time budget: each test gets
# BERTH_TEST_TIMEOUT_MS (10 minutes), far above what any test needs.
report=$(mktemp /tmp/berth-test-report.XXXXXX)
set +e
node --test --test-concurrency=1 --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=./scripts/test-file-times.mjs --test-reporter-destination=stdout \
  --test-timeout="${BERTH_TEST_TIMEOUT_MS:-600000}" "${files[@]}" 2>&1 | tee "$report"
rc=${PIPESTATUS[0]}
set -e

# One plain summary line from the runner's own counts, easy to find at the end of a long log.
passed=$(sed -n 's/^ℹ pass \([0-9]*\)$/\1/p' "$report" | tail -n 1)
failed=$(sed -n 's/^ℹ fail \([0-9]*\)$/\1/p' "$report" | tail -n 1)
rm -f "$report"
took=$(( $(date +%s) - test_started ))
echo "tests: ${passed:-0} passed, ${failed:-0} failed"
printf 'test.sh: exit %d after %dm%02ds\n' "$rc" $((took / 60)) $((took % 60))
exit "$rc"
