// segcore segment: the retail pipeline in one command: (rfm), scaling with log1p on skewed
// columns, choosing k, K-means, profiles, names, matching to last month's run, and an HTML
// report.
#include <algorithm>
#include <cmath>
#include <ctime>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <numeric>
#include <optional>
#include <unordered_map>

#include "commands.hpp"
#include "features.hpp"
#include "output_files.hpp"
#include "segcore/choose_k.hpp"
#include "segcore/error.hpp"
#include "segcore/io.hpp"
#include "segcore/kmeans.hpp"
#include "segcore/pipeline.hpp"
#include "segcore/report.hpp"
#include "segcore/rfm.hpp"
#include "segcore/segment.hpp"
#include "segcore/svg.hpp"
#include "stages.hpp"
#include "terminal.hpp"

namespace segcore::app {
namespace {

struct SegmentOptions {
  std::string input;
  std::string out_dir;
  bool transactions = false;
  std::string as_of;
  FeatureOptions features;
  int k = 0;
  int k_min = 2;
  int k_max = 10;
  std::size_t choose_rows = 100000;
  std::size_t sample_size = 10000;
  std::string revenue_column;
  std::string previous;
  std::string init = "k-means++";
  int n_init = 4;
  int max_iter = 300;
  double tol = 1e-4;
  std::uint64_t seed = 0;
  std::string dtype = "float64";
  std::string device = "auto";
  int threads = 0;
};

/// A run read back from --previous DIR.
struct PreviousRun {
  KMeansModel model;
  std::vector<std::string> labels_of_segment;
  std::vector<std::string> descriptions;
  std::vector<std::string> ids;
  std::vector<std::int32_t> segments;
};

PreviousRun read_previous(const std::string& dir) {
  PreviousRun p;
  p.model = read_model_json(dir + "/model.json");
  const std::string report_path = dir + "/report.json";
  std::ifstream in(report_path);
  if (!in) throw IoError(report_path + ": cannot open the previous run's report");
  try {
    const nlohmann::json r = nlohmann::json::parse(in);
    for (const auto& s : r.at("segments")) {
      p.labels_of_segment.push_back(s.value("name", ""));
      p.descriptions.push_back(s.value("description", ""));
    }
  } catch (const nlohmann::json::exception& e) {
    throw ParseError(report_path, 0, 0, "", std::string("malformed report: ") + e.what());
  }
  if (p.labels_of_segment.size() != p.model.k)
    throw ParseError(report_path, 0, 0, "", "segment count differs from model.json's k");
  io::TableOptions t;
  t.columns = {"segment"};
  t.id_column = "id";
  const io::Dataset labels = io::read_csv(dir + "/labels.csv", t);
  p.ids.reserve(labels.rows);
  p.segments.reserve(labels.rows);
  for (std::size_t i = 0; i < labels.rows; ++i) {
    const double s = labels.values[i];
    if (s < 0 || s >= static_cast<double>(p.model.k) || s != std::floor(s))
      throw ParseError(dir + "/labels.csv", i + 1, 0, "segment",
                       "not a segment of the previous model");
    p.ids.push_back(labels.id(i));
    p.segments.push_back(static_cast<std::int32_t>(s));
  }
  return p;
}

/// Rows drawn without replacement (sorted), deterministic for the seed (a partial Fisher-Yates
/// shuffle driven by splitmix64). Only the displaced entries of the virtual index array 0..n-1
/// are stored, so drawing m rows costs O(m) memory, not O(n).
std::vector<std::size_t> sample_rows(std::size_t n, std::size_t m, std::uint64_t seed) {
  std::vector<std::size_t> out;
  if (m >= n) {
    out.resize(n);
    std::iota(out.begin(), out.end(), 0);
    return out;
  }
  std::uint64_t state = seed ^ 0x5e6d3a7b1c2f4e99ULL;
  auto next = [&state] {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  };
  std::unordered_map<std::size_t, std::size_t> moved;  // position -> value, where not identity
  auto at = [&moved](std::size_t i) {
    const auto it = moved.find(i);
    return it == moved.end() ? i : it->second;
  };
  out.reserve(m);
  for (std::size_t i = 0; i < m; ++i) {
    const std::size_t j = i + next() % (n - i);
    const std::size_t vi = at(i), vj = at(j);
    moved[j] = vi;  // swap(idx[i], idx[j]); idx[i] is final and never read again
    out.push_back(vj);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<double> gather_rows(const std::vector<double>& x, std::size_t d,
                                const std::vector<std::size_t>& rows) {
  std::vector<double> out;
  out.reserve(rows.size() * d);
  for (std::size_t i : rows) out.insert(out.end(), x.begin() + i * d, x.begin() + (i + 1) * d);
  return out;
}

/// RFM features as a table (ids = customer ids), restricted to `columns` when given.
io::Dataset rfm_dataset(const RfmTable& rfm, const std::string& source,
                        const std::vector<std::string>& columns) {
  std::vector<std::size_t> keep;
  const std::size_t all = RfmTable::kColumns.size();
  if (columns.empty()) {
    for (std::size_t c = 0; c < all; ++c) keep.push_back(c);
  } else {
    for (const auto& name : columns) {
      std::size_t c = 0;
      while (c < all && name != RfmTable::kColumns[c]) ++c;
      if (c == all)
        throw InvalidArgument("--columns '" + name +
                              "' is not an RFM feature (recency_days, frequency, monetary, "
                              "tenure_days, avg_order_value, return_rate)");
      keep.push_back(c);
    }
  }
  io::Dataset d;
  d.source = source;
  for (std::size_t c : keep) d.feature_names.push_back(RfmTable::kColumns[c]);
  d.rows = rfm.customers();
  d.values.reserve(d.rows * keep.size());
  d.has_ids = true;
  d.id_offsets.reserve(d.rows + 1);
  d.id_offsets.push_back(0);
  for (std::size_t i = 0; i < d.rows; ++i) {
    for (std::size_t c : keep) d.values.push_back(rfm.value(i, c));
    d.id_chars += rfm.customer_ids[i];
    d.id_offsets.push_back(d.id_chars.size());
  }
  return d;
}

std::string percent(double share) { return fixed(100.0 * share, 1) + "%"; }

std::string today() {
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", std::gmtime(&t));
  return buf;
}

void run_segment(const SegmentOptions& o) {
  check_feature_options(o.features);
  if (o.k < 0) throw InvalidArgument("--k must be at least 1 (or 0 to choose it)");
  if (o.k_min < 2 || o.k_max < o.k_min)
    throw InvalidArgument("--k-min must be >= 2 and --k-max >= --k-min");
  KMeansParams params;
  params.init = parse_kmeans_init(o.init);
  params.n_init = o.n_init;
  params.max_iter = o.max_iter;
  params.tol = o.tol;
  params.seed = o.seed;
  params.threads = o.threads;
  params.device = device_option(o.device);
  require_device(params.device);
  std::unique_ptr<PreviousRun> prev;
  Stages stages;

  // 1. Features: a customer table, or RFM features computed from a transaction log.
  stages.begin(o.transactions ? "rfm" : "read");
  io::Dataset data;
  if (o.transactions) {
    RfmOptions ropt;
    if (!o.as_of.empty()) ropt.as_of = o.as_of;
    const RfmTable rfm = compute_rfm(o.input, ropt);
    if (rfm.rows_dropped_no_customer > 0)
      notice(std::to_string(rfm.rows_dropped_no_customer) + " rows without a customer id dropped");
    data = rfm_dataset(rfm, o.input, o.features.columns);
  } else {
    io::TableOptions t;
    t.columns = o.features.columns;
    t.id_column = o.features.id_column;
    t.weight_column = o.features.weight_column;
    data = io::read_table(o.input, t);
  }
  if (!o.previous.empty()) prev = std::make_unique<PreviousRun>(read_previous(o.previous));
  const std::size_t n = data.rows, d = data.cols();
  const double* w = data.weights.empty() ? nullptr : data.weights.data();

  // 2. Scaling, with log1p on skewed non-negative columns unless told otherwise.
  stages.begin("scale");
  std::vector<std::string> log1p = o.features.log1p;
  std::string log1p_note;
  if (log1p.size() == 1 && log1p[0] == "auto") {
    log1p.clear();
    for (std::size_t f = 0; f < d; ++f) {
      double lo = data.values[f];
      for (std::size_t i = 0; i < n; ++i) lo = std::min(lo, data.values[i * d + f]);
      if (lo >= 0 && column_skewness({data.values.data(), n, d}, f) > 1.0)
        log1p.push_back(data.feature_names[f]);
    }
    log1p_note = log1p.empty() ? "No column was skewed enough for log1p (skewness > 1)."
                               : "log1p applied to the skewed columns (skewness > 1).";
  } else if (log1p.size() == 1 && log1p[0] == "none") {
    log1p.clear();
  }
  if (prev) {
    if (prev->model.features != data.feature_names)
      throw InvalidArgument(
          "--previous: the previous run used features different from this input's");
  }
  const std::vector<bool> flags = log1p_flags(data.feature_names, log1p);
  check_log1p_domain(data.source, data.feature_names, flags, data.values, n);
  const Scaler scaler =
      Scaler::fit({data.values.data(), n, d}, w, flags, parse_scaling(o.features.scale));
  std::vector<double> xs = data.values;
  scaler.transform({xs.data(), n, d});
  // What the report needs from the scaled rows, taken now: K-means takes them over.
  std::vector<double> col_mean(d, 0), col_sd(d, 0);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t f = 0; f < d; ++f) col_mean[f] += xs[i * d + f] / static_cast<double>(n);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t f = 0; f < d; ++f)
      col_sd[f] += std::pow(xs[i * d + f] - col_mean[f], 2) / static_cast<double>(n);
  std::vector<std::size_t> pca_rows;  // a sample of customers on the first two components
  std::vector<double> pca_x, pca_y;
  std::optional<Pca> pca;
  if (d >= 2) {
    pca_rows = sample_rows(n, 3000, o.seed + 1);
    pca = fit_pca({xs.data(), n, d}, 2);
    for (std::size_t r : pca_rows) {
      double out[2];
      pca->project(&xs[r * d], out);
      pca_x.push_back(out[0]);
      pca_y.push_back(out[1]);
    }
  }

  // 3. Choosing k (on a sample of at most --choose-rows rows), or the curves for the report.
  stages.begin("choose-k");
  const int k_max =
      std::min<int>(o.k_max, static_cast<int>(std::min<std::size_t>(n, o.choose_rows)) - 1);
  ChooseKResult ck;
  std::size_t ck_rows = 0;
  if (k_max >= o.k_min) {
    const auto rows = sample_rows(n, o.choose_rows, o.seed);
    ck_rows = rows.size();
    const std::vector<double> xk = gather_rows(xs, d, rows);
    std::vector<double> wk;
    if (w)
      for (std::size_t i : rows) wk.push_back(w[i]);
    ChooseKParams cp;
    cp.k_min = o.k_min;
    cp.k_max = k_max;
    cp.sample_size = o.sample_size;
    cp.kmeans = params;
    cp.float32 = o.dtype == "float32";
    if (stderr_is_terminal()) show_progress("choosing k on " + std::to_string(ck_rows) + " rows");
    ck = choose_k({xk.data(), ck_rows, d}, wk.empty() ? nullptr : wk.data(), cp);
    finish_progress();
  }
  int k = o.k;
  std::string k_reason;
  if (prev && k == 0) {
    k = static_cast<int>(prev->model.k);
    k_reason = "k = " + std::to_string(k) + " from the previous run";
  } else if (k == 0) {
    if (ck.rows.empty()) throw InvalidArgument("too few rows to choose k: give --k");
    k = ck.suggested_k;
    k_reason = "k = " + std::to_string(k) + " suggested by the data (" + ck.reason + ")";
  } else {
    k_reason = "k = " + std::to_string(k) + " given with --k";
  }
  if (static_cast<std::size_t>(k) > n)
    throw InvalidArgument("k = " + std::to_string(k) + " is larger than the number of rows (" +
                          std::to_string(n) + ")");

  // 4. K-means, warm-started from last month's centroids when there is a previous run of this k.
  stages.begin("k-means");
  params.k = k;
  std::vector<double> init;
  if (prev && prev->model.k == static_cast<std::size_t>(k)) {
    init = prev->model.centroids;
    scaler.transform({init.data(), static_cast<std::size_t>(k), d});
    params.init = KMeansInit::kExplicit;
    params.n_init = 1;
  }
  if (stderr_is_terminal()) {
    params.progress_inertia = false;  // (not shown)
    params.on_progress = [](const KMeansProgress& p) {
      show_progress("k-means: run " + std::to_string(p.init_run + 1) + "/" +
                    std::to_string(p.n_init) + ", iteration " + std::to_string(p.iteration));
    };
  }
  std::vector<double> centroids_scaled;
  std::vector<std::int32_t> labels;
  double inertia = 0;
  int n_iter = 0;
  bool converged = false;
  std::string backend;
  std::vector<std::string> warnings;
  auto take = [&](auto&& r) {
    centroids_scaled.assign(r.centroids.begin(), r.centroids.end());
    labels = std::move(r.labels);
    inertia = r.inertia;
    n_iter = r.n_iter;
    converged = r.converged;
    backend = r.backend;
    warnings = std::move(r.warnings);
  };
  // The scaled rows go to the fit (nothing after it reads them): one copy of the data less.
  if (o.dtype == "float32") {
    std::vector<double>().swap(xs);  // the float rows are made from the input by blocks
    std::vector<float> xf = scale_to_float(scaler, data.values, d);
    const std::vector<float> wf(data.weights.begin(), data.weights.end()),
        cf(init.begin(), init.end());
    take(kmeans_fit<float>(std::move(xf), d, wf.empty() ? nullptr : wf.data(), params,
                           {cf.data(), cf.size() / d, d}));
  } else {
    take(kmeans_fit<double>(std::move(xs), d, w, params, {init.data(), init.size() / d, d}));
  }
  finish_progress();
  for (const auto& warning : warnings) warn(warning);

  // 5. Matching to the previous run: matched segments keep their old number (ordered by it),
  // new ones follow.
  const std::size_t kk = static_cast<std::size_t>(k);
  std::vector<int> final_of(kk);
  std::vector<int> matched_old(kk, -1);
  if (prev) {
    const std::size_t ko = prev->model.k;
    std::vector<double> old_c = prev->model.centroids;
    scaler.transform({old_c.data(), ko, d});
    std::vector<double> cost(kk * ko);
    for (std::size_t j = 0; j < kk; ++j)
      for (std::size_t q = 0; q < ko; ++q) {
        double s = 0;
        for (std::size_t f = 0; f < d; ++f)
          s += std::pow(centroids_scaled[j * d + f] - old_c[q * d + f], 2);
        cost[j * ko + q] = s;
      }
    matched_old = optimal_assignment(cost, kk, ko);
  }
  {
    std::vector<std::size_t> order(kk);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      const int ma = matched_old[a] < 0 ? 1 << 30 : matched_old[a];
      const int mb = matched_old[b] < 0 ? 1 << 30 : matched_old[b];
      return ma < mb;
    });
    for (std::size_t r = 0; r < kk; ++r) final_of[order[r]] = static_cast<int>(r);
    std::vector<double> c2(kk * d);
    std::vector<int> m2(kk);
    for (std::size_t j = 0; j < kk; ++j) {
      std::copy(&centroids_scaled[j * d], &centroids_scaled[j * d] + d, &c2[final_of[j] * d]);
      m2[final_of[j]] = matched_old[j];
    }
    centroids_scaled.swap(c2);
    matched_old.swap(m2);
    for (auto& l : labels) l = final_of[l];
  }

  // 6. Profiles, names, revenue.
  stages.begin("profiles");
  std::vector<double> centroids = centroids_scaled;
  scaler.inverse_transform({centroids.data(), kk, d});
  const auto profiles =
      segment_profiles({data.values.data(), n, d}, labels.data(), w, kk, o.threads);
  std::vector<double> z(kk * d);
  for (std::size_t j = 0; j < kk; ++j)
    for (std::size_t f = 0; f < d; ++f)
      z[j * d + f] =
          col_sd[f] > 0 ? (centroids_scaled[j * d + f] - col_mean[f]) / std::sqrt(col_sd[f]) : 0.0;
  std::vector<SegmentName> names = name_segments({z.data(), kk, d}, data.feature_names);
  if (prev) {
    for (std::size_t j = 0; j < kk; ++j)
      if (matched_old[j] >= 0) names[j].label = prev->labels_of_segment[matched_old[j]];
    for (std::size_t j = 0; j < kk; ++j)  // a new segment must not take a kept name
      for (std::size_t q = 0; q < kk; ++q)
        if (q != j && matched_old[j] < 0 && names[j].label == names[q].label)
          names[j].label += " (new)";
  }
  std::string revenue_col = o.revenue_column;
  if (revenue_col.empty())
    for (const auto& f : data.feature_names)
      if (f == "monetary") revenue_col = f;
  std::vector<double> revenue(kk, 0.0);
  double revenue_total = 0.0;
  if (!revenue_col.empty()) {
    const auto it = std::find(data.feature_names.begin(), data.feature_names.end(), revenue_col);
    if (it == data.feature_names.end())
      throw InvalidArgument("--revenue-column '" + revenue_col + "' is not one of the features");
    const std::size_t f = static_cast<std::size_t>(it - data.feature_names.begin());
    for (std::size_t i = 0; i < n; ++i) {
      const double v = data.values[i * d + f] * (w ? w[i] : 1.0);
      revenue[labels[i]] += v;
      revenue_total += v;
    }
  }
  std::optional<Migration> migration;
  if (prev)
    migration = migration_table(
        prev->ids, prev->segments, prev->model.k,
        [&] {
          std::vector<std::string> ids(n);
          for (std::size_t i = 0; i < n; ++i) ids[i] = data.id(i);
          return ids;
        }(),
        labels, kk);

  // 7. The report.
  stages.begin("report");
  HtmlReport html;
  html.title = "Customer segments: " + data.source;
  html.subtitle = std::to_string(n) + " customers, " + std::to_string(d) + " features, " +
                  std::to_string(k) + " segments; segcore " SEGCORE_VERSION ", " + today();
  std::vector<std::string> seg_title(kk);
  for (std::size_t j = 0; j < kk; ++j) {
    html.segment_names.push_back(names[j].label);
    seg_title[j] = std::to_string(j) + " " + names[j].label;
  }
  ReportSection summary{"summary", "Segments", "", {}, {}};
  summary.text = k_reason + ". Inertia " + io::format_double(inertia) + " after " +
                 std::to_string(n_iter) + " iterations (" +
                 (converged ? "converged" : "not converged") + ") on " + backend + ". Features: " +
                 [&] {
                   std::string s;
                   for (std::size_t f = 0; f < d; ++f)
                     s += (f ? ", " : "") + data.feature_names[f] + (flags[f] ? " (log1p)" : "");
                   return s;
                 }() +
                 ", scaled with " + o.features.scale + ". " + log1p_note;
  if (!warnings.empty()) summary.text += " Warnings: " + warnings.front();
  summary.table.header = {"segment", "name", "description", "customers", "share of customers"};
  if (!revenue_col.empty()) summary.table.header.push_back("share of revenue");
  for (std::size_t j = 0; j < kk; ++j) {
    std::vector<std::string> row = {std::to_string(j), names[j].label, names[j].description,
                                    std::to_string(profiles[j].count), percent(profiles[j].share)};
    if (!revenue_col.empty())
      row.push_back(percent(revenue_total != 0 ? revenue[j] / revenue_total : 0));
    summary.table.rows.push_back(row);
  }
  html.sections.push_back(summary);

  ReportSection sizes{"sizes", "Size and value of each segment", "", {}, {}};
  std::vector<double> shares(kk), rshares(kk);
  for (std::size_t j = 0; j < kk; ++j) {
    shares[j] = 100.0 * profiles[j].share;
    rshares[j] = revenue_total != 0 ? 100.0 * revenue[j] / revenue_total : 0.0;
  }
  sizes.svgs.push_back(svg::bar_chart("Share of customers", seg_title, shares, "%.1f%%"));
  if (!revenue_col.empty()) {
    sizes.svgs.push_back(
        svg::bar_chart("Share of revenue (" + revenue_col + ")", seg_title, rshares, "%.1f%%"));
  } else {
    sizes.text =
        "This data has no revenue column (a monetary feature, or one named with "
        "--revenue-column), so only the share of customers is shown.";
  }
  html.sections.push_back(sizes);

  ReportSection prof{"profiles",
                     "Profiles (original units)",
                     "Mean of each feature per segment, with the median in brackets; the last row "
                     "is all customers.",
                     {},
                     {}};
  prof.table.header = {"segment", "name", "customers"};
  for (const auto& f : data.feature_names) prof.table.header.push_back(f);
  for (std::size_t j = 0; j < kk; ++j) {
    std::vector<std::string> row = {std::to_string(j), names[j].label,
                                    std::to_string(profiles[j].count)};
    for (std::size_t f = 0; f < d; ++f)
      row.push_back(fixed(profiles[j].features[f].mean, 2) + " (" +
                    fixed(profiles[j].features[f].q50, 2) + ")");
    prof.table.rows.push_back(row);
  }
  {
    const std::vector<std::int32_t> zeros(n, 0);
    const auto all = segment_profiles({data.values.data(), n, d}, zeros.data(), w, 1, o.threads);
    std::vector<std::string> row = {"all", "", std::to_string(n)};
    for (std::size_t f = 0; f < d; ++f)
      row.push_back(fixed(all[0].features[f].mean, 2) + " (" + fixed(all[0].features[f].q50, 2) +
                    ")");
    prof.table.rows.push_back(row);
  }
  html.sections.push_back(prof);

  if (pca) {
    std::vector<std::int32_t> pg;
    for (std::size_t r : pca_rows) pg.push_back(labels[r]);
    ReportSection sc{"scatter",
                     "Customers on the first two principal components",
                     "A sample of " + std::to_string(pca_rows.size()) +
                         " customers in the scaled feature space, projected on the two directions "
                         "of largest variance (" +
                         fixed(100 * pca->explained[0], 1) + "% and " +
                         fixed(100 * pca->explained[1], 1) + "% of the variance).",
                     {},
                     {}};
    sc.svgs.push_back(
        svg::scatter("Principal components", pca_x, pca_y, pg, seg_title, "PC1", "PC2"));
    html.sections.push_back(sc);
  }

  if (!ck.rows.empty()) {
    ReportSection ks{"choose-k", "Choosing k", "", {}, {}};
    ks.text = "K-means for k = " + std::to_string(o.k_min) + " to " + std::to_string(k_max) +
              " on " +
              (ck_rows < n ? "a sample of " + std::to_string(ck_rows) : std::string("all ")) +
              " customers; silhouette on a sample of " +
              std::to_string(std::min(o.sample_size == 0 ? ck_rows : o.sample_size, ck_rows)) +
              ". Suggested k = " + std::to_string(ck.suggested_k) + ": " + ck.reason + ". " +
              k_reason + ".";
    std::vector<double> kx;
    std::vector<double> in, si, ch, db;
    for (const auto& r : ck.rows) {
      kx.push_back(r.k);
      in.push_back(r.inertia);
      si.push_back(r.silhouette);
      ch.push_back(r.calinski_harabasz);
      db.push_back(r.davies_bouldin);
    }
    const double mark = static_cast<double>(k);
    ks.svgs.push_back(svg::line_chart("Inertia (lower is tighter)", "k", "inertia",
                                      {{"inertia", kx, in}}, mark, 380, 260));
    ks.svgs.push_back(svg::line_chart("Silhouette (higher is better)", "k", "silhouette",
                                      {{"silhouette", kx, si}}, mark, 380, 260));
    ks.svgs.push_back(svg::line_chart("Calinski-Harabasz (higher is better)", "k", "score",
                                      {{"CH", kx, ch}}, mark, 380, 260));
    ks.svgs.push_back(svg::line_chart("Davies-Bouldin (lower is better)", "k", "score",
                                      {{"DB", kx, db}}, mark, 380, 260));
    html.sections.push_back(ks);
  }

  if (kk >= 2) {
    std::vector<double> sizes_w(kk);
    for (std::size_t j = 0; j < kk; ++j) sizes_w[j] = std::max<double>(1.0, profiles[j].weight);
    const auto link = ward_linkage({centroids_scaled.data(), kk, d}, sizes_w);
    ReportSection dg{
        "dendrogram",
        "How close the segments are",
        "Ward linkage of the segment centroids (scaled space) weighted by segment size: "
        "segments that join low are similar and could be merged.",
        {},
        {}};
    dg.svgs.push_back(svg::dendrogram("Segment dendrogram (Ward)", link, seg_title));
    html.sections.push_back(dg);
  }

  if (migration) {
    ReportSection mg{"migration",
                     "Migration since the previous run",
                     "Customers by segment in " + o.previous + " (rows) and now (columns).",
                     {},
                     {}};
    mg.table.header = {"previous segment", "previous name"};
    for (std::size_t j = 0; j < kk; ++j) mg.table.header.push_back(seg_title[j]);
    mg.table.header.push_back("gone");
    for (std::size_t q = 0; q <= migration->k_old; ++q) {
      std::vector<std::string> row = {
          q < migration->k_old ? std::to_string(q) : "new",
          q < migration->k_old ? prev->labels_of_segment[q] : "new customers"};
      for (std::size_t j = 0; j <= kk; ++j) row.push_back(std::to_string(migration->at(q, j)));
      mg.table.rows.push_back(row);
    }
    html.sections.push_back(mg);
  }
  stages.end();

  ReportSection st{"stages", "Run time and memory", "", {}, {}};
  st.text = stages.peak_is_per_stage()
                ? "Peak resident memory within each stage."
                : "Peak resident memory of the process up to the end of each stage.";
  st.table.header = {"stage", "seconds", "peak MiB"};
  for (const auto& s : stages.stages())
    st.table.rows.push_back({s.name, fixed(s.seconds, 3), fixed(s.peak_mib, 0)});
  html.sections.push_back(st);

  // 8. Files: all or none.
  stages.begin("write");
  io::OutputSet out(o.out_dir);
  io::Dataset ids_only;
  write_labels_csv(out.add("labels.csv"), data, labels);
  {
    std::string text;
    for (std::size_t f = 0; f < d; ++f) {
      if (f) text += ',';
      io::append_csv_field(text, data.feature_names[f]);
    }
    text += '\n';
    for (std::size_t j = 0; j < kk; ++j) {
      for (std::size_t f = 0; f < d; ++f)
        text += (f ? "," : "") + io::format_double(centroids[j * d + f]);
      text += '\n';
    }
    out.add("centroids.csv") << text;
  }
  {
    std::string text = "segment,name,description,customers,share,revenue_share";
    for (const auto& f : data.feature_names) {
      text += ',';
      io::append_csv_field(text, "mean_" + f);
    }
    text += '\n';
    for (std::size_t j = 0; j < kk; ++j) {
      text += std::to_string(j) + ',';
      io::append_csv_field(text, names[j].label);
      text += ',';
      io::append_csv_field(text, names[j].description);
      text += ',' + std::to_string(profiles[j].count) + ',' + io::format_double(profiles[j].share) +
              ',' + io::format_double(revenue_total != 0 ? revenue[j] / revenue_total : 0.0);
      for (std::size_t f = 0; f < d; ++f)
        text += ',' + io::format_double(profiles[j].features[f].mean);
      text += '\n';
    }
    out.add("segments.csv") << text;
  }
  KMeansModel model;
  model.features = data.feature_names;
  model.scaler = scaler;
  model.k = kk;
  model.centroids_scaled = centroids_scaled;
  model.centroids = centroids;
  model.dtype = o.dtype;
  model.init = prev && !init.empty() ? "previous run" : o.init;
  model.n_init = params.n_init;
  model.max_iter = o.max_iter;
  model.tol = o.tol;
  model.seed = o.seed;
  model.id_column = o.transactions ? "customer_id" : o.features.id_column;
  model.weight_column = o.features.weight_column;
  model.inertia = inertia;
  model.segcore_version = SEGCORE_VERSION;
  write_model_json(model, out.add("model.json"));
  out.add("report.html") << render_html_report(html);

  nlohmann::json report;
  report["segcore_version"] = SEGCORE_VERSION;
  report["input"] = {{"file", data.source},
                     {"rows", n},
                     {"features", data.feature_names},
                     {"transactions", o.transactions}};
  report["params"] = {{"k", k},
                      {"k_reason", k_reason},
                      {"scale", o.features.scale},
                      {"log1p", log1p},
                      {"init", model.init},
                      {"n_init", params.n_init},
                      {"seed", o.seed},
                      {"dtype", o.dtype},
                      {"device", o.device},
                      {"previous", o.previous},
                      {"revenue_column", revenue_col}};
  report["backend"] = backend;
  report["inertia"] = inertia;
  report["n_iter"] = n_iter;
  report["converged"] = converged;
  report["warnings"] = warnings;
  nlohmann::json segs = nlohmann::json::array();
  for (std::size_t j = 0; j < kk; ++j) {
    nlohmann::json s = {{"segment", j},
                        {"name", names[j].label},
                        {"description", names[j].description},
                        {"count", profiles[j].count},
                        {"share", profiles[j].share},
                        {"revenue_share", revenue_total != 0 ? revenue[j] / revenue_total : 0.0}};
    if (prev) s["previous_segment"] = matched_old[j];
    nlohmann::json centroid, mean;
    for (std::size_t f = 0; f < d; ++f) {
      centroid[data.feature_names[f]] = centroids[j * d + f];
      mean[data.feature_names[f]] = profiles[j].features[f].mean;
    }
    s["centroid"] = centroid;
    s["mean"] = mean;
    segs.push_back(s);
  }
  report["segments"] = segs;
  if (!ck.rows.empty()) {
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& r : ck.rows)
      rows.push_back({{"k", r.k},
                      {"inertia", r.inertia},
                      {"silhouette", r.silhouette},
                      {"calinski_harabasz", r.calinski_harabasz},
                      {"davies_bouldin", r.davies_bouldin}});
    report["choose_k"] = {{"rows", rows},
                          {"suggested_k", ck.suggested_k},
                          {"reason", ck.reason},
                          {"sample_rows", ck_rows}};
  }
  if (migration) {
    nlohmann::json table = nlohmann::json::array();
    for (std::size_t q = 0; q <= migration->k_old; ++q) {
      std::vector<std::uint64_t> row;
      for (std::size_t j = 0; j <= kk; ++j) row.push_back(migration->at(q, j));
      table.push_back(row);
    }
    report["migration"] = {{"rows", "previous segments, then new customers"},
                           {"columns", "current segments, then gone"},
                           {"table", table}};
  }
  stages.end();
  nlohmann::json st_json = nlohmann::json::array();
  for (const auto& s : stages.stages())
    st_json.push_back({{"stage", s.name}, {"seconds", s.seconds}, {"peak_mib", s.peak_mib}});
  report["stages"] = st_json;
  report["peak_is_per_stage"] = stages.peak_is_per_stage();
  out.add("report.json") << report.dump(2) << "\n";
  out.commit();

  std::vector<std::vector<std::string>> table = {{"segment", "name", "customers", "share"}};
  for (std::size_t j = 0; j < kk; ++j)
    table.push_back({std::to_string(j), names[j].label, std::to_string(profiles[j].count),
                     percent(profiles[j].share)});
  std::cout << "segcore segment: " << n << " customers, " << k_reason << "\n"
            << format_table(table) << "report: " << out.dir() << "/report.html\n";
}

}  // namespace

void add_segment_command(CLI::App& app) {
  auto opt = std::make_shared<SegmentOptions>();
  opt->features.log1p = {"auto"};
  CLI::App* cmd = app.add_subcommand(
      "segment", "The whole pipeline: (rfm), scaling, choosing k, K-means, names, HTML report");
  cmd->add_option("input", opt->input,
                  "Customer table (.csv/.npy), or a transaction log with --transactions")
      ->required();
  cmd->add_option("--out", opt->out_dir, "Output directory")->required();
  cmd->add_flag(
      "--transactions", opt->transactions,
      "INPUT is a transaction log (UCI Online Retail columns): compute RFM features first");
  cmd->add_option("--as-of", opt->as_of, "With --transactions: the date recency is counted to");
  add_feature_flags(cmd, opt->features);
  cmd->add_option("--k", opt->k, "Number of segments (default: chosen, or the previous run's)");
  cmd->add_option("--k-min", opt->k_min, "Smallest k tried")->capture_default_str();
  cmd->add_option("--k-max", opt->k_max, "Largest k tried")->capture_default_str();
  cmd->add_option("--choose-rows", opt->choose_rows, "Rows sampled for choosing k")
      ->capture_default_str();
  cmd->add_option("--sample-size", opt->sample_size, "Rows sampled for the silhouette")
      ->capture_default_str();
  cmd->add_option("--revenue-column", opt->revenue_column,
                  "Feature holding revenue (default: monetary)");
  cmd->add_option("--previous", opt->previous,
                  "Output directory of last month's run: warm start, stable numbers, migration");
  cmd->add_option("--init", opt->init, "k-means++ | k-means|| | random")
      ->capture_default_str()
      ->check(accepted_by(parse_kmeans_init));
  cmd->add_option("--n-init", opt->n_init, "Restarts")->capture_default_str();
  cmd->add_option("--max-iter", opt->max_iter, "Maximum Lloyd iterations")->capture_default_str();
  cmd->add_option("--tol", opt->tol, "Tolerance")->capture_default_str();
  cmd->add_option("--seed", opt->seed, "Random seed")->capture_default_str();
  cmd->add_option("--dtype", opt->dtype, "float32 | float64")
      ->capture_default_str()
      ->check(accepted_by(check_dtype));
  add_device_option(cmd, opt->device, "K-means and choosing k");
  cmd->add_option("--threads", opt->threads, "CPU threads (0 = all)")->capture_default_str();
  cmd->callback([opt] { run_segment(*opt); });
}

}  // namespace segcore::app
