// segcore regress: one linear regression per segment of a `segcore kmeans` run.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>
#include <vector>

#include "commands.hpp"
#include "segcore/device.hpp"
#include "segcore/error.hpp"
#include "segcore/io.hpp"
#include "segcore/segment_regression.hpp"
#include "terminal.hpp"

namespace segcore::app {
namespace {

struct RegressOptions {
  std::string input;
  std::string labels;
  std::string target;
  std::vector<std::string> features;
  std::string out;
  std::string id_column;
  std::string weight_column;
  double ridge = 0;
  bool no_intercept = false;
  std::string device = "auto";
  int threads = 0;
};

/// labels.csv as written by `segcore kmeans`: the id text and segment of every row.
struct LabelsFile {
  std::vector<std::string> ids;
  std::vector<std::int32_t> segments;
  std::vector<std::uint64_t> lines;  // physical line of each row, for messages
  std::size_t k = 0;
};

/// k of the run that wrote `labels_path`, from model.json beside it; 0 when there is none.
std::size_t k_from_model(const std::string& labels_path) {
  const auto model = std::filesystem::path(labels_path).parent_path() / "model.json";
  std::ifstream in(model);
  if (!in) return 0;
  const nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("k") || !j["k"].is_number_unsigned())
    return 0;
  return j["k"].get<std::size_t>();
}

LabelsFile read_labels(const std::string& path, bool need_ids) {
  LabelsFile out;
  const std::size_t model_k = k_from_model(path);
  std::vector<std::string> header;
  std::size_t id_col = 0, seg_col = 0;
  bool checked_header = false;
  auto find = [&](const std::string& name) {
    const auto it = std::find(header.begin(), header.end(), name);
    if (it == header.end())
      throw ParseError(path, 0, 1, "",
                       "no '" + name +
                           "' column (expected the id,segment "
                           "header of a segcore kmeans labels.csv)");
    return static_cast<std::size_t>(it - header.begin());
  };
  io::for_each_csv_record(
      path, header,
      [&](const std::vector<std::string_view>& fields, std::uint64_t row, std::uint64_t line) {
        if (!checked_header) {
          seg_col = find("segment");
          if (need_ids) id_col = find("id");
          checked_header = true;
        }
        const std::string_view text = fields[seg_col];
        std::int32_t v = 0;
        const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
        if (text.empty() || ec != std::errc() || ptr != text.data() + text.size())
          throw ParseError(path, row, line, "segment",
                           "'" + std::string(text) + "' is not an integer segment number");
        if (v < 0 || (model_k > 0 && static_cast<std::size_t>(v) >= model_k))
          throw ParseError(
              path, row, line, "segment",
              "segment " + std::to_string(v) + " is out of range" +
                  (model_k > 0 ? " [0, " + std::to_string(model_k) + ") (k from model.json)"
                               : std::string(" (must be >= 0)")));
        out.segments.push_back(v);
        out.lines.push_back(line);
        if (need_ids) out.ids.emplace_back(fields[id_col]);
      });
  if (!checked_header) find("segment");  // header only: still say what is wrong with it
  if (out.segments.empty()) throw ParseError(path, 0, 0, "", "no data rows");
  std::int32_t max_label = 0;
  for (std::int32_t v : out.segments) max_label = std::max(max_label, v);
  out.k = model_k > 0 ? model_k : static_cast<std::size_t>(max_label) + 1;
  return out;
}

/// The segment of every input row: joined by id, or taken in row order.
std::vector<std::int32_t> join_labels(const io::Dataset& data, const LabelsFile& labels,
                                      const std::string& labels_path,
                                      const std::string& id_column) {
  if (id_column.empty()) {
    if (labels.segments.size() != data.rows)
      throw InvalidArgument(labels_path + " has " + std::to_string(labels.segments.size()) +
                            " rows but " + data.source + " has " + std::to_string(data.rows) +
                            " (rows are matched in order; give --id-column to join by id)");
    return labels.segments;
  }
  std::unordered_map<std::string_view, std::size_t> index;
  index.reserve(labels.ids.size());
  for (std::size_t r = 0; r < labels.ids.size(); ++r) {
    const auto [it, inserted] = index.emplace(labels.ids[r], r);
    if (!inserted)
      throw ParseError(labels_path, r + 1, labels.lines[r], "id",
                       "duplicate id '" + labels.ids[r] + "' (also on row " +
                           std::to_string(it->second + 1) + ")");
  }
  std::vector<std::int32_t> out(data.rows);
  for (std::size_t i = 0; i < data.rows; ++i) {
    const std::string_view id(data.id_chars.data() + data.id_offsets[i],
                              data.id_offsets[i + 1] - data.id_offsets[i]);
    const auto it = index.find(id);
    if (it == index.end())
      throw ParseError(data.source, i + 1, 0, id_column,
                       "id '" + std::string(id) + "' has no row in " + labels_path);
    out[i] = labels.segments[it->second];
  }
  return out;
}

/// A number for the CSV; NaN (not available) is an empty field.
std::string cell(double v) { return std::isnan(v) ? std::string() : io::format_double(v); }

void run_regress(const RegressOptions& o) {
  // Arguments first, so that a bad flag costs no reading.
  if (o.features.empty()) throw InvalidArgument("--features needs at least one column");
  for (std::size_t f = 0; f < o.features.size(); ++f) {
    if (o.features[f].empty()) throw InvalidArgument("--features has an empty column name");
    if (o.features[f] == o.target)
      throw InvalidArgument("--target " + o.target + " is also listed in --features");
    for (std::size_t g = 0; g < f; ++g)
      if (o.features[g] == o.features[f])
        throw InvalidArgument("--features lists " + o.features[f] + " twice");
  }
  if (o.target.empty()) throw InvalidArgument("--target must name a column");
  if (!(o.ridge >= 0) || !std::isfinite(o.ridge))
    throw InvalidArgument("--ridge must be a finite number >= 0");
  if (o.threads < 0) throw InvalidArgument("--threads must be >= 0 (0 = all)");
  const Device device = device_option(o.device);
  require_device(device);

  Timer timer;
  io::TableOptions table;
  table.columns = o.features;
  table.columns.push_back(o.target);
  table.id_column = o.id_column;
  table.weight_column = o.weight_column;
  const io::Dataset data = io::read_csv(o.input, table);
  const LabelsFile labels_file = read_labels(o.labels, !o.id_column.empty());
  const std::vector<std::int32_t> labels = join_labels(data, labels_file, o.labels, o.id_column);
  const double t_read = timer.lap();

  const std::size_t n = data.rows, p = o.features.size(), cols = p + 1;
  std::vector<double> x(n * p), y(n);
  for (std::size_t i = 0; i < n; ++i) {
    std::copy_n(data.values.data() + i * cols, p, x.data() + i * p);
    y[i] = data.values[i * cols + p];
  }
  RegressParams params;
  params.intercept = !o.no_intercept;
  params.ridge = o.ridge;
  params.threads = o.threads;
  params.device = device;
  const SegmentRegression fit = regress_by_segment<double>(
      {x.data(), n, p}, y.data(), data.weights.empty() ? nullptr : data.weights.data(),
      labels.data(), labels_file.k, params);
  const double t_fit = timer.lap();

  std::string text = "segment,n,weight";
  for (const auto& f : o.features) {
    text += ',';
    io::append_csv_field(text, f);
  }
  if (params.intercept) text += ",intercept";
  for (const auto& f : o.features) {
    text += ',';
    io::append_csv_field(text, "se_" + f);
  }
  if (params.intercept) text += ",se_intercept";
  text += ",r2,rss,rank,status\n";
  const std::size_t q = fit.features + (fit.intercept ? 1 : 0);
  for (std::size_t j = 0; j < fit.k; ++j) {
    const SegmentFit& s = fit.segments[j];
    text += std::to_string(j) + ',' + std::to_string(s.rows) + ',' + io::format_double(s.weight);
    for (std::size_t c = 0; c < q; ++c) text += ',' + cell(s.coef[c]);
    for (std::size_t c = 0; c < q; ++c) text += ',' + cell(s.std_error[c]);
    text += ',' + cell(s.r2) + ',' + cell(s.rss) + ',' + std::to_string(s.rank) + ',' +
            regress_status_name(s.status) + '\n';
  }
  io::AtomicFile out(o.out);
  out.stream() << text;
  out.commit();
  const double t_write = timer.lap();

  std::vector<std::vector<std::string>> rows = {{"segment", "n", "r2", "rss", "status"}};
  std::size_t not_ok = 0;
  for (std::size_t j = 0; j < fit.k; ++j) {
    const SegmentFit& s = fit.segments[j];
    rows.push_back(
        {std::to_string(j), std::to_string(s.rows), std::isnan(s.r2) ? "-" : fixed(s.r2, 4),
         std::isnan(s.rss) ? "-" : io::format_double(s.rss), regress_status_name(s.status)});
    if (s.status != RegressStatus::kOk) ++not_ok;
  }
  if (not_ok > 0)
    warn(std::to_string(not_ok) + " of " + std::to_string(fit.k) +
         " segments could not be fitted fully (see the status column)");
  std::cout << "segcore regress: " << o.target << " on " << p << " features, " << n << " rows from "
            << data.source << ", k = " << fit.k << " segments ("
            << (o.id_column.empty() ? "rows matched in order" : "joined by " + o.id_column) << ")\n"
            << format_table(rows) << "read " << fixed(t_read, 3) << " s, fit " << fixed(t_fit, 3)
            << " s (sums on " << fit.backend << "), write " << fixed(t_write, 3) << " s\n"
            << "wrote " << out.path() << "\n";
}

}  // namespace

void add_regress_command(CLI::App& app) {
  auto opt = std::make_shared<RegressOptions>();
  CLI::App* cmd = app.add_subcommand(
      "regress", "Fit a linear regression of a target on features within each segment");
  cmd->add_option("input", opt->input, "Input CSV")->required();
  cmd->add_option("--labels", opt->labels, "labels.csv of a segcore kmeans run (id,segment)")
      ->required();
  cmd->add_option("--target", opt->target, "Column to predict")->required();
  cmd->add_option("--features", opt->features, "Feature columns, comma-separated")
      ->required()
      ->delimiter(',');
  cmd->add_option("--out", opt->out, "Output CSV, one row per segment")->required();
  cmd->add_option("--id-column", opt->id_column,
                  "Join labels by this id column (default: by row order)");
  cmd->add_option("--weight-column", opt->weight_column,
                  "Frequency weights (a row of weight w counts as w rows)");
  cmd->add_option("--ridge", opt->ridge, "Ridge penalty on the feature coefficients")
      ->capture_default_str();
  cmd->add_flag("--no-intercept", opt->no_intercept, "Fit without an intercept");
  add_device_option(cmd, opt->device, "where the per-segment sums run (solves: CPU)");
  cmd->add_option("--threads", opt->threads, "CPU threads (0 = all)")->capture_default_str();
  cmd->callback([opt] { run_regress(*opt); });
}

}  // namespace segcore::app
