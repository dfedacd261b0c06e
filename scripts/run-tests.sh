#!/usr/bin/env bash
# Runs every Check test binary given, sums their "Checks: N, Failures: F, Errors: E" lines and the
# "SKIP: <test>: <reason>" lines their tests print (tests/suite.h, TEST_SKIP), and closes with
# "N passed, N failed, N skipped": a skipped test is counted as skipped, never as passed. Exits
# non-zero if any binary failed or crashed.
set -uo pipefail
checks=0 bad=0 skipped=0 failed_bins=()
for t in "$@"; do
        echo "== $t"
        out=$("$t" 2>&1)
        rc=$?
        printf '%s\n' "$out"
        line=$(printf '%s\n' "$out" | sed -n 's/.*Checks: \([0-9]*\), Failures: \([0-9]*\), Errors: \([0-9]*\).*/\1 \2 \3/p' | tail -n 1)
        skips=$(printf '%s\n' "$out" | grep -c '^SKIP: ')
        skipped=$((skipped + skips))
        if [ -n "$line" ]; then
                read -r n f e <<<"$line"
                checks=$((checks + n))
                bad=$((bad + f + e))
        fi
        if [ $rc -ne 0 ] || [ -z "$line" ]; then
                failed_bins+=("$t")
                [ -z "$line" ] && bad=$((bad + 1))
        fi
done
[ ${#failed_bins[@]} -gt 0 ] && echo "failed: ${failed_bins[*]}"
passed=$((checks - bad - skipped))
echo "$((passed < 0 ? 0 : passed)) passed, $bad failed, $skipped skipped"
[ ${#failed_bins[@]} -eq 0 ]
