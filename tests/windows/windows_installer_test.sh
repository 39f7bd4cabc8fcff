#!/usr/bin/env bash
# The Windows installer, built and run under Wine in a throwaway prefix.
#   windows_installer_test.sh WINE BUILD_DIR CERTBRIDGE_TEST_COMMAND.EXE
#
# cpack -G NSIS (Debian's nsis) makes certbridge-VERSION-win64.exe from the MinGW build. A silent
# install (/S) puts certbridge.exe under Program Files, the default configuration in
# %ProgramData%\certbridge\certbridge.ini and registers the certbridge service with automatic
# start. The service, started with a configuration changed for this test, writes its state; the
# silent uninstaller then stops it, unregisters it and removes the program, and keeps the
# configuration and the state. Installing again keeps the changed configuration.
set -euo pipefail

wine=$1
build_dir=$(realpath "$2")
command_exe=$(realpath "$3")
work=$(mktemp -d /tmp/certbridge-windows-installer.XXXXXX)
# shellcheck source=wine_test_support.sh
source "$(dirname "$0")/wine_test_support.sh"
trap 'stop_wine_prefix; rm -rf "$work"' EXIT
source_dir=$(cd "$(dirname "$0")/../.." && pwd)

command -v makensis >/dev/null || fail "makensis is missing (./scripts/install-deps nsis)"
(cd "$build_dir" && cpack -G NSIS -B "$work/pkg" >"$work/cpack.log" 2>&1) ||
  fail "cpack -G NSIS failed: $(tail -n 20 "$work/cpack.log")"
version=$(sed -n 's/^project(certbridge VERSION \([0-9.]*\).*/\1/p' "$source_dir/CMakeLists.txt")
installer="$work/pkg/certbridge-$version-win64.exe"
[[ -f "$installer" ]] || fail "no $installer: $(ls "$work/pkg")"
ok "cpack -G NSIS: $(basename "$installer") ($(($(stat -c %s "$installer") / 1024 / 1024)) MB)"

start_wine_prefix
program_files="$WINEPREFIX/drive_c/Program Files/certbridge"
program_data="$WINEPREFIX/drive_c/ProgramData/certbridge"
service_key='HKLM\System\CurrentControlSet\Services\certbridge'

install_output=$("$wine" "$installer" /S 2>&1) || fail "the installer failed: $install_output"
[[ -f "$program_files/bin/certbridge.exe" ]] ||
  fail "no certbridge.exe under Program Files: $(find "$WINEPREFIX/drive_c/Program Files" -maxdepth 3)"
installed_version=$("$wine" "$program_files/bin/certbridge.exe" --version 2>&1) ||
  fail "the installed certbridge.exe --version failed: $installed_version"
[[ "$installed_version" == "certbridge $version"* ]] || fail "--version printed $installed_version"
ok "installer /S: C:\\Program Files\\certbridge\\bin\\certbridge.exe ($installed_version)"
cmp -s "$program_data/certbridge.ini" "$source_dir/installers/windows/certbridge.ini" ||
  fail "%ProgramData%\\certbridge\\certbridge.ini is not the default configuration"
ok "the default configuration in %ProgramData%\\certbridge\\certbridge.ini"
service=$("$wine" reg query "$service_key" 2>&1 | tr -d '\r') || fail "no certbridge service after installing"
grep -q 'Start *REG_DWORD *0x2$' <<<"$service" || fail "the service does not start automatically: $service"
grep -qF 'C:\Program Files\certbridge\bin\certbridge.exe' <<<"$service" ||
  fail "the service does not run the installed certbridge.exe: $service"
ok "the certbridge service is registered, automatic start, running the installed certbridge.exe"

# The administrator's changes: stores, nginx commands (a recording stand-in, as in the other
# Windows tests) and a free port; then the service runs and writes its state.
calls="$work/calls.txt"
out="$work/out"
mkdir -p "$out"
: >"$calls"
web_port=$(free_port)
command="$(windows_path "$command_exe") $(windows_path "$calls")"
sed -i -e "s|^output_dir = .*|output_dir = $(windows_path "$out")|" \
  -e "s|^working_directory = .*|working_directory = $(windows_path "$work")|" \
  -e "s|^test_command = .*|test_command = $command 0 test|" \
  -e "s|^reload_command = .*|reload_command = $command 0 reload|" \
  -e "s|^listen = .*|listen = 127.0.0.1:$web_port|" \
  -e "s|^policy = manual|policy = auto|" "$program_data/certbridge.ini"
printf '\n[crl]\nenabled = false\n' >>"$program_data/certbridge.ini"
cp "$program_data/certbridge.ini" "$work/changed.ini"
start_output=$("$wine" net start certbridge 2>&1) || fail "net start certbridge failed: $start_output"
healthz=""
healthz_ok() {
  healthz=$(curl -s -m 2 "http://127.0.0.1:$web_port/healthz" || true)
  [[ "$healthz" == *'"status"'* ]]
}
wait_for 60 "the installed service's /healthz did not answer: $healthz" healthz_ok
has_state() { [[ -s "$program_data/certbridge.db" && -s "$program_data/certbridge.log" ]]; }
wait_for 30 "the service wrote no certbridge.db or certbridge.log: $(ls "$program_data")" has_state
ok "the installed service runs with the changed configuration (/healthz: $healthz) and keeps its state in %ProgramData%"

uninstall_output=$("$wine" "$program_files/Uninstall.exe" /S 2>&1) ||
  fail "the uninstaller failed: $uninstall_output"
# The uninstaller copies itself to a temporary folder and returns at once: wait for its work.
program_gone() { [[ ! -e "$program_files" ]]; }
if ! wait_for_quietly 60 program_gone; then
  fail "Program Files\\certbridge is still there: $(find "$program_files" 2>/dev/null);" \
    "the service: $("$wine" sc query certbridge 2>&1 | tr -d '\r' | grep STATE);" \
    "processes: $(pgrep -af 'certbridge|Au_' || echo none)"
fi
service_gone() { ! "$wine" reg query "$service_key" >/dev/null 2>&1; }
wait_for 30 "the certbridge service is still registered after uninstalling" service_gone
stopped() { ! curl -s -m 2 "http://127.0.0.1:$web_port/healthz" >/dev/null; }
wait_for 30 "the service still answers after uninstalling" stopped
ok "uninstaller /S: service stopped and unregistered, Program Files\\certbridge removed"
cmp -s "$program_data/certbridge.ini" "$work/changed.ini" ||
  fail "the configuration changed or vanished on uninstall: $(ls "$program_data")"
has_state || fail "the state went with the program: $(ls "$program_data")"
ok "the configuration and the state (certbridge.db, certbridge.log) stay in %ProgramData%\\certbridge"

install_output=$("$wine" "$installer" /S 2>&1) || fail "installing again failed: $install_output"
cmp -s "$program_data/certbridge.ini" "$work/changed.ini" ||
  fail "installing again replaced the changed configuration"
"$wine" reg query "$service_key" >/dev/null 2>&1 || fail "installing again registered no service"
ok "installing again keeps the changed configuration and registers the service"

echo "$passed passed, 0 failed"
