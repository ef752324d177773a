#!/usr/bin/env bash
# The main job: runs the whole segmentation pipeline (scaling, choosing k, K-means, names,
# profiles, HTML report) on the bundled Mall Customers data (200 customers) and prints where the
# report is. Arguments replace the defaults and go to `segcore segment`, e.g.
#   scripts/run.sh data/online_retail_sample.csv --transactions --k 3 --out out/retail
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh >/dev/null
if (($#)); then
  exec build/segcore segment "$@"
fi
build/segcore segment data/mall_customers.csv --id-column customer_id --seed 0 --out out/mall
echo "open out/mall/report.html in a browser (also: labels.csv, segments.csv, centroids.csv, model.json, report.json)"
