#!/usr/bin/env bash
# Fails, naming each file, when a C source or header of the tree is not as the tree's
# .clang-format says. Run from anywhere; checks the files git knows.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || { echo "clang-format missing" >&2; exit 1; }
mapfile -t files < <(git ls-files '*.c' '*.h')
bad=()
for f in "${files[@]}"; do
	[ -f "$f" ] || continue
	clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if [ "${#bad[@]}" -gt 0 ]; then
	printf 'not formatted (clang-format -i FILE): %s\n' "${bad[@]}" >&2
	exit 1
fi
echo "check-format: ${#files[@]} files formatted"
