#include "features.hpp"

#include <algorithm>

#include "commands.hpp"
#include "segcore/error.hpp"

namespace segcore::app {

void check_feature_options(const FeatureOptions& o) { (void)parse_scaling(o.scale); }

std::vector<bool> log1p_flags(const std::vector<std::string>& features,
                              const std::vector<std::string>& log1p) {
  std::vector<bool> flags(features.size(), false);
  for (const auto& name : log1p) {
    bool found = false;
    for (std::size_t f = 0; f < features.size(); ++f)
      if (features[f] == name) flags[f] = found = true;
    if (!found) throw InvalidArgument("--log1p column '" + name + "' is not one of the features");
  }
  return flags;
}

void check_log1p_domain(const std::string& source, const std::vector<std::string>& names,
                        const std::vector<bool>& flags, const std::vector<double>& values,
                        std::size_t rows) {
  if (auto bad = Scaler::find_log1p_violation({values.data(), rows, flags.size()}, flags))
    throw ParseError(source, bad->first + 1, 0, names[bad->second],
                     "log1p needs values > -1 (got " +
                         io::format_double(values[bad->first * flags.size() + bad->second]) + ")");
}

Features load_features(const std::string& input, const FeatureOptions& o) {
  Features f;
  io::TableOptions topt;
  topt.columns = o.columns;
  topt.id_column = o.id_column;
  topt.weight_column = o.weight_column;
  f.data = io::read_table(input, topt);
  const std::size_t n = f.data.rows, d = f.data.cols();
  const std::vector<bool> flags = log1p_flags(f.data.feature_names, o.log1p);
  check_log1p_domain(f.data.source, f.data.feature_names, flags, f.data.values, n);
  f.scaler = Scaler::fit({f.data.values.data(), n, d}, f.weights(), flags, parse_scaling(o.scale));
  f.scaled = f.data.values;
  f.scaler.transform({f.scaled.data(), n, d});
  return f;
}

std::vector<float> scale_to_float(const Scaler& scaler, const std::vector<double>& values,
                                  std::size_t d) {
  const std::size_t n = values.size() / d, block = 4096;
  std::vector<float> out(n * d);
  std::vector<double> buf;
  for (std::size_t i0 = 0; i0 < n; i0 += block) {
    const std::size_t rows = std::min(block, n - i0);
    buf.assign(values.begin() + static_cast<std::ptrdiff_t>(i0 * d),
               values.begin() + static_cast<std::ptrdiff_t>((i0 + rows) * d));
    scaler.transform({buf.data(), rows, d});
    std::copy(buf.begin(), buf.end(), out.begin() + static_cast<std::ptrdiff_t>(i0 * d));
  }
  return out;
}

void add_feature_flags(CLI::App* cmd, FeatureOptions& o) {
  cmd->add_option("--columns", o.columns, "Feature columns (default: numeric columns)")
      ->delimiter(',');
  cmd->add_option("--id-column", o.id_column, "Column with the row id");
  cmd->add_option("--weight-column", o.weight_column, "Column with sample weights");
  cmd->add_option("--scale", o.scale, "standard | none")
      ->capture_default_str()
      ->check(accepted_by(parse_scaling));
  cmd->add_option("--log1p", o.log1p, "Columns to log1p before scaling")->delimiter(',');
}

nlohmann::json feature_params(const FeatureOptions& o) {
  return {{"scale", o.scale},
          {"log1p", o.log1p},
          {"id_column", o.id_column},
          {"weight_column", o.weight_column}};
}

}  // namespace segcore::app
