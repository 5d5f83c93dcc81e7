#!/usr/bin/env bash
# Writes offline.html: DVC's plots page with vega, vega-lite and vega-embed inlined (the versions DVC's own page
# loads from a CDN), so `dvc plots show` / `dvc plots diff` draw every plot without a network. Needs npm; run it
# again only to change versions. Their licences go to licenses/.
set -euo pipefail
cd "$(dirname "$0")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
packages=(vega@5.20.2 vega-lite@5.2.0 vega-embed@6.18.2)
scripts=""
for package in "${packages[@]}"; do
  name=${package%@*}
  (cd "$work" && npm pack --silent "$package" >/dev/null && mkdir "$name" && tar xzf "$name"-*.tgz -C "$name")
  cp "$work/$name/package/LICENSE" "licenses/$name.LICENSE"
  scripts+="<script>/* $package, BSD-3-Clause: plots/licenses/$name.LICENSE */
$(cat "$work/$name/package/build/$name.min.js")
</script>
"
done
cat > offline.html <<HTML
<!DOCTYPE html>
<html>
<head>
    {refresh_tag}
    <meta charset="utf-8">
    <title>DVC Plot</title>
    <!-- ${packages[*]}, inlined by plots/build_template.sh: this page needs no network -->
${scripts}    <style>
        table {
            border-spacing: 15px;
        }
    </style>
</head>
<body>
    {plot_divs}
</body>
</html>
HTML
