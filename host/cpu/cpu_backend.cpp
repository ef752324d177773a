#include "cpu/cpu_backend.hpp"

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <limits>
#include <queue>
#include <string>
#include <vector>

#include "cpu/lloyd_kernels.hpp"
#include "parallel.hpp"
#include "segcore/error.hpp"

namespace segcore::cpu {
namespace {

using detail::Chunking;
using detail::make_chunking;
using detail::parallel_for;

/// Rows handed to the nearest-centroid kernel at a time (labels of a tile live on the stack).
constexpr std::size_t kTile = 256;

/// ||a - b||^2 in double. Four interleaved partial sums break the add latency chain (the
/// order is fixed, so the result does not depend on threads).
template <typename T>
double exact_sq_distance(const T* a, const T* b, std::size_t d) {
  double s[4] = {0.0, 0.0, 0.0, 0.0};
  std::size_t f = 0;
  for (; f + 4 <= d; f += 4)
    for (std::size_t l = 0; l < 4; ++l) {
      const double diff = static_cast<double>(a[f + l]) - static_cast<double>(b[f + l]);
      s[l] += diff * diff;
    }
  for (; f < d; ++f) {
    const double diff = static_cast<double>(a[f]) - static_cast<double>(b[f]);
    s[0] += diff * diff;
  }
  return (s[0] + s[1]) + (s[2] + s[3]);
}

template <typename T>
class CpuBackend final : public KMeansBackend<T> {
 public:
  explicit CpuBackend(int threads)
      : threads_(detail::resolve_threads(threads)),
        assign_(assign_kernel<T>()),
        tile_(lloyd_tile_kernel<T>()) {}

  std::string describe() const override {
    return std::string("cpu (") + assign_kernel_isa() + ", " + std::to_string(threads_) +
           (threads_ == 1 ? " thread)" : " threads)");
  }

  void set_data(ConstMatrixView<T> x, const T* weights) override {
    hold(x.rows, x.cols, weights);
    x_.assign(x.data, x.data + x.size());
  }
  void adopt_data(std::vector<T>& x, std::size_t d, const T* weights) override {
    if (d != 0 && x.size() % d != 0) throw InvalidArgument("data size is not a multiple of d");
    hold(d == 0 ? 0 : x.size() / d, d, weights);
    x_ = std::move(x);
    x.clear();
  }
  const T* host_rows() const override { return x_.data(); }
  void copy_checked_rows(const std::int64_t* index, std::size_t m, T* out) override {
    for (std::size_t t = 0; t < m; ++t)
      std::copy_n(x_.data() + static_cast<std::size_t>(index[t]) * d_, d_, out + t * d_);
  }
  std::size_t rows() const override { return n_; }
  std::size_t cols() const override { return d_; }

  void column_moments(double* mean, double* variance) override {
    const Chunking ch = make_chunking(n_, d_ * sizeof(double));
    std::vector<double> part(ch.chunks * d_);
    auto reduce = [&](double* out) {
      std::fill(out, out + d_, 0.0);
      for (std::size_t c = 0; c < ch.chunks; ++c)
        for (std::size_t f = 0; f < d_; ++f) out[f] += part[c * d_ + f];
      for (std::size_t f = 0; f < d_; ++f) out[f] /= static_cast<double>(n_);
    };
    parallel_for(ch.chunks, threads_, [&](std::size_t c) {
      double* p = part.data() + c * d_;
      for (std::size_t i = ch.begin(c); i < ch.end(c); ++i)
        for (std::size_t f = 0; f < d_; ++f) p[f] += static_cast<double>(x_[i * d_ + f]);
    });
    reduce(mean);
    std::fill(part.begin(), part.end(), 0.0);
    parallel_for(ch.chunks, threads_, [&](std::size_t c) {
      double* p = part.data() + c * d_;
      for (std::size_t i = ch.begin(c); i < ch.end(c); ++i)
        for (std::size_t f = 0; f < d_; ++f) {
          const double dev = static_cast<double>(x_[i * d_ + f]) - mean[f];
          p[f] += dev * dev;
        }
    });
    reduce(variance);
  }

  std::int64_t first_nonfinite() override {
    const auto at = std::find_if(x_.begin(), x_.end(), [](T v) { return !std::isfinite(v); });
    return at == x_.end() ? -1 : static_cast<std::int64_t>(at - x_.begin());
  }

  void subtract(const T* shift) override {
    const Chunking ch = make_chunking(n_, 0);
    parallel_for(ch.chunks, threads_, [&](std::size_t c) {
      for (std::size_t i = ch.begin(c); i < ch.end(c); ++i)
        for (std::size_t f = 0; f < d_; ++f) x_[i * d_ + f] = x_[i * d_ + f] - shift[f];
    });
  }

  void reset_labels() override { std::fill(labels_.begin(), labels_.end(), -1); }

  LloydPassResult lloyd_pass(ConstMatrixView<T> c, double* sums, double* weight_sums,
                             bool with_inertia = true) override {
    check_centroids(c);
    const std::size_t k = c.rows;
    const bool accumulate = sums != nullptr && weight_sums != nullptr;
    const std::size_t stride = accumulate ? k * d_ + k : 0;
    const Chunking ch = make_chunking(n_, stride * sizeof(double));
    PackedCentroids<T> pc;
    pack_centroids(c, pc);
    std::vector<double> partial(ch.chunks * stride, 0.0);
    std::vector<double> inertia(ch.chunks, 0.0);
    std::vector<std::int64_t> changed(ch.chunks, 0);

    parallel_for(ch.chunks, threads_, [&](std::size_t ci) {
      double* ps = accumulate ? partial.data() + ci * stride : nullptr;
      double* pw = accumulate ? ps + k * d_ : nullptr;
      TileTotals totals;
      std::int32_t scratch[kTile];
      for (std::size_t t0 = ch.begin(ci); t0 < ch.end(ci); t0 += kTile) {
        const std::size_t rows = std::min(kTile, ch.end(ci) - t0);
        tile_(pc, c.data, x_.data() + t0 * d_, w_.empty() ? nullptr : w_.data() + t0, rows,
              labels_.data() + t0, scratch, ps, pw, with_inertia, totals);
      }
      inertia[ci] = totals.inertia;
      changed[ci] = totals.changed;
    });

    LloydPassResult result;
    for (std::size_t ci = 0; ci < ch.chunks; ++ci) {
      result.inertia += inertia[ci];
      result.changed += changed[ci];
    }
    if (!with_inertia) result.inertia = std::numeric_limits<double>::quiet_NaN();
    if (accumulate) {
      std::fill(sums, sums + k * d_, 0.0);
      std::fill(weight_sums, weight_sums + k, 0.0);
      for (std::size_t ci = 0; ci < ch.chunks; ++ci) {
        const double* ps = partial.data() + ci * stride;
        for (std::size_t e = 0; e < k * d_; ++e) sums[e] += ps[e];
        for (std::size_t j = 0; j < k; ++j) weight_sums[j] += ps[k * d_ + j];
      }
    }
    return result;
  }

  double inertia(ConstMatrixView<T> c) override {
    check_centroids(c);
    const Chunking ch = make_chunking(n_, 0);
    std::vector<double> part(ch.chunks, 0.0);
    parallel_for(ch.chunks, threads_, [&](std::size_t ci) {
      double s = 0.0;
      for (std::size_t i = ch.begin(ci); i < ch.end(ci); ++i) {
        const std::int32_t lab = labels_[i];
        if (lab < 0 || static_cast<std::size_t>(lab) >= c.rows)
          throw InvalidArgument("inertia: labels were not assigned for these centroids");
        s += weight(i) * exact_sq_distance(x_.data() + i * d_, c.row(lab), d_);
      }
      part[ci] = s;
    });
    double total = 0.0;
    for (double p : part) total += p;
    return total;
  }

  void labels(std::int32_t* out) override { std::copy(labels_.begin(), labels_.end(), out); }

  std::vector<FarPoint> farthest(ConstMatrixView<T> c, std::size_t m) override {
    check_centroids(c);
    m = std::min(m, n_);
    // Order: larger distance first, then lower index. A per-chunk bounded heap keeps the m best.
    using Entry = std::pair<double, std::int64_t>;
    auto better = [](const Entry& a, const Entry& b) {
      return a.first > b.first || (a.first == b.first && a.second < b.second);
    };
    const Chunking ch = make_chunking(n_, m * sizeof(Entry));
    std::vector<std::vector<Entry>> part(ch.chunks);
    parallel_for(ch.chunks, threads_, [&](std::size_t ci) {
      // The heap's top is the worst kept entry.
      std::priority_queue<Entry, std::vector<Entry>, decltype(better)> heap(better);
      for (std::size_t i = ch.begin(ci); i < ch.end(ci); ++i) {
        const std::int32_t lab = labels_[i];
        if (lab < 0) throw InvalidArgument("farthest: labels were not assigned");
        const Entry e{exact_sq_distance(x_.data() + i * d_, c.row(lab), d_),
                      static_cast<std::int64_t>(i)};
        if (heap.size() < m) {
          heap.push(e);
        } else if (better(e, heap.top())) {
          heap.pop();
          heap.push(e);
        }
      }
      while (!heap.empty()) {
        part[ci].push_back(heap.top());
        heap.pop();
      }
    });
    std::vector<Entry> all;
    for (auto& p : part) all.insert(all.end(), p.begin(), p.end());
    std::sort(all.begin(), all.end(), better);
    all.resize(std::min(m, all.size()));
    std::vector<FarPoint> out;
    for (const Entry& e : all) out.push_back({e.second, labels_[e.second]});
    return out;
  }

  double update_closest(ConstMatrixView<T> centers, bool reset) override {
    check_centroids(centers);
    if (reset || closest_.size() != n_)
      closest_.assign(n_, std::numeric_limits<double>::infinity());
    PackedCentroids<T> pc;
    pack_centroids(centers, pc);
    const Chunking ch = make_chunking(n_, 0);
    std::vector<double> pot(ch.chunks, 0.0);
    parallel_for(ch.chunks, threads_, [&](std::size_t ci) {
      std::int32_t tile[kTile];
      double p = 0.0;
      for (std::size_t t0 = ch.begin(ci); t0 < ch.end(ci); t0 += kTile) {
        const std::size_t rows = std::min(kTile, ch.end(ci) - t0);
        assign_(pc, x_.data() + t0 * d_, rows, tile);
        for (std::size_t r = 0; r < rows; ++r) {
          const std::size_t i = t0 + r;
          const double dist = exact_sq_distance(x_.data() + i * d_, centers.row(tile[r]), d_);
          closest_[i] = std::min(closest_[i], dist);
          p += weight(i) * closest_[i];
        }
      }
      pot[ci] = p;
    });
    double total = 0.0;
    for (double p : pot) total += p;
    return total;
  }

  void candidate_potentials(ConstMatrixView<T> cand, double* pots) override {
    require_closest();
    const std::size_t m = cand.rows;
    const Chunking ch = make_chunking(n_, m * sizeof(double));
    std::vector<double> part(ch.chunks * m, 0.0);
    parallel_for(ch.chunks, threads_, [&](std::size_t ci) {
      double* p = part.data() + ci * m;
      for (std::size_t i = ch.begin(ci); i < ch.end(ci); ++i) {
        const T* xi = x_.data() + i * d_;
        const double w = weight(i);
        for (std::size_t j = 0; j < m; ++j)
          p[j] += w * std::min(closest_[i], exact_sq_distance(xi, cand.row(j), d_));
      }
    });
    std::fill(pots, pots + m, 0.0);
    for (std::size_t ci = 0; ci < ch.chunks; ++ci)
      for (std::size_t j = 0; j < m; ++j) pots[j] += part[ci * m + j];
  }

  void sample_by_potential(const double* targets, std::size_t m, std::int64_t* out) override {
    require_closest();
    // Chunk sums in parallel, then each target is found in its chunk by a running sum that
    // starts at the chunk's prefix: the same result for any number of threads.
    const Chunking ch = make_chunking(n_, 0);
    std::vector<double> sums(ch.chunks, 0.0);
    parallel_for(ch.chunks, threads_, [&](std::size_t ci) {
      double s = 0.0;
      for (std::size_t i = ch.begin(ci); i < ch.end(ci); ++i) s += weight(i) * closest_[i];
      sums[ci] = s;
    });
    std::vector<double> prefix(ch.chunks + 1, 0.0);
    for (std::size_t ci = 0; ci < ch.chunks; ++ci) prefix[ci + 1] = prefix[ci] + sums[ci];
    for (std::size_t t = 0; t < m; ++t) {
      out[t] = static_cast<std::int64_t>(n_ - 1);
      // First chunk whose end prefix reaches the target.
      std::size_t ci = 0;
      while (ci < ch.chunks && prefix[ci + 1] < targets[t]) ++ci;
      if (ci == ch.chunks) continue;
      double s = prefix[ci];
      for (std::size_t i = ch.begin(ci); i < ch.end(ci); ++i) {
        s += weight(i) * closest_[i];
        if (s >= targets[t]) {
          out[t] = static_cast<std::int64_t>(i);
          break;
        }
      }
    }
  }

  std::vector<std::int64_t> oversample(double scale, std::uint64_t seed) override {
    require_closest();
    const Chunking ch = make_chunking(n_, 0);
    std::vector<std::vector<std::int64_t>> part(ch.chunks);
    parallel_for(ch.chunks, threads_, [&](std::size_t ci) {
      for (std::size_t i = ch.begin(ci); i < ch.end(ci); ++i)
        if (detail::counter_uniform(seed, i) < scale * weight(i) * closest_[i])
          part[ci].push_back(static_cast<std::int64_t>(i));
    });
    std::vector<std::int64_t> out;
    for (auto& p : part) out.insert(out.end(), p.begin(), p.end());
    return out;
  }

  void nearest(ConstMatrixView<T> c, std::int32_t* labels, double* dist_sq) override {
    check_centroids(c);
    PackedCentroids<T> pc;
    pack_centroids(c, pc);
    const Chunking ch = make_chunking(n_, 0);
    parallel_for(ch.chunks, threads_, [&](std::size_t ci) {
      for (std::size_t t0 = ch.begin(ci); t0 < ch.end(ci); t0 += kTile) {
        const std::size_t rows = std::min(kTile, ch.end(ci) - t0);
        assign_(pc, x_.data() + t0 * d_, rows, labels + t0);
        if (dist_sq)
          for (std::size_t i = t0; i < t0 + rows; ++i)
            dist_sq[i] = exact_sq_distance(x_.data() + i * d_, c.row(labels[i]), d_);
      }
    });
  }

  void distances_sq(ConstMatrixView<T> c, MatrixView<double> out) override {
    check_centroids(c);
    if (out.rows != n_ || out.cols != c.rows)
      throw InvalidArgument("distances_sq: output must be n x k");
    using Mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    const std::size_t k = c.rows;
    Eigen::Map<const Mat> cm(c.data, k, d_);
    const Eigen::Matrix<T, Eigen::Dynamic, 1> cnorm = cm.rowwise().squaredNorm();
    const Chunking ch = make_chunking(n_, 0);
    parallel_for(ch.chunks, threads_, [&](std::size_t ci) {
      Mat dots;
      for (std::size_t t0 = ch.begin(ci); t0 < ch.end(ci); t0 += kTile) {
        const std::size_t rows = std::min(kTile, ch.end(ci) - t0);
        Eigen::Map<const Mat> xt(x_.data() + t0 * d_, rows, d_);
        dots.noalias() = xt * cm.transpose();
        for (std::size_t r = 0; r < rows; ++r) {
          const double xn = static_cast<double>(xt.row(r).squaredNorm());
          for (std::size_t j = 0; j < k; ++j) {
            const double v =
                xn + static_cast<double>(cnorm[j]) - 2.0 * static_cast<double>(dots(r, j));
            out(t0 + r, j) = v > 0.0 ? v : 0.0;
          }
        }
      }
    });
  }

 private:
  /// Shape, weights and label state for new data (the rows themselves are the caller's job).
  void hold(std::size_t n, std::size_t d, const T* weights) {
    if (n == 0 || d == 0) throw InvalidArgument("empty data matrix");
    n_ = n;
    d_ = d;
    if (weights) {
      w_.assign(weights, weights + n_);
    } else {
      w_.clear();
    }
    labels_.assign(n_, -1);
    closest_.clear();
  }
  double weight(std::size_t i) const { return w_.empty() ? 1.0 : static_cast<double>(w_[i]); }

  void check_centroids(ConstMatrixView<T> c) const {
    if (n_ == 0) throw InvalidArgument("backend has no data");
    if (c.cols != d_ || c.rows == 0)
      throw InvalidArgument("centroids must be k x " + std::to_string(d_) + " with k >= 1");
  }
  void require_closest() const {
    if (closest_.size() != n_) throw InvalidArgument("seeding pass before update_closest");
  }

  int threads_;
  AssignKernel<T> assign_;
  LloydTileKernel<T> tile_;
  std::size_t n_ = 0;
  std::size_t d_ = 0;
  std::vector<T> x_;
  std::vector<T> w_;
  std::vector<std::int32_t> labels_;
  std::vector<double> closest_;
};

}  // namespace

template <typename T>
std::unique_ptr<KMeansBackend<T>> make_cpu_backend(int threads) {
  return std::make_unique<CpuBackend<T>>(threads);
}

template std::unique_ptr<KMeansBackend<float>> make_cpu_backend<float>(int);
template std::unique_ptr<KMeansBackend<double>> make_cpu_backend<double>(int);

}  // namespace segcore::cpu
