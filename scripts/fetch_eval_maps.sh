#!/usr/bin/env bash
# Real HDR maps for the lighting estimator's held-out evaluation (docs/ESTIMATE.md), none of them
# in ../shared: the CC0 Poly Haven maps that the npm package @pmndrs/assets ships as base64 EXR
# modules. Needs npm. Writes OUT (default out/eval_maps) /NAME.exr. The maps that are copies of
# ../shared's (city, lobby, night, studio, warehouse; sunset and venice are venice_sunset
# variants) are left out.
set -euo pipefail
out="${1:-out/eval_maps}"
keep="apartment bridge dawn esplanade forest hall lab park sky sunrise workshop"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack @pmndrs/assets@1.7.0 --silent >/dev/null && tar xzf pmndrs-assets-1.7.0.tgz package/hdri)
mkdir -p "$out"
for name in $keep; do
  sed -e "s/^export default 'data:application\/exr;base64,//" -e "s/'[; ]*\$//" "$tmp/package/hdri/$name.exr.js" \
    | tr -d '\n' | base64 -d > "$out/.$name.exr.tmp"
  mv "$out/.$name.exr.tmp" "$out/$name.exr"
done
echo "wrote $(ls "$out" | wc -l) maps to $out"
