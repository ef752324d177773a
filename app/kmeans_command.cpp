// segcore kmeans: read a table, scale, cluster, and write labels, centroids, model and report.
#include <charconv>
#include <cmath>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <utility>
#include <vector>

#include "commands.hpp"
#include "features.hpp"
#include "output_files.hpp"
#include "segcore/backend.hpp"
#include "segcore/error.hpp"
#include "segcore/io.hpp"
#include "segcore/kmeans.hpp"
#include "segcore/pipeline.hpp"
#include "terminal.hpp"

namespace segcore::app {
namespace {

struct KMeansOptions {
  std::string input;
  int k = 0;
  std::string out_dir;
  FeatureOptions features;
  std::string init = "k-means++";
  std::string init_centroids;
  int n_init = 0;
  int max_iter = 300;
  double tol = 1e-4;
  std::uint64_t seed = 0;
  std::string dtype = "float64";
  std::string device = "auto";
  int threads = 0;
};

/// Reads --init-centroids: a CSV whose header is exactly the features, with k rows.
std::vector<double> read_init_centroids(const std::string& path,
                                        const std::vector<std::string>& features, int k) {
  io::TableOptions opt;
  opt.columns = features;
  io::Dataset init = io::read_csv(path, opt);
  const std::vector<std::string> header = io::read_csv_header(path);
  if (header.size() != features.size()) {
    std::string expected;
    for (const auto& f : features) expected += (expected.empty() ? "" : ",") + f;
    throw ParseError(path, 0, 1, "",
                     "initial centroids have " + std::to_string(header.size()) +
                         " columns, expected " + std::to_string(features.size()) + " (" + expected +
                         ")");
  }
  if (init.rows != static_cast<std::size_t>(k))
    throw ParseError(path, 0, 0, "",
                     "initial centroids have " + std::to_string(init.rows) +
                         " rows, expected k = " + std::to_string(k));
  return init.values;
}

struct FitOutcome {
  std::vector<double> centroids_scaled;  // k x d
  std::vector<std::int32_t> labels;
  double inertia = 0;
  int n_iter = 0;
  bool converged = false;
  int best_run = 0;
  std::size_t distinct = 0;
  std::vector<std::string> warnings;
  std::string backend;
  double init_seconds = 0, lloyd_seconds = 0;
};

/// Fits on the scaled rows x (n x d), which it takes over (the CPU backend centres them in place).
template <typename T>
FitOutcome fit_as(std::vector<T> x, const std::vector<double>& weights, std::size_t d,
                  const KMeansParams& params, const std::vector<double>& init) {
  const std::vector<T> w(weights.begin(), weights.end());
  const std::vector<T> c0(init.begin(), init.end());
  KMeansResult<T> r = kmeans_fit<T>(std::move(x), d, w.empty() ? nullptr : w.data(), params,
                                    {c0.data(), c0.size() / d, d});
  FitOutcome o;
  o.centroids_scaled.assign(r.centroids.begin(), r.centroids.end());
  o.labels = std::move(r.labels);
  o.inertia = r.inertia;
  o.n_iter = r.n_iter;
  o.converged = r.converged;
  o.best_run = r.best_run;
  o.distinct = r.distinct_clusters;
  o.warnings = std::move(r.warnings);
  o.backend = r.backend;
  o.init_seconds = r.init_seconds;
  o.lloyd_seconds = r.lloyd_seconds;
  return o;
}

nlohmann::json summary_json(const FeatureSummary& s) {
  auto num = [](double v) { return std::isnan(v) ? nlohmann::json(nullptr) : nlohmann::json(v); };
  return {{"mean", num(s.mean)}, {"std", num(s.std)}, {"min", num(s.min)}, {"25%", num(s.q25)},
          {"50%", num(s.q50)},   {"75%", num(s.q75)}, {"max", num(s.max)}};
}

void run_kmeans(const KMeansOptions& o) {
  // Arguments first, so that a bad flag costs no reading.
  if (o.k < 1) throw InvalidArgument("--k must be at least 1 (got " + std::to_string(o.k) + ")");
  KMeansParams params;
  params.k = o.k;
  params.init = o.init_centroids.empty() ? parse_kmeans_init(o.init) : KMeansInit::kExplicit;
  params.n_init = o.n_init;
  params.max_iter = o.max_iter;
  params.tol = o.tol;
  params.seed = o.seed;
  params.threads = o.threads;
  params.device = device_option(o.device);
  check_feature_options(o.features);
  const Scaling scaling = parse_scaling(o.features.scale);
  if (o.max_iter < 1) throw InvalidArgument("--max-iter must be at least 1");
  if (o.n_init < 0) throw InvalidArgument("--n-init must be at least 1");
  if (!(o.tol >= 0)) throw InvalidArgument("--tol must be >= 0");
  if (params.device == Device::kCuda) (void)make_kmeans_backend<float>(Device::kCuda, 1);

  Timer timer;
  Features feat = load_features(o.input, o.features);
  const io::Dataset& data = feat.data;
  const std::size_t n = data.rows, d = data.cols();
  const double t_read = timer.lap();

  if (static_cast<std::size_t>(o.k) > n)
    throw InvalidArgument("--k " + std::to_string(o.k) + " is larger than the number of rows (" +
                          std::to_string(n) + ") in " + data.source);
  std::vector<double> init;
  if (!o.init_centroids.empty()) {
    init = read_init_centroids(o.init_centroids, data.feature_names, o.k);
    check_log1p_domain(o.init_centroids, data.feature_names, feat.scaler.log1p, init,
                       static_cast<std::size_t>(o.k));
    feat.scaler.transform({init.data(), init.size() / d, d});
  }
  const double* w = feat.weights();
  const Scaler& scaler = feat.scaler;
  const double t_scale = timer.lap();

  if (stderr_is_terminal()) {
    // The centre shift rather than the inertia: a terminal on stderr must not slow the fit (the
    // inertia per iteration is one exact distance per point more).
    params.progress_inertia = false;
    params.on_progress = [](const KMeansProgress& p) {
      show_progress("k-means: run " + std::to_string(p.init_run + 1) + "/" +
                    std::to_string(p.n_init) + ", iteration " + std::to_string(p.iteration) +
                    ", centre shift " + io::format_double(p.center_shift));
    };
  }
  // The scaled rows go to the fit (nothing after it reads them): one copy of the data less. In
  // float32 the double copy is dropped first and the float rows made from the input by blocks.
  FitOutcome fit;
  if (o.dtype == "float32") {
    std::vector<double>().swap(feat.scaled);
    fit = fit_as<float>(scale_to_float(scaler, data.values, d), data.weights, d, params, init);
  } else {
    fit = fit_as<double>(std::move(feat.scaled), data.weights, d, params, init);
  }
  finish_progress();
  timer.lap();
  for (const auto& warning : fit.warnings) warn(warning);

  std::vector<double> centroids = fit.centroids_scaled;
  scaler.inverse_transform({centroids.data(), static_cast<std::size_t>(o.k), d});
  const auto profiles = segment_profiles({data.values.data(), n, d}, fit.labels.data(), w,
                                         static_cast<std::size_t>(o.k), params.threads);

  // Everything is computed: now the files, all or none.
  io::OutputSet out(o.out_dir);
  write_labels_csv(out.add("labels.csv"), data, fit.labels);
  {
    std::string text;
    for (std::size_t f = 0; f < d; ++f) {
      if (f) text += ',';
      io::append_csv_field(text, data.feature_names[f]);
    }
    text += '\n';
    for (int j = 0; j < o.k; ++j) {
      for (std::size_t f = 0; f < d; ++f) {
        if (f) text += ',';
        text += io::format_double(centroids[j * d + f]);
      }
      text += '\n';
    }
    out.add("centroids.csv") << text;
  }
  KMeansModel model;
  model.features = data.feature_names;
  model.scaler = scaler;
  model.k = static_cast<std::size_t>(o.k);
  model.centroids_scaled = fit.centroids_scaled;
  model.centroids = centroids;
  model.dtype = o.dtype;
  model.init = kmeans_init_name(params.init);
  model.n_init = params.init == KMeansInit::kExplicit ? 1 : o.n_init;
  model.max_iter = o.max_iter;
  model.tol = o.tol;
  model.seed = o.seed;
  model.id_column = o.features.id_column;
  model.weight_column = o.features.weight_column;
  model.inertia = fit.inertia;
  model.segcore_version = SEGCORE_VERSION;
  write_model_json(model, out.add("model.json"));
  const double t_write = timer.lap();

  nlohmann::json report;
  report["segcore_version"] = SEGCORE_VERSION;
  report["input"] = {{"file", data.source}, {"rows", n}, {"features", data.feature_names}};
  report["params"] = {{"k", o.k},
                      {"init", kmeans_init_name(params.init)},
                      {"init_centroids", o.init_centroids},
                      {"n_init", o.n_init},
                      {"max_iter", o.max_iter},
                      {"tol", o.tol},
                      {"seed", o.seed},
                      {"dtype", o.dtype},
                      {"device", o.device},
                      {"threads", o.threads}};
  report["params"].update(feature_params(o.features));
  report["backend"] = fit.backend;
  report["inertia"] = fit.inertia;
  report["inertia_space"] = scaling == Scaling::kStandard ? "standardised features" : "input units";
  report["n_iter"] = fit.n_iter;
  report["converged"] = fit.converged;
  report["best_run"] = fit.best_run;
  report["distinct_clusters"] = fit.distinct;
  report["warnings"] = fit.warnings;
  report["timings"] = {{"read", t_read},
                       {"scale", t_scale},
                       {"init", fit.init_seconds},
                       {"fit", fit.lloyd_seconds},
                       {"write", t_write}};
  nlohmann::json segments = nlohmann::json::array();
  for (int j = 0; j < o.k; ++j) {
    const SegmentProfile& p = profiles[j];
    nlohmann::json seg = {{"segment", j},
                          {"count", p.count},
                          {"share", p.share},
                          {"weight", p.weight},
                          {"weight_share", p.weight_share}};
    nlohmann::json centroid, profile;
    for (std::size_t f = 0; f < d; ++f) {
      centroid[data.feature_names[f]] = centroids[j * d + f];
      profile[data.feature_names[f]] = summary_json(p.features[f]);
    }
    seg["centroid"] = centroid;
    seg["profile"] = profile;
    segments.push_back(seg);
  }
  report["segments"] = segments;
  out.add("report.json") << report.dump(2) << "\n";
  out.commit();

  // The summary on stdout.
  std::vector<std::vector<std::string>> table;
  std::vector<std::string> header = {"segment", "count", "share"};
  for (const auto& f : data.feature_names) header.push_back("mean " + f);
  table.push_back(header);
  for (int j = 0; j < o.k; ++j) {
    std::vector<std::string> row = {std::to_string(j), std::to_string(profiles[j].count),
                                    fixed(100.0 * profiles[j].share, 1) + "%"};
    for (std::size_t f = 0; f < d; ++f) row.push_back(fixed(profiles[j].features[f].mean, 2));
    table.push_back(row);
  }
  std::cout << "segcore kmeans: " << n << " rows x " << d << " features from " << data.source
            << ", k = " << o.k << ", " << fit.backend << ", " << o.dtype << "\n"
            << format_table(table) << "inertia " << io::format_double(fit.inertia) << " after "
            << fit.n_iter << " iterations (" << (fit.converged ? "converged" : "not converged")
            << "); read " << fixed(t_read, 3) << " s, init " << fixed(fit.init_seconds, 3)
            << " s, fit " << fixed(fit.lloyd_seconds, 3) << " s, write " << fixed(t_write, 3)
            << " s\n"
            << "wrote " << out.dir() << "/{labels.csv,centroids.csv,model.json,report.json}\n";
}

}  // namespace

void add_kmeans_command(CLI::App& app) {
  auto opt = std::make_shared<KMeansOptions>();
  CLI::App* cmd = app.add_subcommand("kmeans", "Cluster the rows of a CSV or .npy file");
  cmd->add_option("input", opt->input, "Input table (.csv or .npy)")->required();
  cmd->add_option("--k", opt->k, "Number of segments")->required();
  cmd->add_option("--out", opt->out_dir, "Output directory")->required();
  add_feature_flags(cmd, opt->features);
  cmd->add_option("--init", opt->init, "k-means++ | k-means|| | random")
      ->capture_default_str()
      ->check(accepted_by(parse_kmeans_init));
  cmd->add_option("--init-centroids", opt->init_centroids,
                  "CSV of k initial centroids (header = features, input units)");
  cmd->add_option("--n-init", opt->n_init, "Restarts (0 = auto: 1, or 10 for random)")
      ->capture_default_str();
  cmd->add_option("--max-iter", opt->max_iter, "Maximum Lloyd iterations")->capture_default_str();
  cmd->add_option("--tol", opt->tol, "Tolerance relative to the mean feature variance")
      ->capture_default_str();
  cmd->add_option("--seed", opt->seed, "Random seed")->capture_default_str();
  cmd->add_option("--dtype", opt->dtype, "float32 | float64")
      ->capture_default_str()
      ->check(accepted_by(check_dtype));
  add_device_option(cmd, opt->device);
  cmd->add_option("--threads", opt->threads, "CPU threads (0 = all)")->capture_default_str();
  cmd->callback([opt] { run_kmeans(*opt); });
}

}  // namespace segcore::app
