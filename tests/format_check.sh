#!/usr/bin/env bash
# The whole tree follows the one .clang-format (STYLE.md): lists every C++
# file that clang-format would change and fails if there is any.
set -euo pipefail
cd "$1"
bad=()
while IFS= read -r f; do
  clang-format --dry-run --Werror "$f" > /dev/null 2>&1 || bad+=("$f")
done < <(git ls-files '*.cc' '*.h')
if [[ ${#bad[@]} -gt 0 ]]; then
  echo "not formatted (run: clang-format -i FILE):"
  printf '  %s\n' "${bad[@]}"
  exit 1
fi
echo "all $(git ls-files '*.cc' '*.h' | wc -l) C++ files formatted"
