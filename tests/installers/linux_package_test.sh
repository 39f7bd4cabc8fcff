#!/usr/bin/env bash
# Builds certbridge's .deb from a build folder (cpack), checks it with lintian and the unit with
# systemd-analyze, installs it into a throwaway root (dpkg --root, never this machine's /usr),
# checks that everything lands where README says, upgrades it keeping a changed conffile,
# then removes and purges it and checks nothing is left.
#   linux_package_test.sh BUILD_DIR
set -euo pipefail
build_dir=$(realpath "$1")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
for tool in cpack dpkg dpkg-deb lintian systemd-analyze; do
  command -v "$tool" >/dev/null || fail "$tool is missing (./scripts/install-deps lintian systemd)"
done

echo "== cpack -G DEB"
(cd "$build_dir" && cpack -G DEB -B "$work/pkg" >"$work/cpack.log") || fail "$(cat "$work/cpack.log")"
deb=$(echo "$work"/pkg/certbridge_*_*.deb)
[[ -f $deb ]] || fail "no package in $work/pkg"

echo "== control: dependencies from dpkg-shlibdeps, the conffile, the scripts"
depends=$(dpkg-deb -f "$deb" Depends)
for library in libssl3 libnss3 libsqlite3-0 libpocofoundation80 libpoconet80 libpq5 libc6; do
  [[ $depends == *"$library"* ]] || fail "Depends lacks $library: $depends"
done
[[ $(dpkg-deb -I "$deb" conffiles) == /etc/certbridge/certbridge.ini ]] ||
  fail "conffiles: $(dpkg-deb -I "$deb" conffiles)"
for script in postinst prerm postrm; do
  dpkg-deb -I "$deb" "$script" >/dev/null || fail "no $script"
done

echo "== lintian"
lintian --fail-on error "$deb" 2>&1 | grep -v 'running with root privileges' || true
lintian --fail-on error "$deb" >/dev/null 2>&1 || fail "lintian reports errors"

echo "== install into a throwaway root"
root=$work/root
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates"
touch "$root/var/lib/dpkg/status"
# The root has no libraries, so dependencies cannot be met there; the maintainer scripts run
# outside a chroot with DPKG_ROOT set, which they honour.
install_package() {
  dpkg --root="$root" --force-script-chrootless --force-depends --force-confold \
    --log=/dev/null "$@" >"$work/dpkg.log" 2>&1 || fail "dpkg $*: $(cat "$work/dpkg.log")"
}
install_package -i "$deb"
for file in usr/bin/certbridge usr/lib/systemd/system/certbridge.service \
  etc/certbridge/certbridge.ini usr/share/doc/certbridge/README.md \
  usr/share/doc/certbridge/copyright usr/share/doc/certbridge/agent_role.sql; do
  [[ -f $root/$file ]] || fail "$file was not installed"
done
[[ -x $root/usr/bin/certbridge ]] || fail "usr/bin/certbridge is not executable"
[[ $(stat -c %a "$root/var/lib/certbridge") == 750 ]] || fail "state folder not made 0750 by postinst"
[[ -d $root/etc/nginx/certbridge ]] || fail "postinst did not make /etc/nginx/certbridge"
wants=$root/etc/systemd/system/multi-user.target.wants/certbridge.service
[[ -L $wants ]] || fail "postinst did not enable the unit"
[[ $("$root/usr/bin/certbridge" --version) == "certbridge 0.1.0" ]] || fail "the binary does not run"
grep -q '^path = /var/lib/certbridge/certbridge.db' "$root/etc/certbridge/certbridge.ini" ||
  fail "the default configuration does not keep state in /var/lib/certbridge"

echo "== systemd-analyze verify"
# verify insists that ExecStart exists on this machine: point it at the installed binary.
sed "s#/usr/bin/certbridge#$root/usr/bin/certbridge#" \
  "$root/usr/lib/systemd/system/certbridge.service" >"$work/certbridge.service"
verify=$(systemd-analyze verify "$work/certbridge.service" 2>&1) || fail "$verify"
[[ -z $verify ]] || fail "systemd-analyze verify: $verify"
grep -q '^Type=notify$' "$work/certbridge.service" || fail "unit is not Type=notify"

echo "== upgrade keeps a changed conffile"
echo "; changed by the operator" >>"$root/etc/certbridge/certbridge.ini"
install_package -i "$deb"
grep -q 'changed by the operator' "$root/etc/certbridge/certbridge.ini" || fail "conffile overwritten"

echo "== remove, then purge"
install_package -r certbridge
[[ ! -e $root/usr/bin/certbridge ]] || fail "remove left the binary"
[[ ! -e $wants ]] || fail "remove left the unit enabled"
[[ -f $root/etc/certbridge/certbridge.ini ]] || fail "remove must keep the conffile"
install_package -P certbridge
[[ ! -e $root/etc/certbridge/certbridge.ini ]] || fail "purge left the conffile"
[[ ! -e $root/var/lib/certbridge ]] || fail "purge left /var/lib/certbridge"
left=$(find "$root" -path "$root/var/lib/dpkg" -prune -o -name '*certbridge*' -print |
  grep -v "^$root/etc/nginx/certbridge$" || true)
[[ -z $left ]] || fail "left behind after purge: $left"
echo "PASS: package built, checked, installed, upgraded, removed and purged"
