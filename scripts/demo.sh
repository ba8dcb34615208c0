#!/usr/bin/env bash
# The whole tool on the bundled offline demo site: set up, serve the site on
# 127.0.0.1:8765, crawl it, rebuild the corpus from the WARC captures alone,
# check the rebuild is byte-identical, and show what was written.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/venv.sh .venv requirements/main.txt --project

out=archive/demo
rm -rf "$out" "$out-rebuilt"
mkdir -p "$out"
.venv/bin/python -m crawler.demosite --port 8765 --log "$out/server-requests.jsonl" > "$out/server.url" &
server=$!
trap 'kill $server 2>/dev/null' EXIT
for _ in $(seq 50); do [ -s "$out/server.url" ] && break; sleep 0.1; done
echo "demo site: $(cat "$out/server.url")"

# The demo site is our own, on loopback: no need for polite delays.
.venv/bin/scrapy crawl demo -s ARCHIVE_DIR="$out" -s AUTOTHROTTLE_ENABLED=False -s DOWNLOAD_DELAY=0 -s LOG_LEVEL=WARNING
.venv/bin/scrapy rebuild "$out/warc" -s ARCHIVE_DIR="$out-rebuilt" -s LOG_LEVEL=WARNING

echo
echo "== what the crawl wrote under $out"
echo "WARC captures: $(find "$out/warc" -name '*.warc.gz' | wc -l)   texts: $(find "$out/text" -name '*.txt' | wc -l)   manifest lines: $(wc -l < "$out/manifest.jsonl")"
echo "run report: $(ls "$out"/runs/demo/*.json)"
.venv/bin/python -c 'import json,sys; r=json.load(open(sys.argv[1])); print({k: r[k] for k in ("pages_fetched", "captures_written", "documents_new", "not_modified", "skipped_useless", "failures")})' "$out"/runs/demo/*.json
echo "first manifest line:"
head -n 1 "$out/manifest.jsonl"
echo "its text:"
head -c 600 "$out/$(head -n 1 "$out/manifest.jsonl" | .venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)["path"])')"
echo
echo "== rebuild from WARC alone into $out-rebuilt"
diff -r "$out/text" "$out-rebuilt/text" && echo "text/ trees are byte-identical"
cmp <(sort "$out/manifest.jsonl") <(sort "$out-rebuilt/manifest.jsonl") && echo "manifests hold the same lines"

echo
echo "== report"
.venv/bin/scrapy report -s ARCHIVE_DIR="$out" -s LOG_LEVEL=WARNING
