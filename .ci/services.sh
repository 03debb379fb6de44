# shellcheck shell=bash
# .ci/services.sh: installs and starts the local servers the AWS backends are
# tested against, then exports where they are. Meant to be SOURCED (by
# .ci/run, or by hand) from bash with WORK set, $WORK/bin on PATH and
# $WORK/logs existing:
#
#   WORK=$PWD/.ci-work; mkdir -p "$WORK/bin" "$WORK/logs"; PATH=$WORK/bin:$PATH
#   source .ci/services.sh        # installs if needed, starts, exports
#   go test ./lake/storage/s3/ ./lake/lineage/dynamo/
#   tierflow_ci_cleanup           # or let the EXIT trap do it
#
# Servers (loopback only, free ports picked at start, fresh empty state):
#   S3        versitygw v1.8.0, posix backend in a temp dir under $WORK
#             (go install outside our module: ~2.5 min on a cold Go cache,
#             seconds when warm; skipped when $WORK/bin/versitygw is v1.8.0)
#   DynamoDB  dynalite 4.0.0 in memory (npm into $WORK/npm, a few seconds;
#             skipped when present). tierflow uses no transactions, so
#             dynalite's missing TransactWriteItems does not matter.
#   moto      moto_server 5.2.1 (S3, KMS, Glue, DynamoDB, Step Functions,
#             ECS, Scheduler, IAM, STS: AWS implementations written by
#             others), twice: one open (any key works) and one that
#             enforces IAM policies, bootstrapped with an admin user. Two,
#             because enforcement is global to a moto process and its S3
#             miscomputes SigV4 for a ListObjectsV2 whose prefix holds "/".
#             python3 -m pip install 'moto[server]==5.2.1' when missing
#             (about 20 s).
# Exports: TIERFLOW_TEST_S3_ENDPOINT, TIERFLOW_TEST_S3_ACCESS_KEY,
#          TIERFLOW_TEST_S3_SECRET_KEY, TIERFLOW_TEST_DYNAMODB_ENDPOINT,
#          TIERFLOW_TEST_MOTO_ENDPOINT, TIERFLOW_TEST_MOTO_IAM_ENDPOINT,
#          TIERFLOW_TEST_MOTO_IAM_ACCESS_KEY, TIERFLOW_TEST_MOTO_IAM_SECRET_KEY.
#
# Cleanup: tierflow_ci_cleanup stops the servers (by their PIDs, nothing
# else) and removes the S3 data; it is idempotent. Sourcing also ADDS it to
# the shell's EXIT trap, keeping whatever trap is already there. A caller
# that owns its trap sets TIERFLOW_CI_TRAP=0 before sourcing and calls
# tierflow_ci_cleanup from its own EXIT trap; a caller that installs a new
# EXIT trap after sourcing must do the same, or the servers outlive it.
#
# Sourcing twice in one shell reuses servers that are still alive.

: "${WORK:?services.sh: set WORK (e.g. WORK=\$PWD/.ci-work) before sourcing}"

TIERFLOW_VERSITYGW_VERSION=v1.8.0
TIERFLOW_DYNALITE_VERSION=4.0.0
TIERFLOW_MOTO_VERSION=5.2.1

# tierflow_ci_wait_port HOST PORT SECONDS: waits until something accepts
# TCP connections on HOST:PORT.
tierflow_ci_wait_port() {
  local i
  for ((i = 0; i < $3 * 20; i++)); do
    if (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  return 1
}

# tierflow_ci_free_port: prints a loopback port nobody listens on (random,
# so parallel CI jobs on one machine rarely pick the same one; the caller
# still checks its server survived, see tierflow_ci_start).
tierflow_ci_free_port() {
  local p i
  for ((i = 0; i < 50; i++)); do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
  done
  echo "services.sh: no free port found" >&2
  return 1
}

# tierflow_ci_install: installs what is missing.
tierflow_ci_install() {
  local bin="$WORK/bin/versitygw"
  if ! { [ -x "$bin" ] && go version -m "$bin" 2>/dev/null | grep -q "github.com/versity/versitygw[[:space:]]*$TIERFLOW_VERSITYGW_VERSION"; }; then
    echo "services.sh: installing versitygw $TIERFLOW_VERSITYGW_VERSION (about 2.5 min on a cold Go cache)" >&2
    # Outside our module: its dependencies (Azure, Kafka, NATS, LDAP...)
    # must never reach our go.mod.
    (cd /tmp && GOFLAGS=-mod=mod GOBIN="$WORK/bin" go install -ldflags="-s -w" \
      "github.com/versity/versitygw/cmd/versitygw@$TIERFLOW_VERSITYGW_VERSION") \
      >"$WORK/logs/versitygw-install.log" 2>&1 || {
      echo "services.sh: versitygw install failed; see $WORK/logs/versitygw-install.log" >&2
      tail -5 "$WORK/logs/versitygw-install.log" >&2
      return 1
    }
  fi
  if ! grep -q "\"version\": \"$TIERFLOW_DYNALITE_VERSION\"" "$WORK/npm/node_modules/dynalite/package.json" 2>/dev/null; then
    echo "services.sh: installing dynalite $TIERFLOW_DYNALITE_VERSION" >&2
    npm install --prefix "$WORK/npm" --no-audit --no-fund --loglevel=error \
      "dynalite@$TIERFLOW_DYNALITE_VERSION" >"$WORK/logs/dynalite-install.log" 2>&1 || {
      echo "services.sh: dynalite install failed; see $WORK/logs/dynalite-install.log" >&2
      tail -5 "$WORK/logs/dynalite-install.log" >&2
      return 1
    }
  fi
  if ! tierflow_ci_has_moto; then
    command -v python3 >/dev/null || {
      echo "services.sh: moto needs python3 (3.9 or later): install it, then pip install 'moto[server]==$TIERFLOW_MOTO_VERSION'" >&2
      return 1
    }
    echo "services.sh: installing moto $TIERFLOW_MOTO_VERSION (pip install 'moto[server]==$TIERFLOW_MOTO_VERSION')" >&2
    python3 -m pip install --quiet --disable-pip-version-check "moto[server]==$TIERFLOW_MOTO_VERSION" \
      >"$WORK/logs/moto-install.log" 2>&1 && tierflow_ci_has_moto || {
      echo "services.sh: moto install failed; see $WORK/logs/moto-install.log. Install it by hand:" \
        "python3 -m pip install 'moto[server]==$TIERFLOW_MOTO_VERSION' (moto_server must be on PATH)" >&2
      tail -5 "$WORK/logs/moto-install.log" >&2
      return 1
    }
  fi
}

# tierflow_ci_has_moto: is moto $TIERFLOW_MOTO_VERSION installed, with
# moto_server on PATH?
tierflow_ci_has_moto() {
  command -v moto_server >/dev/null &&
    [ "$(python3 -c 'import moto; print(moto.__version__)' 2>/dev/null)" = "$TIERFLOW_MOTO_VERSION" ]
}

# tierflow_ci_moto_admin ENDPOINT: creates an IAM user allowed everything
# on a moto that enforces IAM from its 4th request on, and prints its
# access key id and secret. The first three requests (these) are not
# authenticated, so nothing may reach the server before them.
tierflow_ci_moto_admin() {
  python3 - "$1" <<'EOF'
import json, sys
import boto3
iam = boto3.client("iam", endpoint_url=sys.argv[1], region_name="us-east-1",
                   aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")
iam.create_user(UserName="tierflow-ci-admin")
iam.put_user_policy(UserName="tierflow-ci-admin", PolicyName="everything", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
key = iam.create_access_key(UserName="tierflow-ci-admin")["AccessKey"]
print(key["AccessKeyId"], key["SecretAccessKey"])
EOF
}

# tierflow_ci_start NAME LOG CMD...: starts CMD (which must contain the
# literal word PORT, replaced by a free port) in the background, waits for
# the port, and checks that OUR process is the one listening: a server that
# finds its port taken exits while the other one keeps answering. Sets
# TIERFLOW_CI_STARTED_PORT and TIERFLOW_CI_STARTED_PID.
tierflow_ci_start() {
  local name=$1 log=$2 attempt port pid arg
  shift 2
  for attempt in 1 2 3; do
    port=$(tierflow_ci_free_port) || return 1
    local cmd=()
    for arg in "$@"; do cmd+=("${arg//PORT/$port}"); done
    "${cmd[@]}" >"$log" 2>&1 &
    pid=$!
    TIERFLOW_CI_PIDS+=("$pid")
    if tierflow_ci_wait_port 127.0.0.1 "$port" 30 && sleep 0.1 && kill -0 "$pid" 2>/dev/null; then
      TIERFLOW_CI_STARTED_PORT=$port TIERFLOW_CI_STARTED_PID=$pid
      return 0
    fi
    echo "services.sh: $name did not come up on port $port (attempt $attempt); log:" >&2
    tail -5 "$log" >&2
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  return 1
}

# tierflow_ci_cleanup: stops the servers this script started and removes
# the S3 data. Safe to call more than once.
tierflow_ci_cleanup() {
  local p
  for p in "${TIERFLOW_CI_PIDS[@]:-}"; do
    [ -n "$p" ] || continue
    kill "$p" 2>/dev/null || true
  done
  for p in "${TIERFLOW_CI_PIDS[@]:-}"; do
    [ -n "$p" ] || continue
    wait "$p" 2>/dev/null || true
  done
  TIERFLOW_CI_PIDS=()
  if [ -n "${TIERFLOW_CI_S3_DIR:-}" ]; then
    rm -rf "$TIERFLOW_CI_S3_DIR"
    TIERFLOW_CI_S3_DIR=
  fi
  unset TIERFLOW_TEST_S3_ENDPOINT TIERFLOW_TEST_S3_ACCESS_KEY TIERFLOW_TEST_S3_SECRET_KEY TIERFLOW_TEST_DYNAMODB_ENDPOINT \
    TIERFLOW_TEST_MOTO_ENDPOINT TIERFLOW_TEST_MOTO_IAM_ENDPOINT TIERFLOW_TEST_MOTO_IAM_ACCESS_KEY TIERFLOW_TEST_MOTO_IAM_SECRET_KEY
}

# tierflow_ci_services: installs, starts and exports (see the header).
tierflow_ci_services() {
  local alive=1 p
  if [ "${#TIERFLOW_CI_PIDS[@]}" -eq 4 ] && [ -n "${TIERFLOW_TEST_MOTO_IAM_ENDPOINT:-}" ]; then
    for p in "${TIERFLOW_CI_PIDS[@]}"; do kill -0 "$p" 2>/dev/null || alive=0; done
    if [ "$alive" = 1 ]; then return 0; fi
  fi
  tierflow_ci_cleanup
  mkdir -p "$WORK/bin" "$WORK/logs"
  tierflow_ci_install || return 1

  # S3: versitygw on a fresh data directory (it must exist before start).
  TIERFLOW_CI_S3_DIR=$(mktemp -d "$WORK/s3.XXXXXX") || return 1
  local access=tierflow secret
  secret=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
  ROOT_ACCESS_KEY=$access ROOT_SECRET_KEY=$secret tierflow_ci_start versitygw "$WORK/logs/versitygw.log" \
    "$WORK/bin/versitygw" --port 127.0.0.1:PORT --quiet posix "$TIERFLOW_CI_S3_DIR" || { tierflow_ci_cleanup; return 1; }
  export TIERFLOW_TEST_S3_ENDPOINT="http://127.0.0.1:$TIERFLOW_CI_STARTED_PORT"
  export TIERFLOW_TEST_S3_ACCESS_KEY=$access TIERFLOW_TEST_S3_SECRET_KEY=$secret

  # DynamoDB: dynalite in memory; table operations complete at once.
  tierflow_ci_start dynalite "$WORK/logs/dynalite.log" \
    "$WORK/npm/node_modules/.bin/dynalite" --host 127.0.0.1 --port PORT \
    --createTableMs 0 --deleteTableMs 0 --updateTableMs 0 || { tierflow_ci_cleanup; return 1; }
  export TIERFLOW_TEST_DYNAMODB_ENDPOINT="http://127.0.0.1:$TIERFLOW_CI_STARTED_PORT"

  # moto, open: any credentials work.
  tierflow_ci_start moto "$WORK/logs/moto.log" moto_server -H 127.0.0.1 -p PORT || { tierflow_ci_cleanup; return 1; }
  export TIERFLOW_TEST_MOTO_ENDPOINT="http://127.0.0.1:$TIERFLOW_CI_STARTED_PORT"
  # moto enforcing IAM after the three bootstrap requests.
  INITIAL_NO_AUTH_ACTION_COUNT=3 tierflow_ci_start moto-iam "$WORK/logs/moto-iam.log" \
    moto_server -H 127.0.0.1 -p PORT || { tierflow_ci_cleanup; return 1; }
  local admin
  admin=$(tierflow_ci_moto_admin "http://127.0.0.1:$TIERFLOW_CI_STARTED_PORT") || {
    echo "services.sh: could not create moto's admin user; see $WORK/logs/moto-iam.log" >&2
    tierflow_ci_cleanup
    return 1
  }
  export TIERFLOW_TEST_MOTO_IAM_ENDPOINT="http://127.0.0.1:$TIERFLOW_CI_STARTED_PORT"
  export TIERFLOW_TEST_MOTO_IAM_ACCESS_KEY=${admin% *} TIERFLOW_TEST_MOTO_IAM_SECRET_KEY=${admin#* }
  echo "services.sh: S3 (versitygw) at $TIERFLOW_TEST_S3_ENDPOINT, DynamoDB (dynalite) at $TIERFLOW_TEST_DYNAMODB_ENDPOINT," \
    "moto at $TIERFLOW_TEST_MOTO_ENDPOINT, moto enforcing IAM at $TIERFLOW_TEST_MOTO_IAM_ENDPOINT" >&2
}

# tierflow_ci_add_trap: runs tierflow_ci_cleanup on exit, before whatever
# EXIT trap the shell already has.
tierflow_ci_add_trap() {
  local existing prev=
  existing=$(trap -p EXIT)
  case "$existing" in
    *tierflow_ci_cleanup*) return 0 ;;
  esac
  if [ -n "$existing" ]; then
    existing=${existing#trap -- }
    existing=${existing% EXIT}
    eval "prev=$existing" # trap -p quotes the command for the shell
  fi
  # shellcheck disable=SC2064 # expand prev now, on purpose
  trap "tierflow_ci_cleanup${prev:+; $prev}" EXIT
}

if [ -z "${TIERFLOW_CI_PIDS+set}" ]; then TIERFLOW_CI_PIDS=(); fi
tierflow_ci_services || return 1 2>/dev/null || exit 1
if [ "${TIERFLOW_CI_TRAP:-1}" != 0 ]; then tierflow_ci_add_trap; fi
