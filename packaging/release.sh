#!/usr/bin/env bash
# Builds a vmfleet release into DIST: `make release` runs it (the Makefile passes the version
# linker flags); see docs/install.md#releases.
#
#   packaging/release.sh DIST PLATFORM...      e.g. packaging/release.sh dist darwin/arm64 linux/amd64
#
# For each PLATFORM (GOOS/GOARCH) a static binary DIST/vmfleet-<os>-<arch> (no cgo, -trimpath,
# $LDFLAGS); from a git checkout also the source archive DIST/vmfleet-<version>.tar.gz (git
# archive of HEAD) and the Homebrew formula DIST/vmfleet.rb, which is
# packaging/homebrew/vmfleet.rb pinned to that archive; last DIST/SHA256SUMS of every file.
# Environment: GO (default go), VERSION (default: git describe), LDFLAGS, RELEASE_URL (where
# the files will be published; default the project's GitHub release of VERSION).
set -euo pipefail

if [ $# -lt 2 ]; then
	echo "usage: $0 DIST GOOS/GOARCH..." >&2
	exit 2
fi
cd "$(dirname "$0")/.."
dist=$1
shift
GO=${GO:-go}
VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
RELEASE_URL=${RELEASE_URL:-https://github.com/vmfleet/vmfleet/releases/download/$VERSION}
mkdir -p "$dist"
rm -f "$dist/SHA256SUMS"

files=()
for platform in "$@"; do
	os=${platform%/*}
	arch=${platform#*/}
	if [ -z "$os" ] || [ -z "$arch" ] || [ "$os" = "$platform" ]; then
		echo "release: platform $platform is not GOOS/GOARCH (e.g. darwin/arm64)" >&2
		exit 2
	fi
	out=vmfleet-$os-$arch
	echo "release: $dist/$out ($VERSION)"
	CGO_ENABLED=0 GOOS=$os GOARCH=$arch "$GO" build -trimpath -ldflags "${LDFLAGS:-}" -o "$dist/$out" ./cmd/vmfleet
	files+=("$out")
done

sha256() { # prints the SHA-256 of a file (Linux: sha256sum; macOS: shasum)
	if command -v sha256sum >/dev/null; then sha256sum "$1" | cut -d' ' -f1; else shasum -a 256 "$1" | cut -d' ' -f1; fi
}

if git rev-parse --verify -q HEAD >/dev/null; then
	src=vmfleet-$VERSION.tar.gz
	git archive --format=tar.gz --prefix="vmfleet-$VERSION/" -o "$dist/$src" HEAD
	files+=("$src")
	sum=$(sha256 "$dist/$src")
	commit=$(git rev-parse HEAD)
	date=$(TZ=UTC git log -1 --format=%cd --date=format-local:%Y-%m-%dT%H:%M:%SZ)
	# The formula pinned to this release: the source archive and its checksum in place of
	# the marker line, the release's version and commit in the constants.
	awk -v url="$RELEASE_URL/$src" -v sum="$sum" -v version="${VERSION#v}" -v commit="$commit" -v date="$date" '
		/^  # stable release: url and sha256 written by make release$/ {
			print "  url \"" url "\""; print "  sha256 \"" sum "\""; print "  version \"" version "\""; next }
		/^  RELEASE_COMMIT = / { print "  RELEASE_COMMIT = \"" commit "\".freeze"; next }
		/^  RELEASE_DATE = / { print "  RELEASE_DATE = \"" date "\".freeze"; next }
		{ print }' packaging/homebrew/vmfleet.rb >"$dist/vmfleet.rb"
	grep -q "^  sha256 \"$sum\"" "$dist/vmfleet.rb" || { echo "release: could not pin $dist/vmfleet.rb" >&2; exit 1; }
	files+=(vmfleet.rb)
else
	echo "release: not a git checkout: no source archive, no Homebrew formula" >&2
fi

for f in "${files[@]}"; do
	printf '%s  %s\n' "$(sha256 "$dist/$f")" "$f"
done >"$dist/SHA256SUMS"
echo "release: $dist/SHA256SUMS"
