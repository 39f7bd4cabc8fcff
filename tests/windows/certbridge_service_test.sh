#!/usr/bin/env bash
# certbridge.exe as a Windows service under Wine's service control manager, in a throwaway prefix.
#   certbridge_service_test.sh WINE CERTBRIDGE.EXE CERTBRIDGE_TEST_STORE.EXE CERTBRIDGE_TEST_COMMAND.EXE
#
# /registerService registers it; `net start` starts it as Windows would, with no arguments, so it
# reads %ProgramData%\certbridge\certbridge.ini and the local machine's stores (a service runs as
# LocalSystem); it publishes the files, its web page answers /healthz from Linux, it logs to its
# [log] file and to the Event Log under the source "certbridge"; `net stop` stops it cleanly and
# /unregisterService removes it. As in certbridge_exe_test.sh, nginx's test and reload commands
# are certbridge_test_command.exe (under Wine a Windows program cannot read a Linux program's exit
# code); real nginx on these files is proven there.
#
# Wine keeps no Event Log: its ReportEventW writes each message to Wine's debug channel
# "eventlog" (warn+ for warnings and errors, trace+ for the rest), so the test turns that channel
# on for the service and reads its standard error, besides checking the source's registry key.
set -euo pipefail

wine=$1
certbridge_exe=$(realpath "$2")
store_exe=$(realpath "$3")
command_exe=$(realpath "$4")
work=$(mktemp -d /tmp/certbridge-windows-service.XXXXXX)
# shellcheck source=wine_test_support.sh
source "$(dirname "$0")/wine_test_support.sh"
trap 'stop_wine_prefix; rm -rf "$work"' EXIT

make_ca client-ca "certbridge service client CA"
make_leaf alice "alice" client-ca clientAuth
ok "test PKI made with openssl"

system_log="$work/wine-system.log"
start_wine_prefix "-all,+eventlog" "$system_log"
ok "Wine prefix with a persistent wineserver"

store() { "$wine" "$store_exe" --local-machine "$@"; }
store add Root "$(windows_path "$pki/client-ca.pem")" "certbridge service client CA" ||
  fail "could not add the client CA to local_machine Root"
store add CertbridgeTestClients "$(windows_path "$pki/alice.pem")" "alice" ||
  fail "could not add alice to local_machine CertbridgeTestClients"
ok "client CA in local_machine Root, alice in local_machine CertbridgeTestClients"

# The service's configuration where the service looks for it: %ProgramData%\certbridge.
program_data="$WINEPREFIX/drive_c/ProgramData/certbridge"
out="$work/out"
calls="$work/calls.txt"
mkdir -p "$program_data" "$out"
: >"$calls"
web_port=$(free_port)
command="$(windows_path "$command_exe") $(windows_path "$calls")"
cat >"$program_data/certbridge.ini" <<EOF
[storage]
path = C:/ProgramData/certbridge/certbridge.db

[store.windows]
type = cryptoapi
location = local_machine
stores = Root, CertbridgeTestClients
policy = auto

[nginx]
output_dir = $(windows_path "$out")
working_directory = $(windows_path "$work")
test_command = $command 0 test
reload_command = $command 0 reload

[sync]
interval = 3600

[web]
listen = 127.0.0.1:$web_port

# Wine's Root store holds the host's public roots, whose CRLs cannot be fetched here.
[crl]
enabled = false

[log]
level = information
file = C:/ProgramData/certbridge/certbridge.log
EOF

register_output=$("$wine" "$certbridge_exe" /registerService /displayName=certbridge \
  /startup=manual 2>&1) || fail "/registerService failed: $register_output"
service_key='HKLM\System\CurrentControlSet\Services\certbridge'
registered=$("$wine" reg query "$service_key" 2>&1) ||
  fail "no service key after /registerService: $register_output"
grep -qF "$(windows_path "$certbridge_exe" | tr / '\\')" <<<"$registered" ||
  fail "the service's ImagePath is not certbridge.exe: $registered"
ok "certbridge.exe /registerService: the certbridge service points at certbridge.exe"

start_output=$(WINEDEBUG=-all,+eventlog "$wine" net start certbridge 2>>"$system_log") ||
  fail "net start certbridge failed: $start_output"
ok "net start certbridge: $(tr -d '\r' <<<"$start_output" | tail -n 1)"

service_state() { "$wine" sc query certbridge 2>/dev/null | tr -d '\r' | sed -n 's/.*STATE *: *[0-9]* *//p'; }
alice_sha1=$(sha1_of alice)
published() { grep -qs "$alice_sha1" "$out/clients.map"; }
wait_for 60 "the service did not publish alice within 60 s; log: $(tail -n 5 "$program_data/certbridge.log" 2>/dev/null)" published
[[ -s "$out/client-ca.pem" && -s "$out/mtls.conf" ]] || fail "client-ca.pem or mtls.conf missing"
# The files are renamed into place between the test and the reload: wait for the reload too.
tested_then_reloaded() { [[ "$(tr -d '\r' <"$calls")" == $'test\nreload' ]]; }
wait_for 30 "expected test_command then reload_command, recorded: $(cat "$calls")" tested_then_reloaded
ok "the service synced: client-ca.pem, clients.map (alice) and mtls.conf written, test then reload run"

healthz=""
healthz_ok() {
  healthz=$(curl -s -m 2 "http://127.0.0.1:$web_port/healthz" || true)
  [[ "$healthz" == *'"status":"ok"'* ]]
}
wait_for 30 "the service's /healthz did not answer ok: $healthz" healthz_ok
ok "the service's web page answers /healthz from Linux: $healthz"
[[ "$(service_state)" == RUNNING ]] || fail "sc query says $(service_state), not RUNNING"
ok "sc query certbridge: RUNNING"

log_file="$program_data/certbridge.log"
grep -q 'certbridge .* running' "$log_file" || fail "[log] file lacks the start: $(head -n 5 "$log_file")"
grep -q 'published client-ca.pem' "$log_file" || fail "[log] file lacks the publish: $(cat "$log_file")"
ok "[log] file C:/ProgramData/certbridge/certbridge.log: start and publish logged"
"$wine" reg query 'HKLM\SYSTEM\CurrentControlSet\Services\EventLog\Application\certbridge' \
  >/dev/null 2>&1 || fail "no Event Log source 'certbridge' in the registry"
grep -q 'ReportEventW L"certbridge .* running' "$system_log" ||
  fail "the start did not reach the Event Log: $(grep -c ReportEventW "$system_log") events"
grep -q 'ReportEventW L"published client-ca.pem' "$system_log" ||
  fail "the publish did not reach the Event Log"
ok "Event Log source 'certbridge' registered; start and publish reported to it (ReportEventW)"

stop_output=$("$wine" net stop certbridge 2>&1) || fail "net stop certbridge failed: $stop_output"
stopped() { [[ "$(service_state)" == STOPPED ]]; }
wait_for 30 "the service is $(service_state) 30 s after net stop, not STOPPED" stopped
grep -q 'certbridge stopping' "$log_file" || fail "stopped without saying so: $(tail -n 3 "$log_file")"
if curl -s -m 2 "http://127.0.0.1:$web_port/healthz" >/dev/null; then
  fail "the web page still answers after net stop"
fi
ok "net stop certbridge: STOPPED, 'certbridge stopping' logged, the web page gone"

unregister_output=$("$wine" "$certbridge_exe" /unregisterService 2>&1) ||
  fail "/unregisterService failed: $unregister_output"
if "$wine" reg query "$service_key" >/dev/null 2>&1; then
  fail "the service key is still there after /unregisterService"
fi
if "$wine" sc query certbridge >/dev/null 2>&1; then
  fail "sc query still finds the service after /unregisterService"
fi
ok "certbridge.exe /unregisterService: the service is gone"

echo "$passed passed, 0 failed"
