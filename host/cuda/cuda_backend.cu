// segcore: the CUDA K-means backend. Host code around kernels/kmeans_kernels.cu: device-resident
// data, labels and seeding state; Thrust for the prefix sum, searches, compaction and the sort
// of the rare relocation pass. Every status is checked (cuda_raii.hpp).
#include <thrust/copy.h>
#include <thrust/count.h>
#include <thrust/execution_policy.h>
#include <thrust/find.h>
#include <thrust/functional.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/sequence.h>
#include <thrust/sort.h>
#include <thrust/system_error.h>
#include <thrust/transform_reduce.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <new>
#include <string>
#include <type_traits>
#include <vector>

#include "cuda/cuda_backend.hpp"
#include "cuda/cuda_raii.hpp"
#include "cuda/upload.hpp"
#include "kernels/kmeans_kernels.hpp"
#include "parallel.hpp"
#include "segcore/error.hpp"

namespace segcore::cuda {
namespace {

/// Runs a Thrust algorithm with its exceptions turned into segcore errors, as every other CUDA
/// status is: thrust::system_error (a CUDA call inside it failed) and a failed allocation of
/// its temporary storage (std::bad_alloc) become CudaError naming `what`.
template <typename F>
auto thrust_checked(const char* what, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const thrust::system_error& e) {
    throw CudaError(std::string(what) + ": " + e.what());
  } catch (const std::bad_alloc&) {
    throw CudaError(std::string(what) + ": not enough GPU memory for Thrust's temporary storage");
  }
}

// farthest(): a point's distance and index, the larger distance winning, ties to the lower index
// (exact comparisons: the same answer in any reduction order).
struct Far {
  double dist;
  std::int64_t index;
};
struct FarOf {
  const double* dist;
  __host__ __device__ Far operator()(std::int64_t i) const { return Far{dist[i], i}; }
};
struct FarBetter {
  __host__ __device__ Far operator()(const Far& a, const Far& b) const {
    const bool a_wins = a.dist > b.dist || (a.dist == b.dist && a.index < b.index);
    return a_wins ? a : b;
  }
};

// NaN and infinities: v - v is NaN for both, 0 for every finite v (no library call, so the
// same test on the device and in the emulator).
struct NotFinite {
  template <typename T>
  __host__ __device__ bool operator()(T v) const {
    return !(v - v == T(0));
  }
};

struct IsSet {
  __host__ __device__ bool operator()(std::int32_t v) const { return v != 0; }
};
struct OutOfRange {
  std::int32_t k;
  __host__ __device__ bool operator()(std::int32_t v) const { return v < 0 || v >= k; }
};

template <typename T>
class CudaBackend final : public KMeansBackend<T> {
 public:
  explicit CudaBackend(LloydPath path) : device_(select_device()), path_(path) {
    cudaDeviceProp prop{};
    check(cudaGetDeviceProperties(&prop, device_), "cudaGetDeviceProperties");
    name_ = prop.name;
    cc_ = std::to_string(prop.major) + "." + std::to_string(prop.minor);
    block_totals_.resize(static_cast<std::size_t>(reduce_blocks()) * 16);
  }

  std::string describe() const override { return "cuda (" + name_ + ", cc " + cc_ + ")"; }

  void set_data(ConstMatrixView<T> x, const T* weights) override {
    if (x.rows == 0 || x.cols == 0) throw InvalidArgument("empty data matrix");
    if (x.cols > 65536) throw InvalidArgument("the CUDA backend supports up to 65536 features");
    // Everything the passes keep per point: data, weights, labels, seeding distances and one
    // scratch array of doubles, checked before anything is allocated (the previous data is
    // released first, so its memory counts as free; on failure the backend holds no data).
    n_ = d_ = 0;
    x_ = DeviceBuffer<T>();
    w_ = DeviceBuffer<T>();
    labels_ = DeviceBuffer<std::int32_t>();
    closest_ = DeviceBuffer<double>();
    scratch_ = DeviceBuffer<double>();
    has_closest_ = false;
    // The plans, their buffers and the GEMM path's depend on n and d.
    plans_.clear();
    partials_ = DeviceBuffer<double>();
    lloyd_totals_ = DeviceBuffer<double>();
    lloyd_out_ = DeviceBuffer<double>();
    pot_chunks_valid_ = false;
    scores_ = DeviceBuffer<T>();
    next_labels_ = DeviceBuffer<std::int32_t>();
    sums_scratch_ = DeviceBuffer<unsigned char>();
    const std::size_t n = x.rows, d = x.cols;
    const std::size_t need = n * d * sizeof(T) + (weights ? n * sizeof(T) : 0) +
                             n * sizeof(std::int32_t) + 2 * n * sizeof(double);
    require_device_memory(need, "the data, labels and seeding state");
    n_ = n;
    d_ = d;
    x_.resize(n_ * d_);
    upload(x_.data(), x.data, n_ * d_ * sizeof(T), stream_.get());
    if (weights) {
      w_.resize(n_);
      upload(w_.data(), weights, n_ * sizeof(T), stream_.get());
    }
    labels_.resize(n_);
    reset_labels();
  }
  std::size_t rows() const override { return n_; }
  std::size_t cols() const override { return d_; }
  void copy_checked_rows(const std::int64_t* index, std::size_t m, T* out) override {
    // One gather on the device and one small copy back, however many rows (k-means|| asks for
    // about 2k at a time; relocation and k-means++ for a few).
    DeviceBuffer<std::int64_t> di(m);
    copy_to_device(di.data(), index, m);
    DeviceBuffer<T> rows(m * d_);
    gather_rows<T>(x_.data(), static_cast<int>(d_), di.data(), static_cast<std::int64_t>(m),
                   rows.data(), stream_.get());
    download(out, rows.data(), m * d_);
  }

  void column_moments(double* mean, double* variance) override {
    require_data();
    // The CPU backend's chunks (and order and rounding): bitwise its means and variances.
    const detail::Chunking ch = detail::make_chunking(n_, d_ * sizeof(double));
    const auto chunks = static_cast<int>(ch.chunks);
    const auto rows = static_cast<std::int64_t>(ch.chunk_rows);
    DeviceBuffer<double> partials(ch.chunks * d_);
    DeviceBuffer<double> out(d_), center(d_);
    column_sums<T>(view(), nullptr, false, rows, chunks, partials.data(), out.data(),
                   stream_.get());
    download(mean, out.data(), d_);
    for (std::size_t f = 0; f < d_; ++f) mean[f] /= static_cast<double>(n_);
    copy_to_device(center.data(), mean, d_);
    column_sums<T>(view(), center.data(), true, rows, chunks, partials.data(), out.data(),
                   stream_.get());
    download(variance, out.data(), d_);
    for (std::size_t f = 0; f < d_; ++f) variance[f] /= static_cast<double>(n_);
  }

  std::int64_t first_nonfinite() override {
    require_data();
    auto policy = thrust::cuda::par.on(stream_.get());
    const T* begin = x_.data();
    const T* end = begin + n_ * d_;
    const T* at = thrust_checked("thrust::find_if (non-finite values)",
                                 [&] { return thrust::find_if(policy, begin, end, NotFinite{}); });
    return at == end ? -1 : static_cast<std::int64_t>(at - begin);
  }

  void subtract(const T* shift) override {
    require_data();
    DeviceBuffer<T> s(d_);
    copy_to_device(s.data(), shift, d_);
    cuda::subtract<T>(x_.data(), static_cast<std::int64_t>(n_), static_cast<int>(d_), s.data(),
                      stream_.get());
    stream_.synchronize();
  }

  void reset_labels() override {
    check(cudaMemsetAsync(labels_.data(), 0xff, n_ * sizeof(std::int32_t), stream_.get()),
          "cudaMemsetAsync");
    stream_.synchronize();
  }

  LloydPassResult lloyd_pass(ConstMatrixView<T> c, double* sums, double* weight_sums,
                             bool with_inertia = true) override {
    if (timing_) timing_->start.record(stream_.get());
    const Packed& p = pack(c);
    if (timing_) timing_->kernels.record(stream_.get());
    const bool accumulate = sums != nullptr && weight_sums != nullptr;
    const int k = static_cast<int>(c.rows), d = static_cast<int>(d_);
    const auto n = static_cast<std::int64_t>(n_);
    const bool gemm =
        path_ == LloydPath::kGemm || (path_ == LloydPath::kAuto && gemm_path_suits(n, d, k));
    if (gemm && (n >= (std::int64_t{1} << 31) || k > kGemmMaxK))
      throw InvalidArgument("the GEMM path takes n < 2^31 rows and k <= " +
                            std::to_string(kGemmMaxK));
    lloyd_out_.resize(2 + static_cast<std::size_t>(k) * (d_ + 1));
    if (gemm) {
      // Labels by GEMM + argmin, then the fused kernel with those labels for the inertia and
      // the changed count (without the inertia it reads no row), and the sorted label sums for
      // the update.
      prepare_gemm(k, accumulate);
      gemm_labels<T>(cublas_->get(), view(), p.view, scores_.data(), tile_rows_,
                     next_labels_.data(), stream_.get());
      const LloydPlan plan = plan_with_buffers(k, false, true);
      cuda::lloyd_pass<T>(view(), p.view, labels_.data(), plan, false, with_inertia,
                          partials_.data(), lloyd_totals_.data(), lloyd_out_.data(), stream_.get(),
                          next_labels_.data());
      if (accumulate)
        label_sums<T>(view(), labels_.data(), k, sums_scratch_.data(), sums_scratch_.size(),
                      lloyd_out_.data(), stream_.get());
    } else if (accumulate && sums_by_sorting(k)) {
      // The k x (d + 1) sums do not fit in shared memory: rather than per-block copies of them
      // in global memory (blocks x k x (d + 1) doubles, read-modified-written per tile), the
      // pass without sums, then the sorted label sums of the GEMM path.
      prepare_label_sums(k);
      // (The plan first: it may reallocate the buffers whose pointers are passed below.)
      const LloydPlan plan = plan_with_buffers(k, false, false);
      cuda::lloyd_pass<T>(view(), p.view, labels_.data(), plan, false, with_inertia,
                          partials_.data(), lloyd_totals_.data(), lloyd_out_.data(), stream_.get());
      label_sums<T>(view(), labels_.data(), k, sums_scratch_.data(), sums_scratch_.size(),
                    lloyd_out_.data(), stream_.get());
    } else {
      // (The kernel zeroes its own partial sums.)
      const LloydPlan plan = plan_with_buffers(k, accumulate, false);
      cuda::lloyd_pass<T>(view(), p.view, labels_.data(), plan, accumulate, with_inertia,
                          partials_.data(), lloyd_totals_.data(), lloyd_out_.data(), stream_.get());
    }
    const std::size_t count = accumulate ? 2 + static_cast<std::size_t>(k) * (d_ + 1) : 2;
    if (timing_) timing_->stop.record(stream_.get());
    host_out_.resize(count);
    download(host_out_.data(), lloyd_out_.data(), count);
    if (timing_) {
      timing_->last.pass_ms = timing_->stop.since(timing_->start);
      timing_->last.kernels_ms = timing_->stop.since(timing_->kernels);
      timing_->passes += 1;
    }
    LloydPassResult r;
    r.inertia = with_inertia ? host_out_[0] : std::numeric_limits<double>::quiet_NaN();
    r.changed = static_cast<std::int64_t>(host_out_[1]);
    if (accumulate) {
      std::copy(host_out_.begin() + 2, host_out_.begin() + 2 + k * d_, sums);
      std::copy(host_out_.begin() + 2 + k * d_, host_out_.begin() + 2 + k * d_ + k, weight_sums);
    }
    return r;
  }

  void cap_warp_groups(int max_groups) {
    if (max_groups < 1 || (max_groups & (max_groups - 1)) != 0)
      throw InvalidArgument("the warp groups' cap must be a power of two >= 1, not " +
                            std::to_string(max_groups));
    max_groups_ = max_groups;
    plans_.clear();  // made again with the cap (the buffers grow to the new plans if need be)
  }

  void inertia_in_walk(bool on) {
    walk_inertia_ = on;
    plans_.clear();  // made again with the choice
  }

  void enable_pass_timing() {
    if (!timing_) timing_ = std::make_unique<Timing>();
  }
  PassTiming last_pass_timing() const {
    if (!timing_ || timing_->passes == 0)
      throw InvalidArgument("no Lloyd pass has been timed (enable_pass_timing first)");
    return timing_->last;
  }

  double inertia(ConstMatrixView<T> c) override {
    const Packed& p = pack(c);
    require_labels_below(c.rows, "inertia: labels were not assigned for these centroids");
    DeviceBuffer<double> out(1);
    cuda::inertia<T>(view(), p.view.exact, labels_.data(), block_totals_.data(), out.data(),
                     stream_.get());
    double r = 0;
    download(&r, out.data(), 1);
    return r;
  }

  void labels(std::int32_t* out) override {
    require_data();
    download(out, labels_.data(), n_);
  }

  std::vector<FarPoint> farthest(ConstMatrixView<T> c, std::size_t m) override {
    const Packed& p = pack(c);
    require_labels_below(c.rows, "farthest: labels were not assigned");
    m = std::min(m, n_);
    std::vector<FarPoint> out;
    if (m == 0) return out;
    ensure(scratch_);
    label_distances<T>(view(), p.view.exact, labels_.data(), scratch_.data(), stream_.get());
    // Larger distance first, ties to the lower index. Few points (m is the number of empty
    // clusters): m rounds of an exact arg-max, each chosen distance then knocked out, instead of
    // sorting all n (which needs n x 16 bytes more); a stable sort when m is large.
    auto policy = thrust::cuda::par.on(stream_.get());
    std::vector<std::int64_t> top(m);
    if (m <= 16) {
      for (std::size_t j = 0; j < m; ++j) {
        const Far best = thrust_checked("thrust::transform_reduce (farthest point)", [&] {
          return thrust::transform_reduce(
              policy, thrust::counting_iterator<std::int64_t>(0),
              thrust::counting_iterator<std::int64_t>(static_cast<std::int64_t>(n_)),
              FarOf{scratch_.data()}, Far{-INFINITY, static_cast<std::int64_t>(n_)}, FarBetter{});
        });
        top[j] = best.index < static_cast<std::int64_t>(n_) ? best.index : 0;
        const double knocked_out = -INFINITY;
        copy_to_device(scratch_.data() + top[j], &knocked_out, 1);
      }
    } else {
      // The index and the sort's temporary storage (about a second copy of keys and values).
      require_device_memory(
          n_ * (sizeof(std::int64_t) + 2 * (sizeof(double) + sizeof(std::int64_t))),
          "the relocation of empty clusters (sorting the distances)");
      DeviceBuffer<std::int64_t> index(n_);
      thrust_checked("thrust::stable_sort_by_key (farthest points)", [&] {
        thrust::sequence(policy, index.data(), index.data() + n_);
        thrust::stable_sort_by_key(policy, scratch_.data(), scratch_.data() + n_, index.data(),
                                   thrust::greater<double>());
      });
      download(top.data(), index.data(), m);
    }
    // Only the m chosen labels cross to the host (m is the number of empty clusters: small).
    for (const std::int64_t i : top) {
      std::int32_t label = 0;
      download(&label, labels_.data() + i, 1);
      out.push_back({i, label});
    }
    return out;
  }

  double update_closest(ConstMatrixView<T> centers, bool reset) override {
    const Packed& p = pack(centers);
    ensure(closest_);
    cuda::update_closest<T>(view(), p.view, closest_.data(), reset || !has_closest_, stream_.get());
    has_closest_ = true;
    // The potential as sample_by_potential's prefix sums will see it (same chunks, same sums),
    // so a target u * potential with u < 1 always falls inside them.
    pot_chunks_valid_ = false;
    double total = 0;
    for (const double c : chunk_potentials()) total += c;
    return total;
  }

  void candidate_potentials(ConstMatrixView<T> cand, double* pots) override {
    require_closest();
    if (cand.cols != d_) throw InvalidArgument("candidates must have d columns");
    const std::size_t m = cand.rows;
    if (m == 0) return;
    DeviceBuffer<T> dc(m * d_);
    copy_to_device(dc.data(), cand.data, m * d_);
    DeviceBuffer<double> out(m);
    if (block_totals_.size() < static_cast<std::size_t>(reduce_blocks()) * 16)
      block_totals_.resize(static_cast<std::size_t>(reduce_blocks()) * 16);
    cuda::candidate_potentials<T>(view(), dc.data(), static_cast<int>(m), closest_.data(),
                                  block_totals_.data(), out.data(), stream_.get());
    download(pots, out.data(), m);
  }

  void sample_by_potential(const double* targets, std::size_t m, std::int64_t* out) override {
    require_closest();
    if (m == 0) return;
    // As the CPU backend: per-chunk potentials, their prefix sums in chunk order, then each target
    // is found inside its chunk (here by a block scan per tile: deterministic, not the CPU's
    // sequential rounding). No target beyond the total: n - 1, as on the CPU.
    const detail::Chunking ch = detail::make_chunking(n_, 0);
    const std::vector<double>& sums = chunk_potentials();
    std::vector<double> prefix(ch.chunks + 1, 0.0);
    for (std::size_t c = 0; c < ch.chunks; ++c) prefix[c + 1] = prefix[c] + sums[c];
    std::vector<TargetQuery> queries;
    std::vector<std::size_t> slot;
    for (std::size_t t = 0; t < m; ++t) {
      out[t] = static_cast<std::int64_t>(n_) - 1;
      std::size_t c = 0;
      while (c < ch.chunks && prefix[c + 1] < targets[t]) ++c;
      if (c == ch.chunks) continue;
      TargetQuery q;
      q.lo = static_cast<std::int64_t>(ch.begin(c));
      q.hi = static_cast<std::int64_t>(ch.end(c));
      q.start = prefix[c];
      q.target = targets[t];
      queries.push_back(q);
      slot.push_back(t);
    }
    if (queries.empty()) return;
    DeviceBuffer<TargetQuery> dq(queries.size());
    DeviceBuffer<std::int64_t> found(queries.size());
    copy_to_device(dq.data(), queries.data(), queries.size());
    find_targets<T>(view(), closest_.data(), dq.data(), static_cast<int>(queries.size()),
                    found.data(), stream_.get());
    std::vector<std::int64_t> rows(queries.size());
    download(rows.data(), found.data(), rows.size());
    for (std::size_t j = 0; j < rows.size(); ++j)
      if (rows[j] >= 0) out[slot[j]] = rows[j];
  }

  std::vector<std::int64_t> oversample(double scale, std::uint64_t seed) override {
    require_closest();
    DeviceBuffer<std::int32_t> flags(n_);
    oversample_flags<T>(view(), closest_.data(), scale, seed, flags.data(), stream_.get());
    auto policy = thrust::cuda::par.on(stream_.get());
    const auto chosen =
        static_cast<std::size_t>(thrust_checked("thrust::count (k-means|| draws)", [&] {
          return thrust::count(policy, flags.data(), flags.data() + n_, 1);
        }));
    std::vector<std::int64_t> out(chosen);
    if (chosen == 0) return out;
    DeviceBuffer<std::int64_t> idx(chosen);
    thrust_checked("thrust::copy_if (k-means|| draws)", [&] {
      thrust::copy_if(policy, thrust::counting_iterator<std::int64_t>(0),
                      thrust::counting_iterator<std::int64_t>(static_cast<std::int64_t>(n_)),
                      flags.data(), idx.data(), IsSet{});
    });
    download(out.data(), idx.data(), chosen);
    return out;
  }

  void nearest(ConstMatrixView<T> c, std::int32_t* labels, double* dist_sq) override {
    const Packed& p = pack(c);
    DeviceBuffer<std::int32_t> lab(n_);
    if (dist_sq) ensure(scratch_);
    cuda::nearest<T>(view(), p.view, lab.data(), dist_sq ? scratch_.data() : nullptr,
                     stream_.get());
    download(labels, lab.data(), n_);
    if (dist_sq) download(dist_sq, scratch_.data(), n_);
  }

  void distances_sq(ConstMatrixView<T> c, MatrixView<double> out) override {
    const Packed& p = pack(c);
    if (out.rows != n_ || out.cols != c.rows)
      throw InvalidArgument("distances_sq: output must be n x k");
    const std::size_t k = c.rows;
    // Row blocks of at most 256 MiB of distances on the device.
    const std::size_t rows_per = std::max<std::size_t>(1, (std::size_t{32} << 20) / k);
    DeviceBuffer<double> block(std::min(rows_per, n_) * k);
    for (std::size_t r0 = 0; r0 < n_; r0 += rows_per) {
      const std::size_t rows = std::min(rows_per, n_ - r0);
      distances_block<T>(view(), p.view.exact, static_cast<int>(k), static_cast<std::int64_t>(r0),
                         static_cast<std::int64_t>(rows), block.data(), stream_.get());
      download(out.data + r0 * k, block.data(), rows * k);
    }
  }

 private:
  /// The packed centroids on the device: rows, norms and the unpadded rows in one allocation
  /// (each part 256-byte aligned), filled by one copy per pack().
  struct Packed {
    DeviceBuffer<unsigned char> bytes;
    PackedCentroidsView<T> view;
  };

  DataView<T> view() const {
    DataView<T> v;
    v.x = x_.data();
    v.w = w_.size() ? w_.data() : nullptr;
    v.n = static_cast<std::int64_t>(n_);
    v.d = static_cast<int>(d_);
    return v;
  }

  void require_data() const {
    if (n_ == 0) throw InvalidArgument("backend has no data");
  }
  void require_closest() const {
    if (!has_closest_) throw InvalidArgument("seeding pass before update_closest");
  }
  void ensure(DeviceBuffer<double>& b) {
    if (b.size() != n_) b.resize(n_);
  }
  void require_labels_below(std::size_t k, const char* message) {
    auto policy = thrust::cuda::par.on(stream_.get());
    const auto bad = thrust_checked("thrust::count_if (labels)", [&] {
      return thrust::count_if(policy, labels_.data(), labels_.data() + n_,
                              OutOfRange{static_cast<std::int32_t>(k)});
    });
    if (bad > 0) throw InvalidArgument(message);
  }

  /// Packs centroids as the kernels read them (rows padded to padded_width(d), norms in T
  /// summed from f = 0 as the CPU does, and the rows unpadded) into pinned host memory and
  /// uploads them with one asynchronous copy: once per Lloyd pass, so one small DMA rather than
  /// three pageable copies (each a staging copy and a wait in the driver).
  const Packed& pack(ConstMatrixView<T> c) {
    require_data();
    if (c.cols != d_ || c.rows == 0)
      throw InvalidArgument("centroids must be k x " + std::to_string(d_) + " with k >= 1");
    const std::size_t k = c.rows;
    const std::size_t stride = static_cast<std::size_t>(padded_width(static_cast<int>(d_)));
    const auto align = [](std::size_t b) { return (b + 255) / 256 * 256; };
    const std::size_t norms_at = align(k * stride * sizeof(T));
    const std::size_t exact_at = norms_at + align(k * sizeof(T));
    const std::size_t bytes = exact_at + k * d_ * sizeof(T);
    // The previous pack's copy may still be reading the host buffer (every caller waits for
    // the stream before returning, so this is normally done already; an event never recorded
    // is complete).
    pack_copied_.synchronize();
    if (host_pack_.size() < bytes) {
      host_pack_ = PinnedBuffer<unsigned char>();
      host_pack_ = PinnedBuffer<unsigned char>(bytes);
    }
    T* const rows = reinterpret_cast<T*>(host_pack_.data());
    T* const norms = reinterpret_cast<T*>(host_pack_.data() + norms_at);
    std::memcpy(host_pack_.data() + exact_at, c.data, k * d_ * sizeof(T));
    for (std::size_t j = 0; j < k; ++j) {
      T norm = 0;
      for (std::size_t f = 0; f < d_; ++f) {
        const T v = c.data[j * d_ + f];
        rows[j * stride + f] = v;
        norm += v * v;
      }
      for (std::size_t f = d_; f < stride; ++f) rows[j * stride + f] = T(0);
      norms[j] = norm;
    }
    if (packed_.bytes.size() < bytes) packed_.bytes.resize(bytes);
    unsigned char* const dev = packed_.bytes.data();
    copy_to_device(dev, host_pack_.data(), bytes);
    pack_copied_.record(stream_.get());
    packed_.view.data = reinterpret_cast<const T*>(dev);
    packed_.view.norms = reinterpret_cast<const T*>(dev + norms_at);
    packed_.view.exact = reinterpret_cast<const T*>(dev + exact_at);
    packed_.view.k = static_cast<int>(k);
    packed_.view.stride = static_cast<int>(stride);
    return packed_;
  }

  /// Sums of w_i closest_i per chunk of make_chunking(n, 0), in a fixed order; kept until
  /// closest_ changes (update_closest, set_data).
  const std::vector<double>& chunk_potentials() {
    if (pot_chunks_valid_) return pot_chunks_;
    const detail::Chunking ch = detail::make_chunking(n_, 0);
    DeviceBuffer<double> sums(ch.chunks);
    cuda::chunk_potentials<T>(view(), closest_.data(), static_cast<std::int64_t>(ch.chunk_rows),
                              static_cast<int>(ch.chunks), sums.data(), stream_.get());
    pot_chunks_.resize(ch.chunks);
    download(pot_chunks_.data(), sums.data(), ch.chunks);
    pot_chunks_valid_ = true;
    return pot_chunks_;
  }

  /// The fused kernel's plan for this shape, made once per (k, accumulate, given labels) and kept
  /// (the driver alternates passes with and without sums). Allocates nothing.
  LloydPlan plan_for(int k, bool accumulate, bool given) {
    for (const PlanEntry& e : plans_)
      if (e.k == k && e.accumulate == accumulate && e.given == given) return e.plan;
    const LloydPlan plan =
        plan_lloyd<T>(static_cast<int>(d_), k, accumulate, device_, given,
                      path_ != LloydPath::kFusedExact, max_groups_, walk_inertia_);
    plans_.push_back(PlanEntry{k, accumulate, given, plan});
    return plan;
  }

  /// plan_for, with partials_ and lloyd_totals_ grown to what it launches with (the bytes
  /// checked against free memory first): call it for the plan a pass is about to use.
  LloydPlan plan_with_buffers(int k, bool accumulate, bool given) {
    const LloydPlan plan = plan_for(k, accumulate, given);
    const std::size_t partials = std::max<std::size_t>(plan.partial_doubles, 1);
    if (partials > partials_.size()) {
      partials_ = DeviceBuffer<double>();
      require_device_memory(partials * sizeof(double), "the Lloyd pass's per-block sums");
      partials_.resize(partials);
    }
    const auto totals = 2 * static_cast<std::size_t>(plan.blocks);
    if (totals > lloyd_totals_.size()) lloyd_totals_.resize(totals);
    return plan;
  }

  /// Whether a pass with sums should sum through the sorted label sums: when the sums do not fit
  /// in shared memory and the sort's scratch is not much larger than the per-block copies in
  /// global memory it replaces (at most 2 GiB, or their size). Decided by the shape alone.
  bool sums_by_sorting(int k) {
    const auto n = static_cast<std::int64_t>(n_);
    if (n >= (std::int64_t{1} << 31) || k > kGemmMaxK) return false;
    const LloydPlan plan = plan_for(k, true, false);
    if (plan.shared_partials) return false;
    const std::size_t sort_bytes = label_sums_scratch_bytes(n, k, static_cast<int>(d_));
    const std::size_t copies_bytes = plan.partial_doubles * sizeof(double);
    return sort_bytes <= std::max(copies_bytes, std::size_t{2} << 30);
  }

  /// The sort scratch of label_sums for k labels, checked against free memory first.
  void prepare_label_sums(int k) {
    const std::size_t bytes =
        label_sums_scratch_bytes(static_cast<std::int64_t>(n_), k, static_cast<int>(d_));
    if (sums_scratch_.size() >= bytes) return;
    sums_scratch_ = DeviceBuffer<unsigned char>();
    require_device_memory(bytes, "the sort buffers of the per-label sums");
    sums_scratch_.resize(bytes);
  }

  /// The GEMM path's buffers for k centroids: the tile's scores, the new labels and, when
  /// accumulating, the sort scratch; checked against free memory before allocating.
  void prepare_gemm(int k, bool accumulate) {
    const std::int64_t tile = gemm_tile_rows(static_cast<std::int64_t>(n_), k, sizeof(T));
    const std::size_t score_values = static_cast<std::size_t>(tile) * k;
    std::size_t need = 0;
    if (scores_.size() < score_values) need += score_values * sizeof(T);
    if (next_labels_.size() != n_) need += n_ * sizeof(std::int32_t);
    if (need > 0) require_device_memory(need, "the GEMM path's scores and labels");
    if (scores_.size() < score_values) scores_.resize(score_values);
    if (next_labels_.size() != n_) next_labels_.resize(n_);
    if (accumulate) prepare_label_sums(k);
    tile_rows_ = tile;
    if (!cublas_) {
      cublas_ = std::make_unique<CublasHandle>();
      cublas_->set_stream(stream_.get());
      check(cublasSetMathMode(cublas_->get(), CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
    }
  }

  template <typename U>
  void copy_to_device(U* dst, const U* src, std::size_t count) {
    check(cudaMemcpyAsync(dst, src, count * sizeof(U), cudaMemcpyHostToDevice, stream_.get()),
          "cudaMemcpyAsync (host to device)");
  }
  /// Device-to-host copy that waits for the stream (and so reports any kernel failure).
  template <typename U>
  void download(U* dst, const U* src, std::size_t count) {
    check(cudaMemcpyAsync(dst, src, count * sizeof(U), cudaMemcpyDeviceToHost, stream_.get()),
          "cudaMemcpyAsync (device to host)");
    stream_.synchronize();
  }

  int device_;
  std::string name_, cc_;
  Stream stream_;
  std::size_t n_ = 0, d_ = 0;
  DeviceBuffer<T> x_, w_;
  DeviceBuffer<std::int32_t> labels_;
  DeviceBuffer<double> closest_, scratch_;
  bool has_closest_ = false;
  DeviceBuffer<double> block_totals_;
  Packed packed_;
  PinnedBuffer<unsigned char> host_pack_;
  Event pack_copied_;
  LloydPath path_;
  struct PlanEntry {
    int k;
    bool accumulate, given;
    LloydPlan plan;
  };
  std::vector<PlanEntry> plans_;
  int max_groups_ = 32;        ///< cap_warp_groups
  bool walk_inertia_ = false;  ///< inertia_in_walk
  std::vector<double> pot_chunks_;
  bool pot_chunks_valid_ = false;
  DeviceBuffer<double> partials_, lloyd_totals_, lloyd_out_;
  std::vector<double> host_out_;
  // The GEMM path (created on first use).
  std::unique_ptr<CublasHandle> cublas_;
  DeviceBuffer<T> scores_;
  DeviceBuffer<std::int32_t> next_labels_;
  DeviceBuffer<unsigned char> sums_scratch_;
  std::int64_t tile_rows_ = 0;
  // The events of PassTiming (enable_pass_timing).
  struct Timing {
    Event start, kernels, stop;
    PassTiming last;
    std::int64_t passes = 0;
  };
  std::unique_ptr<Timing> timing_;
};

/// `backend` as the CUDA backend (B: KMeansBackend<T> or const KMeansBackend<T>), for the
/// functions of cuda_backend.hpp that only it has.
template <typename T, typename B>
auto& as_cuda(B& backend) {
  using Cuda = std::conditional_t<std::is_const_v<B>, const CudaBackend<T>, CudaBackend<T>>;
  auto* cuda = dynamic_cast<Cuda*>(&backend);
  if (!cuda) throw InvalidArgument("this needs the CUDA backend, not " + backend.describe());
  return *cuda;
}

}  // namespace

template <typename T>
std::unique_ptr<KMeansBackend<T>> make_cuda_backend(LloydPath path) {
  return std::make_unique<CudaBackend<T>>(path);
}

template std::unique_ptr<KMeansBackend<float>> make_cuda_backend<float>(LloydPath);
template std::unique_ptr<KMeansBackend<double>> make_cuda_backend<double>(LloydPath);

template <typename T>
void cap_warp_groups(KMeansBackend<T>& backend, int max_groups) {
  as_cuda<T>(backend).cap_warp_groups(max_groups);
}
template void cap_warp_groups<float>(KMeansBackend<float>&, int);
template void cap_warp_groups<double>(KMeansBackend<double>&, int);

template <typename T>
void inertia_in_walk(KMeansBackend<T>& backend, bool on) {
  as_cuda<T>(backend).inertia_in_walk(on);
}
template void inertia_in_walk<float>(KMeansBackend<float>&, bool);
template void inertia_in_walk<double>(KMeansBackend<double>&, bool);

template <typename T>
void enable_pass_timing(KMeansBackend<T>& backend) {
  as_cuda<T>(backend).enable_pass_timing();
}
template void enable_pass_timing<float>(KMeansBackend<float>&);
template void enable_pass_timing<double>(KMeansBackend<double>&);

template <typename T>
PassTiming last_pass_timing(const KMeansBackend<T>& backend) {
  return as_cuda<T>(backend).last_pass_timing();
}
template PassTiming last_pass_timing<float>(const KMeansBackend<float>&);
template PassTiming last_pass_timing<double>(const KMeansBackend<double>&);

template <typename T>
std::string fused_sums_kind(int d, int k, int max_groups) {
  int device = 0;
  check(cudaGetDevice(&device), "cudaGetDevice");
  const LloydPlan plan = plan_lloyd<T>(d, k, true, device, false, true, max_groups);
  if (plan.warp_sums) return "warp/" + std::to_string(plan.groups);
  return plan.shared_partials ? "block-shared" : "block-global";
}
template std::string fused_sums_kind<float>(int, int, int);
template std::string fused_sums_kind<double>(int, int, int);

template <typename T>
std::string fused_search_kind(int d, int k) {
  int device = 0;
  check(cudaGetDevice(&device), "cudaGetDevice");
  return plan_lloyd<T>(d, k, true, device, false).tensor_search ? "tensor" : "exact";
}
template std::string fused_search_kind<float>(int, int);
template std::string fused_search_kind<double>(int, int);

}  // namespace segcore::cuda
