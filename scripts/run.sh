#!/usr/bin/env bash
# The main job: segments the bundled Mall Customers data (200 customers) into 5 segments and
# writes labels, centroids, model and report to out/mall/. Arguments replace the defaults, e.g.
#   scripts/run.sh data/mall_customers.csv --k 6 --id-column customer_id --out out/mall6
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh >/dev/null
if (($#)); then
  exec build/segcore kmeans "$@"
fi
build/segcore kmeans data/mall_customers.csv --k 5 --id-column customer_id \
  --columns age,annual_income_thousands,spending_score --seed 0 --n-init 10 --out out/mall
echo "report: out/mall/report.json (segments: out/mall/labels.csv, centroids: out/mall/centroids.csv)"
