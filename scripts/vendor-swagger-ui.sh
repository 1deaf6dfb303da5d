#!/usr/bin/env bash
# Copy Swagger UI's built files from the npm package swagger-ui-dist, at the pinned version
# and checked against its pinned integrity, into the Python package, where `serve` finds
# them at run time without internet. The output is committed; run this only to change the
# version (then update both pins and check /schema with tests/web/test_docs.py).
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=5.35.0
INTEGRITY=sha512-U06rpMtW9V3XPGOBeamTUSr0Z09jMX4IJuANpE/EZbAhw0G8CgwrzU4YmXkn/h0wCDNsXdGarTNNHC3sU8yVUQ==
DEST=src/expense_wise/web/static/swagger-ui
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
npm pack --silent --pack-destination "$work" "swagger-ui-dist@$VERSION" >/dev/null
tarball="$work/swagger-ui-dist-$VERSION.tgz"
actual="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
if [ "$actual" != "$INTEGRITY" ]; then
  echo "swagger-ui-dist@$VERSION: integrity $actual, expected $INTEGRITY" >&2
  exit 1
fi
tar -xzf "$tarball" -C "$work"
rm -rf "$DEST" && mkdir -p "$DEST"
for file in swagger-ui-bundle.js swagger-ui-bundle.js.LICENSE.txt swagger-ui.css \
  favicon-32x32.png LICENSE NOTICE; do
  cp "$work/package/$file" "$DEST/"
done
echo "swagger-ui-dist $VERSION (npm), integrity $INTEGRITY" > "$DEST/VERSION"
echo "vendored swagger-ui-dist $VERSION into $DEST"
