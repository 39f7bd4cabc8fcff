#!/usr/bin/env bash
# ctest bench_import_matches_certutil: `certbridge_bench_fixtures import-untrusted`, which makes
# ./scripts/bench's NSS data sets, gives the database `certutil -B` gives from the same batch: the
# same `certutil -L` listing (nicknames and trust) and the same certificates, nicknames and trust
# as certbridge's NSS reader reads them; a line with trust is refused, naming the line.
# Usage: import_matches_certutil.sh FIXTURES_BINARY
set -euo pipefail
fixtures=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$fixtures" store "$work" 300 10 >/dev/null
grep -v -- ' -t ,, ' "$work/import.batch" >"$work/trusted.batch"
grep -- ' -t ,, ' "$work/import.batch" >"$work/untrusted.batch"
mkdir "$work/by-certutil" "$work/by-import"
certutil -N -d "sql:$work/by-certutil" --empty-password
certutil -B -d "sql:$work/by-certutil" -i "$work/import.batch"
certutil -N -d "sql:$work/by-import" --empty-password
certutil -B -d "sql:$work/by-import" -i "$work/trusted.batch"
"$fixtures" import-untrusted "$work/by-import" "$work/untrusted.batch" >/dev/null

certutil -L -d "sql:$work/by-certutil" | sort >"$work/by-certutil.list"
certutil -L -d "sql:$work/by-import" | sort >"$work/by-import.list"
diff "$work/by-certutil.list" "$work/by-import.list" ||
  { echo "FAIL: certutil -L differs between certutil -B and import-untrusted" >&2; exit 1; }
[[ $(grep -c ' ,, ' "$work/by-import.list") == 309 && $(grep -c '^bench-root  *T,, ' "$work/by-import.list") == 1 ]] ||
  { echo "FAIL: expected 309 certificates without trust and bench-root with T,," >&2; exit 1; }

by_certutil=$("$fixtures" read-store "sql:$work/by-certutil")
by_import=$("$fixtures" read-store "sql:$work/by-import")
[[ $by_certutil == "$by_import" && $by_import == "310 "* ]] ||
  { echo "FAIL: certbridge reads \"$by_certutil\" from certutil's, \"$by_import\" from the import" >&2; exit 1; }

if "$fixtures" import-untrusted "$work/by-import" "$work/trusted.batch" 2>"$work/refused.err"; then
  echo "FAIL: a line with trust T,, was imported without its trust" >&2
  exit 1
fi
grep -qF "trusted.batch:1: trust \"T,,\" for bench-root needs a trust object" "$work/refused.err" ||
  { echo "FAIL: unexpected error: $(cat "$work/refused.err")" >&2; exit 1; }
echo "import-untrusted and certutil -B: the same 310 certificates, nicknames and trust"
