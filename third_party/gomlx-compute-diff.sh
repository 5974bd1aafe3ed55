#!/bin/sh
# Writes third_party/gomlx-compute.patch: the unified diff (diff -ruN) of
# third_party/gomlx-compute against the pristine github.com/gomlx/compute
# v0.1.2 in the Go module cache (fetched from the module proxy when missing),
# PATCHES.md left out, file times left out. Run from anywhere in the
# repository; `git diff --exit-code third_party/gomlx-compute.patch` after it
# shows whether the committed patch is up to date. Apply the patch to a
# pristine copy with `patch -p1` (or `git apply -p1 --directory=...`).
set -eu
cd "$(git rev-parse --show-toplevel)"
version=v0.1.2
pristine=$(GOFLAGS=-mod=mod go mod download -json "github.com/gomlx/compute@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -d "$pristine" ] || { echo "gomlx-compute-diff: no module cache copy of github.com/gomlx/compute@$version" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ln -s "$pristine" "$tmp/a"
ln -s "$PWD/third_party/gomlx-compute" "$tmp/b"
rc=0
(cd "$tmp" && diff -ruN -x PATCHES.md a/ b/) >"$tmp/patch" || rc=$?
[ "$rc" -le 1 ] || { echo "gomlx-compute-diff: diff failed ($rc)" >&2; exit 1; }
# Drop the file times from the --- and +++ lines, so the patch changes only when the code does.
sed -E 's/^((---|\+\+\+) [^	]+)	.*$/\1/' "$tmp/patch" >third_party/gomlx-compute.patch
echo "third_party/gomlx-compute.patch: $(grep -c '^diff ' third_party/gomlx-compute.patch) files differ from github.com/gomlx/compute@$version"
