#include "segcore/segment.hpp"

#include <Eigen/Dense>
#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <map>
#include <unordered_map>

#include "segcore/error.hpp"

namespace segcore {
namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

/// Retail words for a feature's high and low side; empty when the feature has none.
std::pair<std::string, std::string> feature_words(const std::string& feature) {
  static const std::map<std::string, std::pair<std::string, std::string>> words = {
      {"recency_days", {"lapsed", "recent"}},
      {"recency", {"lapsed", "recent"}},
      {"frequency", {"frequent", "infrequent"}},
      {"monetary", {"high spend", "low spend"}},
      {"tenure_days", {"long-standing", "new"}},
      {"tenure", {"long-standing", "new"}},
      {"avg_order_value", {"big baskets", "small baskets"}},
      {"return_rate", {"many returns", "few returns"}},
      {"annual_income_thousands", {"high income", "low income"}},
      {"income", {"high income", "low income"}},
      {"spending_score", {"high spending score", "low spending score"}},
      {"age", {"older", "younger"}},
  };
  const auto it = words.find(lower(feature));
  if (it != words.end()) return it->second;
  return {"high " + feature, "low " + feature};
}

constexpr double kStandsOut = 0.5;  // |z| from which a feature is worth naming

}  // namespace

std::vector<SegmentName> name_segments(ConstMatrixView<double> z,
                                       const std::vector<std::string>& features) {
  if (z.cols != features.size()) throw InvalidArgument("name_segments: one name per column");
  auto find = [&](std::initializer_list<const char*> names) -> int {
    for (std::size_t f = 0; f < features.size(); ++f)
      for (const char* n : names)
        if (lower(features[f]) == n) return static_cast<int>(f);
    return -1;
  };
  const int rec = find({"recency_days", "recency"}), fre = find({"frequency"}),
            mon = find({"monetary"}), ten = find({"tenure_days", "tenure"});
  const bool rfm = rec >= 0 && fre >= 0 && mon >= 0;

  std::vector<SegmentName> out(z.rows);
  std::map<std::string, int> used;
  for (std::size_t j = 0; j < z.rows; ++j) {
    // The description: features that stand out, strongest first.
    std::vector<std::size_t> order(z.cols);
    for (std::size_t f = 0; f < z.cols; ++f) order[f] = f;
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      return std::abs(z(j, a)) > std::abs(z(j, b));
    });
    std::string phrase;
    for (std::size_t r = 0; r < order.size() && r < 3; ++r) {
      const double v = z(j, order[r]);
      if (std::abs(v) < kStandsOut) break;
      const auto w = feature_words(features[order[r]]);
      phrase += (phrase.empty() ? "" : ", ") + (v > 0 ? w.first : w.second);
    }
    if (phrase.empty()) phrase = "typical";
    out[j].description = phrase;

    std::string label;
    if (rfm) {
      const double r = z(j, rec), f = z(j, fre), m = z(j, mon);
      const double t = ten >= 0 ? z(j, ten) : 0.0;
      if (r < -0.3 && f > 0.5 && m > 0.5) {
        label = "champions";
      } else if (f > 0.3 && r < 0.3) {
        label = "loyal";
      } else if (ten >= 0 && t < -0.5 && r < -0.3) {
        label = "new";
      } else if (r > 1.0 && f < 0.0) {
        label = "lost";
      } else if (r > 0.3 && (f > 0.0 || m > 0.0)) {
        label = "at risk";
      } else if (r > 0.3) {
        label = "hibernating";
      }
    }
    if (label.empty()) label = phrase;
    const int seen = used[label]++;
    out[j].label = seen == 0 ? label : label + " " + std::to_string(seen + 1);
  }
  return out;
}

std::vector<int> optimal_assignment(const std::vector<double>& cost, std::size_t rows,
                                    std::size_t cols) {
  if (cost.size() != rows * cols)
    throw InvalidArgument("optimal_assignment: cost is not rows x cols");
  if (rows == 0) return {};
  if (rows > cols) {
    // Solve the transpose, then invert the matching.
    std::vector<double> t(cost.size());
    for (std::size_t i = 0; i < rows; ++i)
      for (std::size_t j = 0; j < cols; ++j) t[j * rows + i] = cost[i * cols + j];
    const std::vector<int> col_to_row = optimal_assignment(t, cols, rows);
    std::vector<int> out(rows, -1);
    for (std::size_t j = 0; j < cols; ++j) out[col_to_row[j]] = static_cast<int>(j);
    return out;
  }
  // Hungarian algorithm with potentials (rows <= cols), 1-based internally.
  const double inf = std::numeric_limits<double>::infinity();
  const std::size_t n = rows, m = cols;
  std::vector<double> u(n + 1, 0.0), v(m + 1, 0.0);
  std::vector<std::size_t> p(m + 1, 0), way(m + 1, 0);
  for (std::size_t i = 1; i <= n; ++i) {
    p[0] = i;
    std::size_t j0 = 0;
    std::vector<double> minv(m + 1, inf);
    std::vector<char> used(m + 1, 0);
    do {
      used[j0] = 1;
      const std::size_t i0 = p[j0];
      double delta = inf;
      std::size_t j1 = 0;
      for (std::size_t j = 1; j <= m; ++j) {
        if (used[j]) continue;
        const double cur = cost[(i0 - 1) * m + (j - 1)] - u[i0] - v[j];
        if (cur < minv[j]) {
          minv[j] = cur;
          way[j] = j0;
        }
        if (minv[j] < delta) {
          delta = minv[j];
          j1 = j;
        }
      }
      for (std::size_t j = 0; j <= m; ++j) {
        if (used[j]) {
          u[p[j]] += delta;
          v[j] -= delta;
        } else {
          minv[j] -= delta;
        }
      }
      j0 = j1;
    } while (p[j0] != 0);
    do {
      const std::size_t j1 = way[j0];
      p[j0] = p[j1];
      j0 = j1;
    } while (j0 != 0);
  }
  std::vector<int> out(n, -1);
  for (std::size_t j = 1; j <= m; ++j)
    if (p[j] != 0) out[p[j] - 1] = static_cast<int>(j - 1);
  return out;
}

std::vector<std::array<double, 4>> ward_linkage(ConstMatrixView<double> c,
                                                const std::vector<double>& sizes) {
  const std::size_t k = c.rows, d = c.cols;
  if (sizes.size() != k) throw InvalidArgument("ward_linkage: one size per centroid");
  struct Cluster {
    std::size_t id;
    double weight;
    double leaves;
    std::vector<double> centre;
  };
  std::vector<Cluster> live;
  for (std::size_t j = 0; j < k; ++j) {
    if (!(sizes[j] > 0)) throw InvalidArgument("ward_linkage: sizes must be positive");
    live.push_back({j, sizes[j], 1.0, std::vector<double>(c.row(j), c.row(j) + d)});
  }
  std::vector<std::array<double, 4>> out;
  for (std::size_t step = 0; step + 1 < k; ++step) {
    std::size_t ba = 0, bb = 1;
    double best = std::numeric_limits<double>::infinity();
    for (std::size_t a = 0; a < live.size(); ++a)
      for (std::size_t b = a + 1; b < live.size(); ++b) {
        double sq = 0.0;
        for (std::size_t f = 0; f < d; ++f) {
          const double diff = live[a].centre[f] - live[b].centre[f];
          sq += diff * diff;
        }
        const double wa = live[a].weight, wb = live[b].weight;
        const double dist = std::sqrt(2.0 * wa * wb / (wa + wb) * sq);
        if (dist < best) {
          best = dist;
          ba = a;
          bb = b;
        }
      }
    Cluster& A = live[ba];
    const Cluster& B = live[bb];
    const double w = A.weight + B.weight;
    out.push_back({static_cast<double>(std::min(A.id, B.id)),
                   static_cast<double>(std::max(A.id, B.id)), best, A.leaves + B.leaves});
    for (std::size_t f = 0; f < d; ++f)
      A.centre[f] = (A.weight * A.centre[f] + B.weight * B.centre[f]) / w;
    A.weight = w;
    A.leaves += B.leaves;
    A.id = k + step;
    live.erase(live.begin() + static_cast<std::ptrdiff_t>(bb));
  }
  return out;
}

void Pca::project(const double* x, double* out) const {
  for (std::size_t j = 0; j < components; ++j) {
    double s = 0.0;
    for (std::size_t f = 0; f < d; ++f) s += (x[f] - mean[f]) * axes[f * components + j];
    out[j] = s;
  }
}

Pca fit_pca(ConstMatrixView<double> x, std::size_t components) {
  const std::size_t n = x.rows, d = x.cols;
  if (n < 2 || d == 0) throw InvalidArgument("PCA needs at least 2 rows and 1 column");
  components = std::min(components, d);
  Pca p;
  p.d = d;
  p.components = components;
  p.mean.assign(d, 0.0);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t f = 0; f < d; ++f) p.mean[f] += x(i, f);
  for (double& m : p.mean) m /= static_cast<double>(n);
  Eigen::MatrixXd cov =
      Eigen::MatrixXd::Zero(static_cast<Eigen::Index>(d), static_cast<Eigen::Index>(d));
  Eigen::VectorXd row(static_cast<Eigen::Index>(d));
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t f = 0; f < d; ++f) row[static_cast<Eigen::Index>(f)] = x(i, f) - p.mean[f];
    cov.selfadjointView<Eigen::Lower>().rankUpdate(row);
  }
  cov = cov.selfadjointView<Eigen::Lower>();
  cov /= static_cast<double>(n - 1);
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(cov);
  const Eigen::VectorXd values = eig.eigenvalues();  // ascending
  const double total = std::max(values.sum(), 0.0);
  p.axes.assign(d * components, 0.0);
  p.explained.assign(components, 0.0);
  for (std::size_t j = 0; j < components; ++j) {
    const Eigen::Index col = static_cast<Eigen::Index>(d - 1 - j);
    Eigen::VectorXd v = eig.eigenvectors().col(col);
    Eigen::Index arg = 0;
    v.cwiseAbs().maxCoeff(&arg);
    if (v[arg] < 0) v = -v;
    for (std::size_t f = 0; f < d; ++f)
      p.axes[f * components + j] = v[static_cast<Eigen::Index>(f)];
    p.explained[j] = total > 0 ? std::max(values[col], 0.0) / total : 0.0;
  }
  return p;
}

Migration migration_table(const std::vector<std::string>& old_ids,
                          const std::vector<std::int32_t>& old_labels, std::size_t k_old,
                          const std::vector<std::string>& new_ids,
                          const std::vector<std::int32_t>& new_labels, std::size_t k_new) {
  if (old_ids.size() != old_labels.size() || new_ids.size() != new_labels.size())
    throw InvalidArgument("migration_table: one label per id");
  Migration m;
  m.k_old = k_old;
  m.k_new = k_new;
  m.table.assign((k_old + 1) * (k_new + 1), 0);
  std::vector<char> seen(old_ids.size(), 0);
  std::unordered_map<std::string, std::size_t> old_index;
  old_index.reserve(old_ids.size());
  for (std::size_t i = 0; i < old_ids.size(); ++i) {
    if (old_labels[i] < 0 || static_cast<std::size_t>(old_labels[i]) >= k_old)
      throw InvalidArgument("migration_table: old label out of range for id '" + old_ids[i] + "'");
    old_index.emplace(old_ids[i], i);
  }
  for (std::size_t i = 0; i < new_ids.size(); ++i) {
    const auto it = old_index.find(new_ids[i]);
    const std::size_t row =
        it == old_index.end() ? k_old : static_cast<std::size_t>(old_labels[it->second]);
    if (it != old_index.end()) seen[it->second] = 1;
    ++m.table[row * (k_new + 1) + static_cast<std::size_t>(new_labels[i])];
  }
  for (std::size_t i = 0; i < old_ids.size(); ++i)
    if (!seen[i]) ++m.table[static_cast<std::size_t>(old_labels[i]) * (k_new + 1) + k_new];
  return m;
}

double column_skewness(ConstMatrixView<double> x, std::size_t f) {
  const std::size_t n = x.rows;
  if (n < 3) return 0.0;
  double mean = 0.0;
  for (std::size_t i = 0; i < n; ++i) mean += x(i, f);
  mean /= static_cast<double>(n);
  double m2 = 0.0, m3 = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    const double dv = x(i, f) - mean;
    m2 += dv * dv;
    m3 += dv * dv * dv;
  }
  m2 /= static_cast<double>(n);
  m3 /= static_cast<double>(n);
  return m2 > 0 ? m3 / std::pow(m2, 1.5) : 0.0;
}

}  // namespace segcore
