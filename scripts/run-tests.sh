#!/usr/bin/env bash
# Runs every test binary given, prints each one's result, and a closing
# "N passed, N failed" line; exits non-zero if any failed.
set -uo pipefail
passed=0 failed=0 names=()
for t in "$@"; do
        echo "== $t"
        if "$t"; then
                passed=$((passed + 1))
        else
                failed=$((failed + 1))
                names+=("$t")
        fi
done
[ $failed -gt 0 ] && echo "failed: ${names[*]}"
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
