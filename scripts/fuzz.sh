#!/usr/bin/env bash
# Runs every Fuzz* target of the module for a short time each (go test -fuzz
# takes one target and one package at a time).
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${1:-10s}
tags=${TAGS:-noxla}
for pkg in $(go list -tags="$tags" ./...); do
  dir=$(go list -tags="$tags" -f '{{.Dir}}' "$pkg")
  for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
    echo "fuzz $pkg $target ($fuzztime)"
    go test -tags="$tags" -run='^$' -fuzz="^${target}\$" -fuzztime="$fuzztime" "$pkg"
  done
done
