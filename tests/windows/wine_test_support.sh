# Shared by the Windows test scripts (sourced, not run): a throwaway Wine prefix, a test PKI made
# with openssl, TAP-like reporting, and waits with deadlines.
#   Before sourcing: wine (the wine64 program) and work (the test's temporary folder).
# shellcheck shell=bash

export WINEPREFIX="$work/wine-prefix" WINEDEBUG=-all
wineserver=$(dirname "$wine")/wineserver

passed=0
fail() {
  echo "FAIL: $*"
  echo "$passed passed, 1 failed"
  exit 1
}
ok() {
  passed=$((passed + 1))
  echo "ok $passed - $*"
}
# A Linux path as a Windows program sees it: Wine's drive Z: is /, written with forward slashes.
windows_path() { echo "Z:$1"; }

# Makes the prefix and keeps one wineserver for the whole test. `wineboot -i` leaves two
# services.exe behind (the one that set the prefix up and the one it restarted), and service
# control requests then alternate between them, every other one failing: so the prefix is made
# with a server of its own, which is waited out, and a persistent server is started afresh.
# A service started through the service control manager also lives only while the server does.
# The first Windows program after that starts the system processes (services.exe among them):
# it runs with system_debug (a WINEDEBUG value) and its standard error, which services.exe and
# the services it starts inherit, goes to system_log.
start_wine_prefix() { # [system_debug system_log]
  mkdir -p "$WINEPREFIX"
  "$wine" wineboot -i >"$work/wineboot.log" 2>&1 || fail "wineboot -i failed: $(cat "$work/wineboot.log")"
  "$wineserver" -w
  "$wineserver" -p || fail "could not start a persistent wineserver"
  WINEDEBUG=${1:--all} "$wine" cmd /c exit 0 2>"${2:-/dev/null}" ||
    fail "the prefix's system processes did not start"
}
stop_wine_prefix() {
  "$wineserver" -k 2>/dev/null || true
}

free_port() {
  local port
  for _ in $(seq 1 100); do
    port=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return
    fi
  done
  fail "no free port on 127.0.0.1"
}

# Runs a command (a shell function or program) every 0.2 s until it succeeds; returns 1 when it
# has not within the given seconds.
wait_for_quietly() { # seconds command...
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}
# The same, failing the test with the message.
wait_for() { # seconds message command...
  local seconds=$1 message=$2
  shift 2
  wait_for_quietly "$seconds" "$@" || fail "$message"
}

# --- PKI -----------------------------------------------------------------------------------------
pki="$work/pki"
make_ca() { # name subject
  mkdir -p "$pki"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
    -subj "/CN=$2" -keyout "$pki/$1.key" -out "$pki/$1.pem" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
    2>/dev/null
}
make_leaf() { # name subject issuer usage [san]
  local extensions="$pki/$1.ext"
  printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n' >"$extensions"
  printf 'extendedKeyUsage=%s\n' "$4" >>"$extensions"
  if [[ -n "${5:-}" ]]; then
    printf 'subjectAltName=%s\n' "$5" >>"$extensions"
  fi
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$2" \
    -keyout "$pki/$1.key" -out "$pki/$1.csr" 2>/dev/null
  openssl x509 -req -in "$pki/$1.csr" -CA "$pki/$3.pem" -CAkey "$pki/$3.key" \
    -CAcreateserial -days 30 -extfile "$extensions" -out "$pki/$1.pem" 2>/dev/null
}
# nginx's $ssl_client_fingerprint: SHA-1, lower-case hex, no colons.
sha1_of() { # name
  openssl x509 -in "$pki/$1.pem" -noout -fingerprint -sha1 | sed 's/.*=//; s/://g' | tr 'A-F' 'a-f'
}
