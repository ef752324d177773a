// segcore command line: reading a feature table and putting it in the space K-means runs in.
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "segcore/io.hpp"
#include "segcore/pipeline.hpp"

namespace segcore::app {

/// The flags every clustering command shares.
struct FeatureOptions {
  std::vector<std::string> columns;
  std::string id_column;
  std::string weight_column;
  std::string scale = "standard";
  std::vector<std::string> log1p;
};

/// An input table, its fitted scaler and the scaled copy of its values.
struct Features {
  io::Dataset data;            ///< as read, original units
  Scaler scaler;               ///< fitted on data (weighted when there is a weight column)
  std::vector<double> scaled;  ///< n x d, log1p + scaling applied
  std::size_t rows() const { return data.rows; }
  std::size_t cols() const { return data.cols(); }
  const double* weights() const { return data.weights.empty() ? nullptr : data.weights.data(); }
};

/// values (n x d) scaled by `scaler` and rounded to float, in blocks of rows: the same numbers as
/// transforming a double copy and converting it, without holding the n x d double copy.
std::vector<float> scale_to_float(const Scaler& scaler, const std::vector<double>& values,
                                  std::size_t d);

/// Checks the options that need no reading (throws InvalidArgument).
void check_feature_options(const FeatureOptions& options);

/// Reads INPUT (CSV or .npy), checks log1p's domain (ParseError with file/row/column) and
/// scales.
Features load_features(const std::string& input, const FeatureOptions& options);

/// log1p flags for `features` from the names in `log1p` (InvalidArgument for a name that is not
/// a feature).
std::vector<bool> log1p_flags(const std::vector<std::string>& features,
                              const std::vector<std::string>& log1p);

/// ParseError naming `source`, the 1-based row and the column when a log1p column of values
/// (rows x names.size()) holds a value <= -1.
void check_log1p_domain(const std::string& source, const std::vector<std::string>& names,
                        const std::vector<bool>& flags, const std::vector<double>& values,
                        std::size_t rows);

/// The shared flags as given, for a report's "params" (scale, log1p, id_column, weight_column).
nlohmann::json feature_params(const FeatureOptions& options);

/// Registers the shared flags on a subcommand.
void add_feature_flags(CLI::App* cmd, FeatureOptions& options);

}  // namespace segcore::app
