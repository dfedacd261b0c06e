#!/usr/bin/env bash
# Runs every Check test binary given, sums their "Checks: N, Failures: F, Errors: E" lines and
# closes with "N passed, N failed". Exits non-zero if any binary failed or crashed.
set -uo pipefail
checks=0 bad=0 failed_bins=()
for t in "$@"; do
        echo "== $t"
        out=$("$t" 2>&1)
        rc=$?
        printf '%s\n' "$out"
        line=$(printf '%s\n' "$out" | sed -n 's/.*Checks: \([0-9]*\), Failures: \([0-9]*\), Errors: \([0-9]*\).*/\1 \2 \3/p' | tail -n 1)
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
echo "$((checks - bad < 0 ? 0 : checks - bad)) passed, $bad failed"
[ ${#failed_bins[@]} -eq 0 ]
