// segcore predict: score new rows with a saved model (nearest centroid in the model's space).
#include <algorithm>
#include <iostream>
#include <memory>

#include "commands.hpp"
#include "output_files.hpp"
#include "segcore/error.hpp"
#include "segcore/io.hpp"
#include "segcore/kmeans.hpp"
#include "segcore/pipeline.hpp"
#include "terminal.hpp"

namespace segcore::app {
namespace {

struct PredictOptions {
  std::string model;
  std::string input;
  std::string out;
  std::string id_column;
  std::string device = "auto";
  int threads = 0;
};

void run_predict(const PredictOptions& o) {
  const Device device = device_option(o.device);
  const KMeansModel model = read_model_json(o.model);
  const std::size_t d = model.features.size(), k = model.k;

  io::TableOptions topt;
  topt.columns = model.features;
  topt.id_column = o.id_column;
  // Without --id-column, the model's id column is used when the new file has it.
  const bool npy = o.input.size() >= 4 && o.input.compare(o.input.size() - 4, 4, ".npy") == 0;
  if (topt.id_column.empty() && !model.id_column.empty() && !npy) {
    const auto header = io::read_csv_header(o.input);
    if (std::find(header.begin(), header.end(), model.id_column) != header.end())
      topt.id_column = model.id_column;
  }
  const io::Dataset data = io::read_table(o.input, topt);
  const std::size_t n = data.rows;
  if (auto bad = Scaler::find_log1p_violation({data.values.data(), n, d}, model.scaler.log1p))
    throw ParseError(data.source, bad->first + 1, 0, model.features[bad->second],
                     "log1p needs values > -1");
  std::vector<double> xs = data.values;
  model.scaler.transform({xs.data(), n, d});

  std::vector<std::int32_t> labels(n);
  std::vector<double> distances(n);
  if (model.dtype == "float32") {
    const std::vector<float> x(xs.begin(), xs.end());
    const std::vector<float> c(model.centroids_scaled.begin(), model.centroids_scaled.end());
    kmeans_predict<float>({x.data(), n, d}, {c.data(), k, d}, labels.data(), distances.data(),
                          device, o.threads);
  } else {
    kmeans_predict<double>({xs.data(), n, d}, {model.centroids_scaled.data(), k, d}, labels.data(),
                           distances.data(), device, o.threads);
  }

  io::AtomicFile file(o.out);
  write_labels_csv(file.stream(), data, labels, &distances);
  file.commit();
  std::vector<std::size_t> counts(k, 0);
  for (std::int32_t l : labels) ++counts[l];
  std::vector<std::vector<std::string>> table = {{"segment", "count", "share"}};
  for (std::size_t j = 0; j < k; ++j)
    table.push_back(
        {std::to_string(j), std::to_string(counts[j]),
         fixed(100.0 * static_cast<double>(counts[j]) / static_cast<double>(n), 1) + "%"});
  std::cout << "segcore predict: " << n << " rows from " << data.source << " scored with "
            << o.model << "\n"
            << format_table(table) << "wrote " << o.out << "\n";
}

}  // namespace

void add_predict_command(CLI::App& app) {
  auto opt = std::make_shared<PredictOptions>();
  CLI::App* cmd = app.add_subcommand("predict", "Assign new rows to the segments of a model");
  cmd->add_option("--model", opt->model, "model.json written by segcore kmeans")->required();
  cmd->add_option("input", opt->input, "Input table (.csv or .npy) with the model's features")
      ->required();
  cmd->add_option("--out", opt->out, "Output CSV: id,segment,distance")->required();
  cmd->add_option("--id-column", opt->id_column,
                  "Column with the row id (default: the model's id column, if present)");
  add_device_option(cmd, opt->device);
  cmd->add_option("--threads", opt->threads, "CPU threads (0 = all)")->capture_default_str();
  cmd->callback([opt] { run_predict(*opt); });
}

}  // namespace segcore::app
