#!/usr/bin/env bash
# Runs a GoogleTest binary built for Windows under Wine, leaving out the tests that cannot run
# there and printing each of them with its reason.
#   run_gtest_under_wine.sh WINE TESTS.EXE ["Suite.Test=reason" ...]
set -euo pipefail
wine=$1
binary=$2
shift 2

excluded=()
for entry in "$@"; do
  name=${entry%%=*}
  reason=${entry#*=}
  [[ -n "$name" && "$reason" != "$entry" ]] || {
    echo "run_gtest_under_wine.sh: '$entry' is not Suite.Test=reason"
    exit 2
  }
  echo "not run on Windows: $name: $reason"
  excluded+=("$name")
done

filter=""
if ((${#excluded[@]} > 0)); then
  filter="--gtest_filter=-$(
    IFS=:
    echo "${excluded[*]}"
  )"
fi
# The prefix is made on the first run (ctest sets WINEPREFIX to one of the build's own).
exec "$wine" "$binary" ${filter:+"$filter"} --gtest_color=no
