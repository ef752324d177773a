#include <algorithm>
#include <cmath>
#include <limits>

#include "segcore/error.hpp"
#include "segcore/pipeline.hpp"

namespace segcore {

Scaling parse_scaling(const std::string& name) {
  if (name == "standard") return Scaling::kStandard;
  if (name == "none") return Scaling::kNone;
  throw InvalidArgument("unknown scaling '" + name + "' (expected standard or none)");
}

const char* scaling_name(Scaling scaling) {
  return scaling == Scaling::kStandard ? "standard" : "none";
}

Scaler Scaler::fit(ConstMatrixView<double> x, const double* weights, std::vector<bool> log1p,
                   Scaling scaling) {
  const std::size_t d = x.cols;
  if (log1p.empty()) log1p.assign(d, false);
  if (log1p.size() != d) throw InvalidArgument("scaler: one log1p flag per column expected");
  Scaler s;
  s.scaling = scaling;
  s.log1p = std::move(log1p);
  s.mean.assign(d, 0.0);
  s.scale.assign(d, 1.0);
  if (scaling == Scaling::kNone) return s;
  auto value = [&](std::size_t i, std::size_t f) {
    return s.log1p[f] ? std::log1p(x(i, f)) : x(i, f);
  };
  double total = 0.0;
  for (std::size_t i = 0; i < x.rows; ++i) total += weights ? weights[i] : 1.0;
  if (!(total > 0.0)) throw InvalidArgument("scaler: total weight is zero");
  for (std::size_t f = 0; f < d; ++f) {
    double sum = 0.0;
    for (std::size_t i = 0; i < x.rows; ++i) sum += (weights ? weights[i] : 1.0) * value(i, f);
    const double mean = sum / total;
    double ss = 0.0;
    for (std::size_t i = 0; i < x.rows; ++i) {
      const double dev = value(i, f) - mean;
      ss += (weights ? weights[i] : 1.0) * dev * dev;
    }
    const double sd = std::sqrt(ss / total);
    s.mean[f] = mean;
    // As scikit-learn: a (near-)constant column is centred but not divided.
    s.scale[f] = sd > 10.0 * std::numeric_limits<double>::epsilon() * std::max(1.0, std::abs(mean))
                     ? sd
                     : 1.0;
  }
  return s;
}

std::optional<std::pair<std::size_t, std::size_t>> Scaler::find_log1p_violation(
    ConstMatrixView<double> x, const std::vector<bool>& log1p) {
  for (std::size_t i = 0; i < x.rows; ++i)
    for (std::size_t f = 0; f < x.cols; ++f)
      if (f < log1p.size() && log1p[f] && !(x(i, f) > -1.0)) return std::make_pair(i, f);
  return std::nullopt;
}

void Scaler::transform(MatrixView<double> x) const {
  if (x.cols != dims()) throw InvalidArgument("scaler: column count differs from the fitted one");
  if (auto bad = find_log1p_violation(x, log1p))
    throw InvalidArgument("log1p needs values > -1: row " + std::to_string(bad->first) +
                          ", column " + std::to_string(bad->second));
  for (std::size_t i = 0; i < x.rows; ++i)
    for (std::size_t f = 0; f < x.cols; ++f) {
      double v = x(i, f);
      if (log1p[f]) v = std::log1p(v);
      x(i, f) = (v - mean[f]) / scale[f];
    }
}

void Scaler::inverse_transform(MatrixView<double> x) const {
  if (x.cols != dims()) throw InvalidArgument("scaler: column count differs from the fitted one");
  for (std::size_t i = 0; i < x.rows; ++i)
    for (std::size_t f = 0; f < x.cols; ++f) {
      double v = x(i, f) * scale[f] + mean[f];
      x(i, f) = log1p[f] ? std::expm1(v) : v;
    }
}

}  // namespace segcore
