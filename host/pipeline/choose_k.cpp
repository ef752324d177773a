// Cluster-quality metrics with scikit-learn's definitions, and the scan over k behind
// `segcore choose-k`.
#include "segcore/choose_k.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <tuple>
#include <vector>

#include "parallel.hpp"
#include "segcore/error.hpp"

#if defined(__SSE2__) || (defined(__GNUC__) && defined(__x86_64__))
#include <immintrin.h>
#endif

namespace segcore {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

void check_inputs(const char* what, ConstMatrixView<double> x, const std::int32_t* labels,
                  std::size_t k) {
  if (x.rows == 0 || x.cols == 0 || x.data == nullptr)
    throw InvalidArgument(std::string(what) + ": x is empty (" + std::to_string(x.rows) + " x " +
                          std::to_string(x.cols) + ")");
  if (labels == nullptr) throw InvalidArgument(std::string(what) + ": labels is null");
  if (k < 1) throw InvalidArgument(std::string(what) + ": k must be at least 1");
  for (std::size_t i = 0; i < x.rows; ++i)
    if (labels[i] < 0 || static_cast<std::size_t>(labels[i]) >= k)
      throw InvalidArgument(std::string(what) + ": label " + std::to_string(labels[i]) +
                            " of row " + std::to_string(i) + " is outside 0.." +
                            std::to_string(k - 1));
}

/// scikit-learn's check_number_of_labels, as a message (empty when the count is valid).
std::string label_count_problem(std::size_t n_labels, std::size_t n_samples) {
  if (n_labels >= 2 && n_labels + 1 <= n_samples) return {};
  return "number of labels is " + std::to_string(n_labels) +
         "; valid values are 2 to n_samples - 1 = " +
         std::to_string(n_samples >= 1 ? n_samples - 1 : 0) + " (inclusive)";
}

/// Per-cluster row counts, sums and means over all rows; clusters with no row are dropped so the
/// remaining ones are exactly scikit-learn's LabelEncoder classes, in label order.
struct ClusterMeans {
  std::vector<std::size_t> count;     // L
  std::vector<double> mean;           // L x d
  std::vector<std::int64_t> compact;  // k: label -> 0..L-1, or -1 when absent
  std::size_t labels() const { return count.size(); }
};

ClusterMeans cluster_means(ConstMatrixView<double> x, const std::int32_t* labels, std::size_t k) {
  const std::size_t n = x.rows, d = x.cols;
  std::vector<std::size_t> count(k, 0);
  std::vector<double> sum(k * d, 0.0);
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t c = static_cast<std::size_t>(labels[i]);
    ++count[c];
    const double* xi = x.row(i);
    for (std::size_t f = 0; f < d; ++f) sum[c * d + f] += xi[f];
  }
  ClusterMeans m;
  m.compact.assign(k, -1);
  for (std::size_t c = 0; c < k; ++c) {
    if (count[c] == 0) continue;
    m.compact[c] = static_cast<std::int64_t>(m.count.size());
    m.count.push_back(count[c]);
    for (std::size_t f = 0; f < d; ++f)
      m.mean.push_back(sum[c * d + f] / static_cast<double>(count[c]));
  }
  return m;
}

double calinski_harabasz(ConstMatrixView<double> x, const std::int32_t* labels,
                         const ClusterMeans& cm) {
  const std::size_t n = x.rows, d = x.cols, L = cm.labels();
  std::vector<double> overall(d, 0.0);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t f = 0; f < d; ++f) overall[f] += x(i, f);
  for (auto& v : overall) v /= static_cast<double>(n);
  double extra = 0.0, intra = 0.0;
  for (std::size_t c = 0; c < L; ++c) {
    double s = 0.0;
    for (std::size_t f = 0; f < d; ++f) {
      const double diff = cm.mean[c * d + f] - overall[f];
      s += diff * diff;
    }
    extra += static_cast<double>(cm.count[c]) * s;
  }
  for (std::size_t i = 0; i < n; ++i) {
    const double* mu = &cm.mean[static_cast<std::size_t>(cm.compact[labels[i]]) * d];
    for (std::size_t f = 0; f < d; ++f) {
      const double diff = x(i, f) - mu[f];
      intra += diff * diff;
    }
  }
  if (intra == 0.0) return 1.0;
  return extra * static_cast<double>(n - L) / (intra * static_cast<double>(L - 1));
}

double davies_bouldin(ConstMatrixView<double> x, const std::int32_t* labels,
                      const ClusterMeans& cm) {
  const std::size_t n = x.rows, d = x.cols, L = cm.labels();
  std::vector<double> spread(L, 0.0);
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t c = static_cast<std::size_t>(cm.compact[labels[i]]);
    const double* mu = &cm.mean[c * d];
    double s = 0.0;
    for (std::size_t f = 0; f < d; ++f) {
      const double diff = x(i, f) - mu[f];
      s += diff * diff;
    }
    spread[c] += std::sqrt(s);
  }
  for (std::size_t c = 0; c < L; ++c) spread[c] /= static_cast<double>(cm.count[c]);
  std::vector<double> dist(L * L, 0.0);
  for (std::size_t a = 0; a < L; ++a)
    for (std::size_t b = 0; b < L; ++b) {
      double s = 0.0;
      for (std::size_t f = 0; f < d; ++f) {
        const double diff = cm.mean[a * d + f] - cm.mean[b * d + f];
        s += diff * diff;
      }
      dist[a * L + b] = std::sqrt(s);
    }
  // numpy.allclose(v, 0) with its default atol = 1e-8: scikit-learn returns 0 in both cases.
  const auto all_near_zero = [](const std::vector<double>& v) {
    return std::all_of(v.begin(), v.end(), [](double e) { return std::abs(e) <= 1e-8; });
  };
  if (all_near_zero(spread) || all_near_zero(dist)) return 0.0;
  double total = 0.0;
  for (std::size_t a = 0; a < L; ++a) {
    double worst = -std::numeric_limits<double>::infinity();
    for (std::size_t b = 0; b < L; ++b) {
      // Coinciding centroids (the diagonal included) count as infinitely far, as in scikit-learn.
      const double dab =
          dist[a * L + b] == 0.0 ? std::numeric_limits<double>::infinity() : dist[a * L + b];
      worst = std::max(worst, (spread[a] + spread[b]) / dab);
    }
    total += worst;
  }
  return total / static_cast<double>(L);
}

/// m of n row indices, uniformly without replacement, ascending (Knuth's selection sampling:
/// one pass, no memory beyond the output, and a function of seed alone).
std::vector<std::size_t> sample_rows(std::size_t n, std::size_t sample_size, std::uint64_t seed) {
  std::vector<std::size_t> rows;
  if (sample_size == 0 || sample_size >= n) {
    rows.resize(n);
    for (std::size_t i = 0; i < n; ++i) rows[i] = i;
    return rows;
  }
  rows.reserve(sample_size);
  // Salted so that the silhouette's sample is not the stream K-means seeding draws from.
  detail::Rng rng(detail::mix64(seed ^ 0x73696c686f756574ULL));
  for (std::size_t i = 0; i < n && rows.size() < sample_size; ++i) {
    const double remaining = static_cast<double>(n - i);
    if (remaining * rng.uniform() < static_cast<double>(sample_size - rows.size()))
      rows.push_back(i);
  }
  return rows;
}

// ---- the silhouette's inner loop ------------------------------------------------------------
//
// For 4 rows q_0..q_3 at once (sharing each load of the other rows' coordinates), adds
// sqrt(||q_r - y_t||^2) for columns t in [begin, end) of yt (d x m, one column per row y_t) to
// lanes[r][(t - begin) % 4]. Every variant does the same operations in the same order for each
// element (squared differences summed over features in order, a correctly rounded sqrt, no fused
// multiply-add), so they give bitwise-identical sums; they differ only in how many lanes one
// instruction carries. Intrinsics rather than plain loops because, without -fno-math-errno,
// compilers keep std::sqrt scalar.

constexpr std::size_t kRows = 4;

/// The tail (and the whole loop where no vector unit is known): one element at a time.
void add_distances_scalar(const double* yt, std::size_t m, std::size_t d, const double* q,
                          std::size_t begin, std::size_t end, std::size_t lane0,
                          double (*lanes)[4]) {
  for (std::size_t t = begin; t < end; ++t)
    for (std::size_t r = 0; r < kRows; ++r) {
      double s = 0.0;
      for (std::size_t f = 0; f < d; ++f) {
        const double diff = q[f * kRows + r] - yt[f * m + t];
        s += diff * diff;
      }
      lanes[r][(lane0 + t - begin) % 4] += std::sqrt(s);
    }
}

#if defined(__SSE2__)
void add_distances_sse2(const double* yt, std::size_t m, std::size_t d, const double* q,
                        std::size_t begin, std::size_t end, double (*lanes)[4]) {
  __m128d acc[kRows][2];
  for (std::size_t r = 0; r < kRows; ++r) {
    acc[r][0] = _mm_loadu_pd(&lanes[r][0]);
    acc[r][1] = _mm_loadu_pd(&lanes[r][2]);
  }
  std::size_t t = begin;
  for (; t + 4 <= end; t += 4) {
    __m128d s[kRows][2];
    for (std::size_t r = 0; r < kRows; ++r) s[r][0] = s[r][1] = _mm_setzero_pd();
    for (std::size_t f = 0; f < d; ++f) {
      const __m128d y0 = _mm_loadu_pd(yt + f * m + t), y1 = _mm_loadu_pd(yt + f * m + t + 2);
      for (std::size_t r = 0; r < kRows; ++r) {
        const __m128d qr = _mm_set1_pd(q[f * kRows + r]);
        const __m128d d0 = _mm_sub_pd(qr, y0), d1 = _mm_sub_pd(qr, y1);
        s[r][0] = _mm_add_pd(s[r][0], _mm_mul_pd(d0, d0));
        s[r][1] = _mm_add_pd(s[r][1], _mm_mul_pd(d1, d1));
      }
    }
    for (std::size_t r = 0; r < kRows; ++r) {
      acc[r][0] = _mm_add_pd(acc[r][0], _mm_sqrt_pd(s[r][0]));
      acc[r][1] = _mm_add_pd(acc[r][1], _mm_sqrt_pd(s[r][1]));
    }
  }
  for (std::size_t r = 0; r < kRows; ++r) {
    _mm_storeu_pd(&lanes[r][0], acc[r][0]);
    _mm_storeu_pd(&lanes[r][2], acc[r][1]);
  }
  add_distances_scalar(yt, m, d, q, t, end, t - begin, lanes);
}
#endif

#if defined(__GNUC__) && defined(__x86_64__)
#define SEGCORE_SILHOUETTE_AVX 1
__attribute__((target("avx"))) void add_distances_avx(const double* yt, std::size_t m,
                                                      std::size_t d, const double* q,
                                                      std::size_t begin, std::size_t end,
                                                      double (*lanes)[4]) {
  __m256d acc[kRows];
  for (std::size_t r = 0; r < kRows; ++r) acc[r] = _mm256_loadu_pd(&lanes[r][0]);
  std::size_t t = begin;
  for (; t + 4 <= end; t += 4) {
    __m256d s[kRows];
    for (std::size_t r = 0; r < kRows; ++r) s[r] = _mm256_setzero_pd();
    for (std::size_t f = 0; f < d; ++f) {
      const __m256d y = _mm256_loadu_pd(yt + f * m + t);
      for (std::size_t r = 0; r < kRows; ++r) {
        const __m256d diff = _mm256_sub_pd(_mm256_set1_pd(q[f * kRows + r]), y);
        s[r] = _mm256_add_pd(s[r], _mm256_mul_pd(diff, diff));
      }
    }
    for (std::size_t r = 0; r < kRows; ++r) acc[r] = _mm256_add_pd(acc[r], _mm256_sqrt_pd(s[r]));
  }
  for (std::size_t r = 0; r < kRows; ++r) _mm256_storeu_pd(&lanes[r][0], acc[r]);
  add_distances_scalar(yt, m, d, q, t, end, t - begin, lanes);
}
#endif

using AddDistances = void (*)(const double*, std::size_t, std::size_t, const double*, std::size_t,
                              std::size_t, double (*)[4]);

/// The widest variant this CPU runs.
AddDistances pick_add_distances() {
#if defined(SEGCORE_SILHOUETTE_AVX)
  if (__builtin_cpu_supports("avx")) return add_distances_avx;
#endif
#if defined(__SSE2__)
  return add_distances_sse2;
#else
  return [](const double* yt, std::size_t m, std::size_t d, const double* q, std::size_t begin,
            std::size_t end,
            double(*lanes)[4]) { add_distances_scalar(yt, m, d, q, begin, end, 0, lanes); };
#endif
}

/// The silhouette over the rows `sample` of x; NaN with `problem` set when the sampled labels do
/// not allow one.
double silhouette_on_sample(ConstMatrixView<double> x, const std::int32_t* labels, std::size_t k,
                            const std::vector<std::size_t>& sample, int threads,
                            std::string* problem) {
  const std::size_t m = sample.size(), d = x.cols;
  // Cluster sizes within the sample, and the sampled rows grouped by cluster (stable, so the
  // order inside a cluster, hence every sum, does not depend on the label numbers).
  std::vector<std::size_t> size(k, 0);
  for (const std::size_t i : sample) ++size[static_cast<std::size_t>(labels[i])];
  std::size_t n_labels = 0;
  for (const std::size_t s : size) n_labels += s > 0;
  *problem = label_count_problem(n_labels, m);
  if (!problem->empty()) return kNaN;

  std::vector<std::size_t> start(k + 1, 0);
  for (std::size_t c = 0; c < k; ++c) start[c + 1] = start[c] + size[c];
  // Transposed (d x m) so that the distances from one row to a run of rows are unit-stride.
  std::vector<double> xt(d * m);
  std::vector<std::size_t> position(m);  // sample slot -> column in xt
  {
    std::vector<std::size_t> next(start.begin(), start.end() - 1);
    for (std::size_t s = 0; s < m; ++s) {
      const std::size_t p = next[static_cast<std::size_t>(labels[sample[s]])]++;
      position[s] = p;
      for (std::size_t f = 0; f < d; ++f) xt[f * m + p] = x(sample[s], f);
    }
  }

  std::vector<double> score(m, 0.0);
  // A task: 32 sampled rows in groups of kRows, each against every cluster's columns in tiles
  // that fit in cache. Tiles start at multiples of 4 from the cluster's first column, so each
  // row's four lane sums see the same columns in the same order whatever the tiling or threads.
  constexpr std::size_t kRowsPerTask = 32, kTile = 1024;
  static const AddDistances add_distances = pick_add_distances();
  const std::size_t tasks = (m + kRowsPerTask - 1) / kRowsPerTask;
  detail::parallel_for(tasks, detail::resolve_threads(threads), [&](std::size_t task) {
    const std::size_t s_begin = task * kRowsPerTask, s_end = std::min(m, s_begin + kRowsPerTask);
    const std::size_t groups = (s_end - s_begin + kRows - 1) / kRows;
    std::vector<double> q(groups * d * kRows);  // per group: d x kRows
    for (std::size_t g = 0; g < groups; ++g)
      for (std::size_t r = 0; r < kRows; ++r) {
        // A short last group repeats its last row; those sums are ignored.
        const std::size_t s = std::min(s_begin + g * kRows + r, s_end - 1);
        for (std::size_t f = 0; f < d; ++f) q[(g * d + f) * kRows + r] = xt[f * m + position[s]];
      }
    std::vector<double> sums((s_end - s_begin) * k, 0.0);  // row x cluster
    std::vector<double> lanes(groups * kRows * 4);
    for (std::size_t c = 0; c < k; ++c) {
      if (size[c] == 0) continue;
      std::fill(lanes.begin(), lanes.end(), 0.0);
      for (std::size_t j = start[c]; j < start[c + 1]; j += kTile) {
        const std::size_t j_end = std::min(j + kTile, start[c + 1]);
        for (std::size_t g = 0; g < groups; ++g)
          add_distances(xt.data(), m, d, &q[g * d * kRows], j, j_end,
                        reinterpret_cast<double(*)[4]>(&lanes[g * kRows * 4]));
      }
      for (std::size_t i = 0; i < s_end - s_begin; ++i) {
        const double* l = &lanes[i * 4];
        sums[i * k + c] = (l[0] + l[1]) + (l[2] + l[3]);
      }
    }
    for (std::size_t s = s_begin; s < s_end; ++s) {
      const std::size_t own = static_cast<std::size_t>(labels[sample[s]]);
      if (size[own] == 1) continue;  // scikit-learn: a singleton's silhouette is 0
      const double* row_sums = &sums[(s - s_begin) * k];
      // The row's distance to itself is 0, so the own sum needs no correction, only the divisor.
      const double a = row_sums[own] / static_cast<double>(size[own] - 1);
      double b = std::numeric_limits<double>::infinity();
      for (std::size_t c = 0; c < k; ++c)
        if (c != own && size[c] > 0) b = std::min(b, row_sums[c] / static_cast<double>(size[c]));
      const double denom = std::max(a, b);
      score[s] = denom > 0.0 ? (b - a) / denom : 0.0;  // 0/0 (coinciding rows) -> 0, as nan_to_num
    }
  });
  double total = 0.0;
  for (const double v : score) total += v;
  return total / static_cast<double>(m);
}

void throw_if(const std::string& problem, const char* what) {
  if (!problem.empty()) throw InvalidArgument(std::string(what) + ": " + problem);
}

std::string three_decimals(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  return buf;
}

template <typename T>
KMeansResult<T> fit_k(const std::vector<T>& x, const std::vector<T>& w, std::size_t n,
                      std::size_t d, KMeansParams params, int k) {
  params.k = k;
  return kmeans_fit<T>({x.data(), n, d}, w.empty() ? nullptr : w.data(), params);
}

}  // namespace

double silhouette_score(ConstMatrixView<double> x, const std::int32_t* labels, std::size_t k,
                        std::size_t sample_size, std::uint64_t seed, int threads) {
  check_inputs("silhouette_score", x, labels, k);
  std::string problem;
  const double s =
      silhouette_on_sample(x, labels, k, sample_rows(x.rows, sample_size, seed), threads, &problem);
  throw_if(problem, "silhouette_score");
  return s;
}

double calinski_harabasz_score(ConstMatrixView<double> x, const std::int32_t* labels,
                               std::size_t k) {
  check_inputs("calinski_harabasz_score", x, labels, k);
  const ClusterMeans cm = cluster_means(x, labels, k);
  throw_if(label_count_problem(cm.labels(), x.rows), "calinski_harabasz_score");
  return calinski_harabasz(x, labels, cm);
}

double davies_bouldin_score(ConstMatrixView<double> x, const std::int32_t* labels, std::size_t k) {
  check_inputs("davies_bouldin_score", x, labels, k);
  const ClusterMeans cm = cluster_means(x, labels, k);
  throw_if(label_count_problem(cm.labels(), x.rows), "davies_bouldin_score");
  return davies_bouldin(x, labels, cm);
}

int inertia_elbow(const std::vector<ChooseKRow>& rows) {
  if (rows.size() < 3) return -1;
  const ChooseKRow& first = rows.front();
  const ChooseKRow& last = rows.back();
  const double drop = first.inertia - last.inertia;
  if (!(drop > 0.0) || last.k == first.k) return -1;
  // Kneedle (Satopaa et al. 2011) on the decreasing, convex curve: flip it to an increasing
  // concave one on [0, 1]^2 and take the point furthest above the diagonal.
  int best_k = -1;
  double best = 0.0;
  for (const ChooseKRow& r : rows) {
    const double xn = static_cast<double>(r.k - first.k) / static_cast<double>(last.k - first.k);
    const double yn = (first.inertia - r.inertia) / drop;
    const double gap = yn - xn;
    if (gap > best) {
      best = gap;
      best_k = r.k;
    }
  }
  return best_k;
}

std::pair<int, std::string> suggest_k(const std::vector<ChooseKRow>& rows) {
  if (rows.empty()) throw InvalidArgument("suggest_k: no rows");
  constexpr double kTie = 0.005;
  const int elbow = inertia_elbow(rows);
  const ChooseKRow* best = nullptr;
  for (const ChooseKRow& r : rows)
    if (std::isfinite(r.silhouette) && (best == nullptr || r.silhouette > best->silhouette))
      best = &r;
  if (best == nullptr) {
    if (elbow >= 0)
      return {elbow, "no silhouette could be computed; k = " + std::to_string(elbow) +
                         " is the elbow of the inertia curve (kneedle)"};
    return {rows.front().k,
            "no silhouette could be computed and the inertia curve has no elbow; "
            "the smallest k tried"};
  }
  const ChooseKRow* pick = best;
  for (const ChooseKRow& r : rows)  // ascending k: the first within the tie band is the smallest
    if (std::isfinite(r.silhouette) && best->silhouette - r.silhouette <= kTie) {
      pick = &r;
      break;
    }
  std::string reason;
  if (pick == best)
    reason = "k = " + std::to_string(pick->k) + " has the highest silhouette (" +
             three_decimals(pick->silhouette) + ")";
  else
    reason = "k = " + std::to_string(pick->k) + " has a silhouette (" +
             three_decimals(pick->silhouette) + ") within 0.005 of the highest (" +
             three_decimals(best->silhouette) + " at k = " + std::to_string(best->k) +
             ") with fewer clusters";
  if (elbow < 0)
    reason += "; the inertia curve has no clear elbow";
  else if (elbow == pick->k)
    reason += "; the elbow of the inertia curve (kneedle) agrees";
  else
    reason += "; the elbow of the inertia curve (kneedle) is at k = " + std::to_string(elbow) +
              " instead";
  return {pick->k, reason};
}

ChooseKResult choose_k(ConstMatrixView<double> x, const double* weights,
                       const ChooseKParams& params) {
  return choose_k(x, weights, params, {});
}

ChooseKResult choose_k(ConstMatrixView<double> x, const double* weights,
                       const ChooseKParams& params,
                       const std::function<void(const ChooseKProgress&)>& on_progress) {
  const std::size_t n = x.rows, d = x.cols;
  if (params.k_min < 2)
    throw InvalidArgument("choose_k: k_min must be at least 2 (got " +
                          std::to_string(params.k_min) + ")");
  if (params.k_max < params.k_min)
    throw InvalidArgument("choose_k: k_max (" + std::to_string(params.k_max) +
                          ") must be >= k_min (" + std::to_string(params.k_min) + ")");
  if (static_cast<std::size_t>(params.k_max) >= n)
    throw InvalidArgument("choose_k: k_max (" + std::to_string(params.k_max) +
                          ") must be less than the number of rows (" + std::to_string(n) + ")");
  if (d == 0 || x.data == nullptr) throw InvalidArgument("choose_k: x has no columns");
  if (params.kmeans.init == KMeansInit::kExplicit)
    throw InvalidArgument("choose_k: explicit initial centroids cannot serve every k");

  // One copy of the data in the fitting precision for all k, as `segcore kmeans` makes it.
  std::vector<double> x64, w64;
  std::vector<float> x32, w32;
  if (params.float32) {
    x32.assign(x.data, x.data + n * d);
    if (weights) w32.assign(weights, weights + n);
  } else {
    x64.assign(x.data, x.data + n * d);
    if (weights) w64.assign(weights, weights + n);
  }
  // One sample for every k, so that silhouettes differ only by the clustering.
  const std::vector<std::size_t> sample = sample_rows(n, params.sample_size, params.kmeans.seed);

  ChooseKResult result;
  const int count = params.k_max - params.k_min + 1;
  for (int k = params.k_min; k <= params.k_max; ++k) {
    ChooseKProgress progress;
    progress.k = k;
    progress.index = k - params.k_min;
    progress.count = count;
    if (on_progress) on_progress(progress);

    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::int32_t> labels;
    ChooseKRow row{};
    row.k = k;
    if (params.float32) {
      KMeansResult<float> r = fit_k(x32, w32, n, d, params.kmeans, k);
      labels = std::move(r.labels);
      row.inertia = r.inertia;
      row.n_iter = r.n_iter;
    } else {
      KMeansResult<double> r = fit_k(x64, w64, n, d, params.kmeans, k);
      labels = std::move(r.labels);
      row.inertia = r.inertia;
      row.n_iter = r.n_iter;
    }
    row.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    progress.stage = ChooseKProgress::Stage::kScoring;
    if (on_progress) on_progress(progress);
    const std::size_t kk = static_cast<std::size_t>(k);
    // K-means can return fewer distinct clusters than k (duplicate rows); a metric that is then
    // undefined is recorded as NaN rather than ending the scan.
    const ClusterMeans cm = cluster_means(x, labels.data(), kk);
    const bool defined = label_count_problem(cm.labels(), n).empty();
    row.calinski_harabasz = defined ? calinski_harabasz(x, labels.data(), cm) : kNaN;
    row.davies_bouldin = defined ? davies_bouldin(x, labels.data(), cm) : kNaN;
    std::string problem;
    row.silhouette =
        silhouette_on_sample(x, labels.data(), kk, sample, params.kmeans.threads, &problem);
    result.rows.push_back(row);

    progress.stage = ChooseKProgress::Stage::kDone;
    if (on_progress) on_progress(progress);
  }
  std::tie(result.suggested_k, result.reason) = suggest_k(result.rows);
  return result;
}

}  // namespace segcore
