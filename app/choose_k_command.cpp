// segcore choose-k: fit K-means for a range of k, score every clustering, suggest one, and write
// the curves as CSV, JSON and one SVG picture.
#include <cmath>
#include <functional>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "commands.hpp"
#include "features.hpp"
#include "segcore/choose_k.hpp"
#include "segcore/device.hpp"
#include "segcore/error.hpp"
#include "segcore/io.hpp"
#include "segcore/kmeans.hpp"
#include "segcore/svg.hpp"
#include "terminal.hpp"

namespace segcore::app {
namespace {

struct ChooseKOptions {
  std::string input;
  int k_min = 2;
  int k_max = 12;
  std::string out_dir;
  FeatureOptions features;
  std::size_t sample_size = 10000;
  std::string init = "k-means++";
  int n_init = 0;
  int max_iter = 300;
  double tol = 1e-4;
  std::uint64_t seed = 0;
  std::string dtype = "float64";
  std::string device = "auto";
  int threads = 0;
};

nlohmann::json number_or_null(double v) {
  return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
}

std::string csv_text(const std::vector<ChooseKRow>& rows) {
  std::string text = "k,inertia,silhouette,calinski_harabasz,davies_bouldin,n_iter,seconds\n";
  for (const ChooseKRow& r : rows) {
    text += std::to_string(r.k) + "," + io::format_double(r.inertia) + "," +
            io::format_double(r.silhouette) + "," + io::format_double(r.calinski_harabasz) + "," +
            io::format_double(r.davies_bouldin) + "," + std::to_string(r.n_iter) + "," +
            io::format_double(r.seconds) + "\n";
  }
  return text;
}

/// The four curves against k in a 2 x 2 grid, the suggested k dashed on each.
std::string curves_svg(const ChooseKResult& result) {
  std::vector<double> k;
  for (const ChooseKRow& r : result.rows) k.push_back(r.k);
  const auto chart = [&](const std::string& title, const std::string& y_label,
                         double ChooseKRow::*field) {
    svg::Series s;
    s.name = y_label;
    s.x = k;
    for (const ChooseKRow& r : result.rows) s.y.push_back(r.*field);
    return svg::line_chart(title, "k", y_label, {s}, result.suggested_k, 420, 290);
  };
  return svg::grid(
      {chart("Inertia (lower: tighter)", "inertia", &ChooseKRow::inertia),
       chart("Silhouette (higher: better separated)", "silhouette", &ChooseKRow::silhouette),
       chart("Calinski-Harabasz (higher: better)", "Calinski-Harabasz",
             &ChooseKRow::calinski_harabasz),
       chart("Davies-Bouldin (lower: better)", "Davies-Bouldin", &ChooseKRow::davies_bouldin)},
      2, "segcore choose-k: suggested k = " + std::to_string(result.suggested_k) + " (dashed)");
}

void run_choose_k(const ChooseKOptions& o) {
  // Arguments first, so that a bad flag costs no reading.
  if (o.k_min < 2)
    throw InvalidArgument("--k-min must be at least 2 (got " + std::to_string(o.k_min) + ")");
  if (o.k_max < o.k_min)
    throw InvalidArgument("--k-max (" + std::to_string(o.k_max) + ") must be >= --k-min (" +
                          std::to_string(o.k_min) + ")");
  ChooseKParams params;
  params.k_min = o.k_min;
  params.k_max = o.k_max;
  params.sample_size = o.sample_size;
  params.float32 = o.dtype == "float32";
  params.kmeans.init = parse_kmeans_init(o.init);
  params.kmeans.n_init = o.n_init;
  params.kmeans.max_iter = o.max_iter;
  params.kmeans.tol = o.tol;
  params.kmeans.seed = o.seed;
  params.kmeans.threads = o.threads;
  params.kmeans.device = device_option(o.device);
  check_feature_options(o.features);
  if (o.max_iter < 1) throw InvalidArgument("--max-iter must be at least 1");
  if (o.n_init < 0) throw InvalidArgument("--n-init must be >= 0 (0 = auto)");
  if (!(o.tol >= 0)) throw InvalidArgument("--tol must be >= 0");

  Timer timer;
  const Features feat = load_features(o.input, o.features);
  const io::Dataset& data = feat.data;
  const std::size_t n = data.rows, d = data.cols();
  const double t_read = timer.lap();
  if (static_cast<std::size_t>(o.k_max) >= n)
    throw InvalidArgument("--k-max " + std::to_string(o.k_max) +
                          " must be less than the number of rows (" + std::to_string(n) + ") in " +
                          data.source);
  const std::size_t sampled = o.sample_size == 0 || o.sample_size >= n ? n : o.sample_size;

  // The scan reports the k it is on; K-means reports its iterations within it.
  auto stage = std::make_shared<std::string>();
  std::function<void(const ChooseKProgress&)> on_progress;
  if (stderr_is_terminal()) {
    on_progress = [stage](const ChooseKProgress& p) {
      *stage = "choose-k: k = " + std::to_string(p.k) + " (" + std::to_string(p.index + 1) + "/" +
               std::to_string(p.count) + ")";
      if (p.stage == ChooseKProgress::Stage::kScoring) show_progress(*stage + ", scoring");
      if (p.stage == ChooseKProgress::Stage::kFitting) show_progress(*stage + ", fitting");
    };
    params.kmeans.progress_inertia = false;  // (not shown)
    params.kmeans.on_progress = [stage](const KMeansProgress& p) {
      show_progress(*stage + ", run " + std::to_string(p.init_run + 1) + "/" +
                    std::to_string(p.n_init) + ", iteration " + std::to_string(p.iteration));
    };
  }
  const ChooseKResult result =
      choose_k({feat.scaled.data(), n, d}, feat.weights(), params, on_progress);
  finish_progress();
  const double t_scan = timer.lap();
  double t_fit = 0;
  for (const ChooseKRow& r : result.rows) t_fit += r.seconds;
  const int elbow = inertia_elbow(result.rows);

  nlohmann::json rows = nlohmann::json::array();
  for (const ChooseKRow& r : result.rows)
    rows.push_back({{"k", r.k},
                    {"inertia", number_or_null(r.inertia)},
                    {"silhouette", number_or_null(r.silhouette)},
                    {"calinski_harabasz", number_or_null(r.calinski_harabasz)},
                    {"davies_bouldin", number_or_null(r.davies_bouldin)},
                    {"n_iter", r.n_iter},
                    {"seconds", r.seconds}});
  nlohmann::json report;
  report["segcore_version"] = SEGCORE_VERSION;
  report["input"] = {{"file", data.source}, {"rows", n}};
  report["features"] = data.feature_names;
  report["params"] = {{"k_min", o.k_min},
                      {"k_max", o.k_max},
                      {"sample_size", o.sample_size},
                      {"init", kmeans_init_name(params.kmeans.init)},
                      {"n_init", o.n_init},
                      {"max_iter", o.max_iter},
                      {"tol", o.tol},
                      {"seed", o.seed},
                      {"dtype", o.dtype},
                      {"device", o.device},
                      {"threads", o.threads}};
  report["params"].update(feature_params(o.features));
  report["sample_size"] = sampled;
  report["silhouette_exact"] = sampled == n;
  report["metrics_weighted"] = false;
  report["rows"] = rows;
  report["suggested_k"] = result.suggested_k;
  report["reason"] = result.reason;
  report["elbow_k"] = elbow >= 0 ? nlohmann::json(elbow) : nlohmann::json(nullptr);

  io::OutputSet out(o.out_dir);
  out.add("choose_k.csv") << csv_text(result.rows);
  out.add("choose_k.svg") << curves_svg(result) << "\n";
  const double t_render = timer.lap();
  report["timings"] = {
      {"read", t_read}, {"fit", t_fit}, {"score", t_scan - t_fit}, {"write", t_render}};
  out.add("choose_k.json") << report.dump(2) << "\n";
  out.commit();

  std::vector<std::vector<std::string>> table = {{"k", "inertia", "silhouette", "calinski_harabasz",
                                                  "davies_bouldin", "iterations", "seconds", ""}};
  for (const ChooseKRow& r : result.rows)
    table.push_back({std::to_string(r.k), fixed(r.inertia, 2), fixed(r.silhouette, 4),
                     fixed(r.calinski_harabasz, 1), fixed(r.davies_bouldin, 4),
                     std::to_string(r.n_iter), fixed(r.seconds, 3),
                     r.k == result.suggested_k ? "<- suggested" : ""});
  std::cout << "segcore choose-k: " << n << " rows x " << d << " features from " << data.source
            << ", k = " << o.k_min << ".." << o.k_max << ", " << o.dtype << ", silhouette "
            << (sampled == n ? "exact over all " + std::to_string(n) + " rows"
                             : "on " + std::to_string(sampled) + " sampled rows")
            << "\n"
            << format_table(table) << "suggested k = " << result.suggested_k << ": "
            << result.reason << "\n"
            << "read " << fixed(t_read, 3) << " s, fit " << fixed(t_fit, 3) << " s, score "
            << fixed(t_scan - t_fit, 3) << " s\n"
            << "wrote " << out.dir() << "/{choose_k.csv,choose_k.json,choose_k.svg}\n";
}

}  // namespace

void add_choose_k_command(CLI::App& app) {
  auto opt = std::make_shared<ChooseKOptions>();
  CLI::App* cmd = app.add_subcommand(
      "choose-k", "Fit K-means for a range of k, score each clustering and suggest k");
  cmd->add_option("input", opt->input, "Input table (.csv or .npy)")->required();
  cmd->add_option("--k-min", opt->k_min, "Smallest k (>= 2)")->capture_default_str();
  cmd->add_option("--k-max", opt->k_max, "Largest k (< rows)")->capture_default_str();
  cmd->add_option("--out", opt->out_dir, "Output directory")->required();
  add_feature_flags(cmd, opt->features);
  cmd->add_option("--sample-size", opt->sample_size,
                  "Rows sampled for the silhouette (0 = all rows, exact)")
      ->capture_default_str();
  cmd->add_option("--init", opt->init, "k-means++ | k-means|| | random")
      ->capture_default_str()
      ->check(accepted_by(parse_kmeans_init));
  cmd->add_option("--n-init", opt->n_init, "Restarts per k (0 = auto: 1, or 10 for random)")
      ->capture_default_str();
  cmd->add_option("--max-iter", opt->max_iter, "Maximum Lloyd iterations")->capture_default_str();
  cmd->add_option("--tol", opt->tol, "Tolerance relative to the mean feature variance")
      ->capture_default_str();
  cmd->add_option("--seed", opt->seed, "Random seed (K-means and the silhouette sample)")
      ->capture_default_str();
  cmd->add_option("--dtype", opt->dtype, "float32 | float64")
      ->capture_default_str()
      ->check(accepted_by(check_dtype));
  add_device_option(cmd, opt->device);
  cmd->add_option("--threads", opt->threads, "CPU threads (0 = all)")->capture_default_str();
  cmd->callback([opt] { run_choose_k(*opt); });
}

}  // namespace segcore::app
