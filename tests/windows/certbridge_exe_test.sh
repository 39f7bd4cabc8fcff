#!/usr/bin/env bash
# certbridge.exe end to end under Wine, and real nginx on Linux serving exactly the files it wrote.
#   certbridge_exe_test.sh WINE CERTBRIDGE.EXE CERTBRIDGE_TEST_STORE.EXE CERTBRIDGE_TEST_COMMAND.EXE
#
# In a throwaway Wine prefix, certbridge_test_store.exe puts a client CA into the current user's
# Root store and trusted clients into a store of the test's own (CertbridgeTestClients) with
# CertAddEncodedCertificateToStore, as an administrator's tool would; certbridge.exe reads them
# through CryptoAPI and writes client-ca.pem, clients.map and mtls.conf into a folder given with
# forward slashes (Z:/tmp/...). Then a real nginx on 127.0.0.1 includes those very files:
# a trusted client gets 200, a client of the trusted CA that is in no store 403, a client of a
# CA that is not trusted 400 (refused by the TLS layer).
#
# Under Wine a Windows process can start a Linux program but cannot read its exit code
# (GetExitCodeProcess fails), so certbridge.exe's test_command and reload_command are
# certbridge_test_command.exe, a Windows program that records each call and exits with the code
# it is given; nginx's real verdict on the files comes from the Linux side (nginx -t, a served
# handshake), and the Linux side reloads nginx after each publish. Last, certbridge.exe run: its
# web page from Linux, a store change through the registry watch, a login and a trust change
# (block, approve) through the web page with curl, and a clean stop on SIGINT.
set -euo pipefail

wine=$1
certbridge_exe=$(realpath "$2")
store_exe=$(realpath "$3")
command_exe=$(realpath "$4")
work=$(mktemp -d /tmp/certbridge-windows-e2e.XXXXXX)
# shellcheck source=wine_test_support.sh
source "$(dirname "$0")/wine_test_support.sh"
nginx_prefix="$work/nginx"

cleanup() {
  if [[ -f "$nginx_prefix/logs/nginx.pid" ]]; then
    nginx -p "$nginx_prefix" -c "$nginx_prefix/conf/nginx.conf" -s stop 2>/dev/null || true
  fi
  stop_wine_prefix
  rm -rf "$work"
}
trap cleanup EXIT

run_windows() { "$wine" "$@"; }

# --- PKI -----------------------------------------------------------------------------------------
make_ca client-ca "certbridge e2e client CA"
make_ca rogue-ca "certbridge e2e untrusted CA"
make_ca server-ca "certbridge e2e server CA"
make_leaf alice "alice" client-ca clientAuth
make_leaf bob "bob" client-ca clientAuth
make_leaf stranger "stranger" client-ca clientAuth
make_leaf mallory "mallory" rogue-ca clientAuth
make_leaf server "127.0.0.1" server-ca serverAuth IP:127.0.0.1
ok "test PKI made with openssl"

# --- The command line ----------------------------------------------------------------------------
help_output=$(run_windows "$certbridge_exe" --help 2>&1) ||
  fail "certbridge.exe --help exited non-zero: $help_output"
grep -q 'sync --once' <<<"$help_output" || fail "--help does not list sync --once: $help_output"
ok "certbridge.exe --help"
version_output=$(run_windows "$certbridge_exe" --version 2>&1) ||
  fail "certbridge.exe --version exited non-zero: $version_output"
grep -q '^certbridge [0-9]' <<<"$version_output" || fail "--version printed: $version_output"
ok "certbridge.exe --version: $version_output"

# --- The stores ----------------------------------------------------------------------------------
"$wineserver" -p # one wineserver for the whole test instead of one per program
store() { run_windows "$store_exe" "$@"; }
store add Root "$(windows_path "$pki/client-ca.pem")" "certbridge e2e client CA" ||
  fail "could not add the client CA to Root"
store add CertbridgeTestClients "$(windows_path "$pki/alice.pem")" "alice" ||
  fail "could not add alice to CertbridgeTestClients"
ok "client CA in current_user Root, alice in current_user CertbridgeTestClients"

# --- certbridge.exe sync --once ------------------------------------------------------------------
out="$work/out"
calls="$work/calls.txt"
mkdir -p "$out" "$work/state"
: >"$calls"
write_config() { # test-exit-code
  local command
  command="$(windows_path "$command_exe") $(windows_path "$calls")"
  cat >"$work/certbridge.ini" <<EOF
[storage]
path = $(windows_path "$work/state/certbridge.db")

[store.windows]
type = cryptoapi
location = current_user
stores = Root, CertbridgeTestClients
policy = auto

[nginx]
output_dir = $(windows_path "$out")
working_directory = $(windows_path "$work")
test_command = $command $1 test
reload_command = $command 0 reload

[web]
enabled = false

# Wine fills the prefix's Root store with the host's public roots, whose CRLs cannot be fetched
# here (no network): CRLs are proven on Linux, this test is about CryptoAPI and the files.
[crl]
enabled = false
EOF
}
certbridge() { run_windows "$certbridge_exe" --config "$(windows_path "$work/certbridge.ini")" "$@"; }

write_config 0
sync_output=$(certbridge sync --once 2>&1) || fail "sync --once failed: $sync_output"
ok "certbridge.exe sync --once: $sync_output"
for file in client-ca.pem clients.map mtls.conf; do
  [[ -s "$out/$file" ]] || fail "$out/$file was not written"
done
ca_body=$(sed -n '/BEGIN/,/END/p' "$pki/client-ca.pem")
grep -qF "$(sed -n 2p <<<"$ca_body")" "$out/client-ca.pem" ||
  fail "client-ca.pem does not hold the client CA from Root"
alice_sha1=$(openssl x509 -in "$pki/alice.pem" -noout -fingerprint -sha1 |
  sed 's/.*=//; s/://g' | tr 'A-F' 'a-f')
grep -q "$alice_sha1" "$out/clients.map" || fail "clients.map does not list alice ($alice_sha1)"
grep -qF "ssl_client_certificate \"$(windows_path "$out")/client-ca.pem\";" "$out/mtls.conf" ||
  fail "mtls.conf does not name client-ca.pem with forward slashes: $(cat "$out/mtls.conf")"
if grep -qF "\\" "$out/mtls.conf"; then
  fail "mtls.conf holds a backslash, which nginx reads as an escape: $(cat "$out/mtls.conf")"
fi
ok "client-ca.pem holds the CA from Root, clients.map alice, mtls.conf forward-slash paths"
[[ "$(tr -d '\r' <"$calls")" == $'test\nreload' ]] ||
  fail "expected test_command then reload_command, recorded: $(cat "$calls")"
ok "test_command ran, then reload_command"

# The default output_dir is Linux's /etc/nginx/certbridge, no absolute path on Windows: a
# configuration that leaves it out is refused with a message naming the key (README says so).
sed '/^output_dir = /d' "$work/certbridge.ini" >"$work/no-output-dir.ini"
if no_output_dir=$(run_windows "$certbridge_exe" --config "$(windows_path "$work/no-output-dir.ini")" \
  sync --once 2>&1); then
  fail "sync --once accepted a configuration without output_dir: $no_output_dir"
fi
grep -q "nginx.output_dir' is '/etc/nginx/certbridge'; expected an absolute path" <<<"$no_output_dir" ||
  fail "no clear message for the missing output_dir: $no_output_dir"
ok "without [nginx] output_dir: refused, naming nginx.output_dir and its Linux default"

# --- Real nginx on those files -------------------------------------------------------------------
# mtls.conf names Z:/tmp/.../client-ca.pem. nginx on Linux takes a path not starting with / as
# relative to its configuration folder, where Z: is a link to /: so nginx reads exactly the
# files certbridge.exe wrote, under the very names it wrote into mtls.conf.
mkdir -p "$nginx_prefix/conf" "$nginx_prefix/logs"
ln -s / "$nginx_prefix/conf/Z:"
port=$(free_port)
cat >"$nginx_prefix/conf/nginx.conf" <<EOF
pid $nginx_prefix/logs/nginx.pid;
error_log $nginx_prefix/logs/error.log info;
worker_processes 1;
events { worker_connections 128; }
http {
  access_log off;
  include $(windows_path "$out")/clients.map;
  server {
    listen 127.0.0.1:$port ssl;
    ssl_certificate $pki/server.pem;
    ssl_certificate_key $pki/server.key;
    include $(windows_path "$out")/mtls.conf;
    location / { return 200 "hello \$ssl_client_s_dn\n"; }
  }
}
EOF
nginx_command=(nginx -p "$nginx_prefix" -c "$nginx_prefix/conf/nginx.conf" -e "$nginx_prefix/logs/error.log")
nginx_test=$("${nginx_command[@]}" -t 2>&1) || fail "nginx -t refused the files: $nginx_test"
ok "nginx -t accepts certbridge.exe's files"
"${nginx_command[@]}" || fail "nginx did not start: $(cat "$nginx_prefix/logs/error.log")"

status_for() { # client (empty: none)
  local arguments=(-s -o /dev/null -w '%{http_code}' --max-time 5 --cacert "$pki/server-ca.pem")
  if [[ -n "$1" ]]; then
    arguments+=(--cert "$pki/$1.pem" --key "$pki/$1.key")
  fi
  curl "${arguments[@]}" "https://127.0.0.1:$port/" || true
}
# nginx reloads asynchronously: wait (with a deadline) until the new workers answer as expected.
expect_status() { # expected client
  local seen deadline=$((SECONDS + 15))
  while :; do
    seen=$(status_for "$2")
    [[ "$seen" == "$1" ]] && return 0
    ((SECONDS < deadline)) || fail "${2:-no certificate}: expected $1, nginx answered $seen"
    sleep 0.2
  done
}
expect_status 200 alice
ok "alice (trusted, in CertbridgeTestClients): 200"
expect_status 403 stranger
ok "stranger (issued by the trusted CA, in no store): 403"
expect_status 400 mallory
ok "mallory (issued by a CA that is not trusted): 400"

# --- A failing test_command: the previous files stay ---------------------------------------------
cp "$out/clients.map" "$work/clients.map.before"
cp "$out/client-ca.pem" "$work/client-ca.pem.before"
store add CertbridgeTestClients "$(windows_path "$pki/bob.pem")" "bob" ||
  fail "could not add bob to CertbridgeTestClients"
write_config 1
: >"$calls"
if failed_output=$(certbridge sync --once 2>&1); then
  fail "sync --once succeeded although test_command exited 1: $failed_output"
fi
grep -q 'sync failed' <<<"$failed_output" || fail "no 'sync failed' message: $failed_output"
cmp -s "$out/clients.map" "$work/clients.map.before" ||
  fail "clients.map changed although test_command failed"
cmp -s "$out/client-ca.pem" "$work/client-ca.pem.before" ||
  fail "client-ca.pem changed although test_command failed"
grep -qx test <(tr -d '\r' <"$calls") || fail "test_command was not run: $(cat "$calls")"
if grep -qx reload <(tr -d '\r' <"$calls"); then
  fail "nginx was reloaded although test_command failed: $(cat "$calls")"
fi
ok "test_command exit 1: sync --once exits 1 ($(head -n 1 <<<"$failed_output")), files restored, no reload"
if status_output=$(certbridge status 2>&1); then
  fail "status exits 0 after a failed publish: $status_output"
fi
grep -q 'test: exit 1' <<<"$status_output" ||
  fail "status does not show the test command's output: $status_output"
ok "status exits 1 and shows the test command's own output"

# --- The next good publish reaches nginx ---------------------------------------------------------
write_config 0
: >"$calls"
sync_output=$(certbridge sync --once 2>&1) || fail "sync --once failed: $sync_output"
[[ "$(tr -d '\r' <"$calls")" == $'test\nreload' ]] ||
  fail "expected test_command then reload_command, recorded: $(cat "$calls")"
"${nginx_command[@]}" -s reload || fail "nginx -s reload failed"
expect_status 200 bob
expect_status 200 alice
ok "bob added: after the next sync and nginx's reload, bob 200 and alice still 200"

store remove CertbridgeTestClients "$(windows_path "$pki/alice.pem")" ||
  fail "could not remove alice from CertbridgeTestClients"
sync_output=$(certbridge sync --once 2>&1) || fail "sync --once failed: $sync_output"
"${nginx_command[@]}" -s reload || fail "nginx -s reload failed"
expect_status 403 alice
expect_status 200 bob
ok "alice removed from the store: 403 after the next sync and reload; bob still 200"

# --- certbridge.exe run: the registry watch and the web page ----------------------------------
# Under run, a change to a store reaches the files through the registry watch (no sync interval
# in between: the interval is an hour), the web page answers from Linux, and Ctrl-C (SIGINT,
# which Wine hands to the console program as CTRL_C_EVENT) stops it cleanly.
web_port=$(free_port)
# The administrator's password, hashed by certbridge.exe itself, read from a pipe.
web_password=windows-e2e-password
password_hash=$(printf '%s\n' "$web_password" | run_windows "$certbridge_exe" hash-password 2>&1 |
  tr -d '\r') || fail "certbridge.exe hash-password failed: $password_hash"
sed -e "/^\[web\]/,/^enabled/ s/^enabled = false/enabled = true\nlisten = 127.0.0.1:$web_port\nadmin_password_hash = $password_hash/" \
  -e "s/^\[storage\]/[sync]\ninterval = 3600\n\n[storage]/" "$work/certbridge.ini" >"$work/run.ini"
"$wine" "$certbridge_exe" --config "$(windows_path "$work/run.ini")" run >"$work/run.log" 2>&1 &
run_pid=$!
healthz=""
for _ in $(seq 1 120); do
  healthz=$(curl -s -m 2 "http://127.0.0.1:$web_port/healthz" || true)
  [[ "$healthz" == *'"status":"ok"'* ]] && break
  sleep 0.25
done
[[ "$healthz" == *'"status":"ok"'* ]] ||
  fail "run: /healthz did not answer ok within 30 s: $healthz; log: $(tail -n 5 "$work/run.log")"
ok "certbridge.exe run: the web page answers /healthz from Linux: $healthz"

alice_sha1=$(openssl x509 -in "$pki/alice.pem" -noout -fingerprint -sha1 |
  sed 's/.*=//; s/://g' | tr 'A-F' 'a-f')
started=$(date +%s%N)
store add CertbridgeTestClients "$(windows_path "$pki/alice.pem")" "alice" ||
  fail "could not add alice to CertbridgeTestClients again"
seen=""
for _ in $(seq 1 300); do
  if grep -q "$alice_sha1" "$out/clients.map"; then
    seen=yes
    break
  fi
  sleep 0.1
done
[[ -n "$seen" ]] || fail "run: alice did not reach clients.map within 30 s of the store change"
ok "run: alice added to the store reached clients.map $((($(date +%s%N) - started) / 1000000)) ms after the store tool started (registry watch; includes the store tool's own start under Wine)"

# --- Log in and change one client's trust through the web page, from Linux ----------------------
# As a browser does (and as tests/web does): the login form's cookie and CSRF token, the password,
# then the session cookie and the page's CSRF token on each change.
web="http://127.0.0.1:$web_port"
cookies="$work/cookies.txt"
login_form=$(curl -s -m 10 -c "$cookies" "$web/login") || fail "GET /login failed"
login_token=$(sed -n 's/.*name="csrf" value="\([0-9a-f]*\)".*/\1/p' <<<"$login_form" | head -n 1)
[[ -n "$login_token" ]] || fail "the login form carries no CSRF token: $login_form"
login_status=$(curl -s -m 10 -b "$cookies" -c "$cookies" -o /dev/null -w '%{http_code}' \
  --data-urlencode "csrf=$login_token" --data-urlencode "password=$web_password" "$web/login")
[[ "$login_status" == 303 ]] || fail "POST /login answered $login_status, not 303"
grep -q certbridge_session "$cookies" || fail "no session cookie after logging in"
page=$(curl -s -m 10 -b "$cookies" "$web/") || fail "GET / failed"
page_token=$(sed -n 's/.*name="csrf" value="\([0-9a-f]*\)".*/\1/p' <<<"$page" | head -n 1)
[[ -n "$page_token" ]] || fail "the page carries no CSRF token after logging in"
ok "logged in on certbridge.exe's web page from Linux (login form token, password, session cookie)"

alice_sha256=$(openssl x509 -in "$pki/alice.pem" -noout -fingerprint -sha256 |
  sed 's/.*=//; s/://g' | tr 'A-F' 'a-f')
trust_change() { # approve|block
  local status
  status=$(curl -s -m 10 -b "$cookies" -o /dev/null -w '%{http_code}' \
    --data-urlencode "csrf=$page_token" "$web/clients/$alice_sha256/$1")
  [[ "$status" == 303 ]] || fail "POST /clients/.../$1 answered $status, not 303"
}
alice_listed() { grep -q "$alice_sha1" "$out/clients.map"; }
alice_unlisted() { ! alice_listed; }
trust_change block
wait_for 30 "alice blocked on the page is still in clients.map after 30 s" alice_unlisted
ok "alice blocked on the web page: gone from clients.map"
trust_change approve
wait_for 30 "alice approved on the page is not back in clients.map after 30 s" alice_listed
ok "alice approved again on the web page: back in clients.map"

kill -INT "$run_pid"
for _ in $(seq 1 150); do
  kill -0 "$run_pid" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$run_pid" 2>/dev/null; then
  fail "run did not stop within 15 s of SIGINT"
fi
grep -q 'certbridge stopping' "$work/run.log" || fail "run stopped without saying so: $(tail -n 3 "$work/run.log")"
ok "run: SIGINT stops it cleanly ('certbridge stopping')"

echo "$passed passed, 0 failed"
