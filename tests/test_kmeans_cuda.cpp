// The CUDA K-means backend against the CPU backend on the same input and centroids. The GPU
// tests skip themselves when this build has no CUDA or no device answers; the dispatch and
// error-path tests run everywhere.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "parallel.hpp"
#include "segcore/backend.hpp"
#include "segcore/device.hpp"
#include "segcore/error.hpp"
#include "segcore/kmeans.hpp"

#if defined(SEGCORE_WITH_CUDA)
#include "cuda/cuda_backend.hpp"
#endif

namespace segcore {
namespace {

// Which Lloyd path the GPU backend takes (cuda::LloydPath where CUDA is compiled in).
enum class Path { kAuto, kFused, kGemm, kFusedExact };

template <typename T>
std::unique_ptr<KMeansBackend<T>> gpu_backend(Path path) {
#if defined(SEGCORE_WITH_CUDA)
  return cuda::make_cuda_backend<T>(static_cast<cuda::LloydPath>(static_cast<int>(path)));
#else
  (void)path;
  return make_kmeans_backend<T>(Device::kCuda, 0);  // throws NotCompiled
#endif
}

bool have_gpu() { return cuda_compiled() && !cuda_devices().empty(); }

#define SKIP_WITHOUT_GPU() \
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device (or a build without CUDA)"

template <typename T>
struct Data {
  std::size_t n = 0, d = 0;
  std::vector<T> x, w;
  ConstMatrixView<T> view() const { return {x.data(), n, d}; }
  const T* weights() const { return w.empty() ? nullptr : w.data(); }
};

/// Gaussian blobs around `centers` random centres, optionally weighted (weights in [0.5, 2.5)).
template <typename T>
Data<T> blobs(std::size_t n, std::size_t d, std::size_t centers, bool weighted,
              std::uint64_t seed) {
  detail::Rng rng(seed);
  auto normal = [&] {
    const double u1 = 1.0 - rng.uniform(), u2 = rng.uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  };
  std::vector<double> c(centers * d);
  for (auto& v : c) v = 8 * normal();
  Data<T> data;
  data.n = n;
  data.d = d;
  data.x.resize(n * d);
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t j = rng.next() % centers;
    for (std::size_t f = 0; f < d; ++f) data.x[i * d + f] = static_cast<T>(c[j * d + f] + normal());
  }
  if (weighted) {
    data.w.resize(n);
    for (auto& v : data.w) v = static_cast<T>(0.5 + 2 * rng.uniform());
  }
  return data;
}

/// k rows of the data as centroids (rows 0, step, 2 step, ...).
template <typename T>
std::vector<T> pick_centroids(const Data<T>& data, std::size_t k) {
  std::vector<T> c(k * data.d);
  const std::size_t step = std::max<std::size_t>(1, data.n / k);
  for (std::size_t j = 0; j < k; ++j)
    std::copy_n(data.x.data() + ((j * step) % data.n) * data.d, data.d, c.data() + j * data.d);
  return c;
}

double rel(double a, double b) { return std::fabs(a - b) / std::max(std::fabs(b), 1e-300); }

/// "n=... d=... k=..." (and " weighted"), for the failure messages.
std::string shape_name(std::size_t n, std::size_t d, std::size_t k, bool weighted = false) {
  return "n=" + std::to_string(n) + " d=" + std::to_string(d) + " k=" + std::to_string(k) +
         (weighted ? " weighted" : "");
}

template <typename T>
void compare_lloyd_pass(std::size_t n, std::size_t d, std::size_t k, bool weighted,
                        Path path = Path::kAuto) {
  const Data<T> data = blobs<T>(n, d, std::max<std::size_t>(1, k / 2), weighted, n * 31 + d);
  const std::vector<T> c = pick_centroids(data, k);
  const ConstMatrixView<T> cv{c.data(), k, d};
  auto cpu = make_kmeans_backend<T>(Device::kCpu, 0);
  auto gpu = gpu_backend<T>(path);
  cpu->set_data(data.view(), data.weights());
  gpu->set_data(data.view(), data.weights());
  std::vector<double> s_cpu(k * d), w_cpu(k), s_gpu(k * d), w_gpu(k);
  const LloydPassResult r_cpu = cpu->lloyd_pass(cv, s_cpu.data(), w_cpu.data());
  const LloydPassResult r_gpu = gpu->lloyd_pass(cv, s_gpu.data(), w_gpu.data());
  const std::string what = shape_name(n, d, k, weighted) + (path == Path::kGemm ? " gemm" : "");
  // Fused path: the same scores in the same order (fused multiply-adds from f = 0 on both), so
  // the same labels except where the CPU's build has no FMA and a near-tie flips. GEMM path:
  // cuBLAS sums the dot products in its own order, so a near-tie may flip either way.
  std::vector<std::int32_t> l_cpu(n), l_gpu(n);
  cpu->labels(l_cpu.data());
  gpu->labels(l_gpu.data());
  std::size_t differ = 0;
  for (std::size_t i = 0; i < n; ++i) differ += l_cpu[i] != l_gpu[i];
  EXPECT_LE(differ, path == Path::kGemm ? n / 1000 : n / 10000) << what;
  EXPECT_EQ(r_gpu.changed, static_cast<std::int64_t>(n)) << what;  // all labels were -1
  if (differ == 0) {
    EXPECT_LE(rel(r_gpu.inertia, r_cpu.inertia), 1e-12) << what;
    for (std::size_t e = 0; e < k * d; ++e)
      EXPECT_NEAR(s_gpu[e], s_cpu[e], 1e-11 * (1 + std::fabs(s_cpu[e]))) << what << " sum " << e;
    for (std::size_t j = 0; j < k; ++j)
      EXPECT_NEAR(w_gpu[j], w_cpu[j], 1e-11 * (1 + w_cpu[j])) << what << " weight " << j;
  }
  // Two passes over the same labels: nothing changes, and the sums are bitwise the same.
  std::vector<double> s2(k * d), w2(k);
  const LloydPassResult again = gpu->lloyd_pass(cv, s2.data(), w2.data());
  EXPECT_EQ(again.changed, 0) << what;
  EXPECT_EQ(0, std::memcmp(s2.data(), s_gpu.data(), s2.size() * sizeof(double))) << what;
  EXPECT_EQ(0, std::memcmp(&again.inertia, &r_gpu.inertia, sizeof(double))) << what;
  // inertia() with the stored labels agrees with the pass's.
  EXPECT_LE(rel(gpu->inertia(cv), r_gpu.inertia), 1e-12) << what;
}

TEST(CudaBackend, LloydPassMatchesCpuAcrossShapes) {
  SKIP_WITHOUT_GPU();
  // d = 1, d not a multiple of 4 or 32, d above the register path (130); n not a multiple of
  // 256; k = 1, k = n; weights.
  // Also: shared memory just under 48 KiB (d = 32, k = 100: the opt-in limit must be raised
  // there too, the kernel's static shared memory counts), and sums too large for shared memory
  // (d = 16, k = 4096: the pass without sums plus the sorted label sums).
  const std::size_t shapes[][3] = {{1000, 1, 3},    {1537, 3, 5},      {4099, 17, 33},
                                   {20000, 16, 32}, {3001, 64, 256},   {2000, 130, 7},
                                   {100, 8, 1},     {64, 5, 64},       {70000, 8, 1024},
                                   {5000, 32, 100}, {20000, 16, 4096}, {5000, 12, 20}};
  for (const auto& s : shapes)
    for (const bool weighted : {false, true}) {
      compare_lloyd_pass<float>(s[0], s[1], s[2], weighted);
      compare_lloyd_pass<double>(s[0], s[1], s[2], weighted);
    }
}

// Which fused kernel the shapes above ran: the warp-sums kernel with as many groups of lanes
// per warp (each with its own set of sums) as leave three blocks per SM, or one group if that
// leaves two (32, 8, 4, 2 and 1 group among the shapes above), the sorted block sums elsewhere;
// both kinds are compared with the CPU above. The emulator guesses every kernel's static
// shared memory as 16 KiB (the warp-sums kernel's is 3 KiB), so at the edges it may pick fewer
// groups than a GPU: d = 16, k = 32 float takes two groups on an H100 or H200, one here.
TEST(CudaBackend, FusedPassPicksWarpSumsWhereTheyFit) {
  SKIP_WITHOUT_GPU();
#if defined(SEGCORE_WITH_CUDA)
  EXPECT_EQ(cuda::fused_sums_kind<float>(16, 32).rfind("warp/", 0), 0u);  // the shape
  // On a Hopper GPU (228 KiB of shared memory an SM) it takes two groups, the tensor kernel's
  // whole walk: three blocks of 77,520 B (dynamic, static and the 1 KiB reserved) fit with 912 B
  // to spare, so a few hundred bytes more shared memory a block would silently cost that.
  const std::vector<CudaDeviceInfo> devices = cuda_devices();
  if (!devices.empty() && devices[0].name.rfind("segcore CUDA emulator", 0) != 0 &&
      devices[0].cc_major == 9)
    EXPECT_EQ(cuda::fused_sums_kind<float>(16, 32), "warp/2");
  EXPECT_EQ(cuda::fused_sums_kind<double>(16, 32), "warp/1");  // two sets: under 3 blocks
  EXPECT_EQ(cuda::fused_sums_kind<float>(1, 3), "warp/32");
  EXPECT_EQ(cuda::fused_sums_kind<float>(3, 5), "warp/8");
  EXPECT_EQ(cuda::fused_sums_kind<float>(8, 1), "warp/4");
  EXPECT_EQ(cuda::fused_sums_kind<float>(5, 64), "warp/2");   // 4 sets of 64 x 6: too many
  EXPECT_EQ(cuda::fused_sums_kind<float>(12, 20), "warp/2");  // 16 lanes a point, paired search
  EXPECT_EQ(cuda::fused_sums_kind<float>(17, 33), "warp/1");  // 32 lanes a point
  EXPECT_EQ(cuda::fused_sums_kind<float>(6, 100), "warp/1");  // 2 sets: two blocks only
  EXPECT_EQ(cuda::fused_sums_kind<float>(4, 256), "warp/1");  // one set, two blocks per SM
  EXPECT_EQ(cuda::fused_sums_kind<float>(32, 100), "block-shared");  // 8 sets: one block
  EXPECT_EQ(cuda::fused_sums_kind<float>(130, 7), "block-shared");   // d > 64: not in registers
  EXPECT_EQ(cuda::fused_sums_kind<float>(64, 256).rfind("block-", 0), 0u);
  EXPECT_EQ(cuda::fused_sums_kind<float>(16, 4096).rfind("block-", 0), 0u);
  // A cap on the groups (cap_warp_groups) takes fewer, never more.
  EXPECT_EQ(cuda::fused_sums_kind<float>(3, 5, 2), "warp/2");
  EXPECT_EQ(cuda::fused_sums_kind<float>(3, 5, 1), "warp/1");
  EXPECT_EQ(cuda::fused_sums_kind<float>(17, 33, 4), "warp/1");
  EXPECT_THROW(cuda::fused_sums_kind<float>(3, 5, 3), InvalidArgument);
#endif
}

#if defined(SEGCORE_WITH_CUDA)
// Fewer groups of lanes per warp (cap_warp_groups) change the order of the sums' additions
// only: the CPU's labels, sums and inertia within rounding, and the same bits run after run.
TEST(CudaBackend, CappedWarpGroupsMatchCpu) {
  SKIP_WITHOUT_GPU();
  for (const bool weighted : {false, true}) {
    const Data<float> data = blobs<float>(20011, 3, 4, weighted, 5);
    const std::size_t k = 5, d = data.d;
    const std::vector<float> c = pick_centroids(data, k);
    auto cpu = make_kmeans_backend<float>(Device::kCpu, 1);
    cpu->set_data(data.view(), data.weights());
    std::vector<double> s_cpu(k * d), w_cpu(k);
    const LloydPassResult r_cpu = cpu->lloyd_pass({c.data(), k, d}, s_cpu.data(), w_cpu.data());
    std::vector<std::int32_t> l_cpu(data.n), l_gpu(data.n);
    cpu->labels(l_cpu.data());
    for (const int cap : {1, 2, 32}) {
      auto gpu = cuda::make_cuda_backend<float>();
      cuda::cap_warp_groups(*gpu, cap);
      gpu->set_data(data.view(), data.weights());
      std::vector<double> s(k * d), w(k), s2(k * d), w2(k);
      const LloydPassResult r = gpu->lloyd_pass({c.data(), k, d}, s.data(), w.data());
      gpu->labels(l_gpu.data());
      const std::string what = "cap " + std::to_string(cap) + (weighted ? " weighted" : "");
      EXPECT_EQ(l_gpu, l_cpu) << what;
      EXPECT_LE(rel(r.inertia, r_cpu.inertia), 1e-12) << what;
      for (std::size_t e = 0; e < k * d; ++e)
        EXPECT_NEAR(s[e], s_cpu[e], 1e-11 * (1 + std::fabs(s_cpu[e]))) << what << " sum " << e;
      for (std::size_t j = 0; j < k; ++j)
        EXPECT_NEAR(w[j], w_cpu[j], 1e-11 * (1 + w_cpu[j])) << what << " weight " << j;
      gpu->lloyd_pass({c.data(), k, d}, s2.data(), w2.data());
      EXPECT_EQ(0, std::memcmp(s.data(), s2.data(), s.size() * sizeof(double))) << what;
    }
  }
  auto gpu = cuda::make_cuda_backend<float>();
  EXPECT_THROW(cuda::cap_warp_groups(*gpu, 0), InvalidArgument);
  EXPECT_THROW(cuda::cap_warp_groups(*gpu, 6), InvalidArgument);
  auto cpu = make_kmeans_backend<float>(Device::kCpu, 1);
  EXPECT_THROW(cuda::cap_warp_groups(*cpu, 1), InvalidArgument);
}

// The inertia summed in the walk (inertia_in_walk) against the settle's, on the tensor-core
// kernel: the same labels, change count, sums and weights, bit for bit; the inertia within
// rounding of the settle's and of the CPU's, and the same bits run after run; passes without
// sums unchanged. One to four k-steps, 4 to 32 lanes a point (8 groups to 1), n not a multiple
// of a warp's or a block's points, k = 1, weights.
TEST(CudaBackend, InertiaInWalkGivesTheSettlesFigures) {
  SKIP_WITHOUT_GPU();
  const std::size_t shapes[][3] = {{20000, 16, 32}, {4099, 17, 33}, {1537, 3, 5},
                                   {2001, 31, 7},   {999, 8, 1},    {5000, 12, 20}};
  for (const auto& shape : shapes)
    for (const bool weighted : {false, true}) {
      const std::size_t n = shape[0], d = shape[1], k = shape[2];
      const Data<float> data =
          blobs<float>(n, d, std::max<std::size_t>(1, k / 2), weighted, n + 3 * d);
      const std::vector<float> c = pick_centroids(data, k);
      const ConstMatrixView<float> cv{c.data(), k, d};
      const std::string what = shape_name(n, d, k, weighted);
      ASSERT_EQ(cuda::fused_search_kind<float>(static_cast<int>(d), static_cast<int>(k)), "tensor")
          << what;
      auto cpu = make_kmeans_backend<float>(Device::kCpu, 1);
      cpu->set_data(data.view(), data.weights());
      std::vector<double> s_cpu(k * d), w_cpu(k);
      const double inertia_cpu = cpu->lloyd_pass(cv, s_cpu.data(), w_cpu.data()).inertia;
      std::vector<std::int32_t> labels[2];
      std::vector<double> sums[2], weights[2];
      LloydPassResult r[2], labels_only[2];
      for (int walk = 0; walk < 2; ++walk) {
        auto gpu = cuda::make_cuda_backend<float>();
        cuda::inertia_in_walk(*gpu, walk == 1);
        gpu->set_data(data.view(), data.weights());
        sums[walk].resize(k * d);
        weights[walk].resize(k);
        r[walk] = gpu->lloyd_pass(cv, sums[walk].data(), weights[walk].data());
        labels[walk].resize(n);
        gpu->labels(labels[walk].data());
        std::vector<double> s2(k * d), w2(k);
        const double again = gpu->lloyd_pass(cv, s2.data(), w2.data()).inertia;
        EXPECT_EQ(0, std::memcmp(&again, &r[walk].inertia, sizeof again)) << what;
        labels_only[walk] = gpu->lloyd_pass(cv, nullptr, nullptr);
      }
      EXPECT_EQ(labels[1], labels[0]) << what;
      EXPECT_EQ(r[1].changed, r[0].changed) << what;
      EXPECT_EQ(0, std::memcmp(sums[1].data(), sums[0].data(), k * d * sizeof(double))) << what;
      EXPECT_EQ(weights[1], weights[0]) << what;
      EXPECT_LE(rel(r[1].inertia, r[0].inertia), 1e-12) << what;
      EXPECT_LE(rel(r[1].inertia, inertia_cpu), 1e-12) << what;
      EXPECT_EQ(0, std::memcmp(&labels_only[1].inertia, &labels_only[0].inertia, sizeof(double)))
          << what;
    }
  auto cpu = make_kmeans_backend<float>(Device::kCpu, 1);
  EXPECT_THROW(cuda::inertia_in_walk(*cpu, true), InvalidArgument);
}

// A pass asked for no inertia (Lloyd's iterations) computes no distance to the chosen centroid
// (and on the GEMM path reads no row for the changed count): the same labels, changed count,
// sums and weights bit for bit as with the inertia, on every path (tensor search with the
// inertia in the settle or the walk, exact fused search, paired search, the sorting kernel past
// 64 features, the sums by sorting for large k, the GEMM path), and NaN for the inertia.
template <typename T>
void pass_without_inertia(Path path, bool walk, std::size_t n, std::size_t d, std::size_t k,
                          bool weighted) {
  const Data<T> data = blobs<T>(n, d, std::max<std::size_t>(1, k / 2), weighted, n + d + k);
  const std::vector<T> c = pick_centroids(data, k);
  const ConstMatrixView<T> cv{c.data(), k, d};
  const std::string what = std::string(sizeof(T) == 4 ? "float" : "double") +
                           " path=" + std::to_string(static_cast<int>(path)) +
                           (walk ? " walk " : " ") + shape_name(n, d, k, weighted);
  std::vector<std::int32_t> labels[2];
  std::vector<double> sums[2], weights[2];
  LloydPassResult r[2];
  double stored_inertia = 0;
  for (int with = 0; with < 2; ++with) {
    auto gpu = gpu_backend<T>(path);
    cuda::inertia_in_walk(*gpu, walk);
    gpu->set_data(data.view(), data.weights());
    sums[with].resize(k * d);
    weights[with].resize(k);
    r[with] = gpu->lloyd_pass(cv, sums[with].data(), weights[with].data(), with == 1);
    labels[with].resize(n);
    gpu->labels(labels[with].data());
    if (with == 0) {
      const LloydPassResult again = gpu->lloyd_pass(cv, nullptr, nullptr, false);
      EXPECT_TRUE(std::isnan(again.inertia)) << what;
      EXPECT_EQ(again.changed, 0) << what;
      stored_inertia = gpu->inertia(cv);
    }
  }
  EXPECT_TRUE(std::isnan(r[0].inertia)) << what;
  EXPECT_TRUE(std::isfinite(r[1].inertia) && r[1].inertia > 0) << what;
  EXPECT_EQ(labels[0], labels[1]) << what;
  EXPECT_EQ(r[0].changed, r[1].changed) << what;
  EXPECT_EQ(r[0].changed, static_cast<std::int64_t>(n)) << what;
  EXPECT_EQ(0, std::memcmp(sums[0].data(), sums[1].data(), k * d * sizeof(double))) << what;
  EXPECT_EQ(weights[0], weights[1]) << what;
  EXPECT_LE(rel(stored_inertia, r[1].inertia), 1e-12) << what;
}

TEST(CudaBackend, APassWithoutTheInertiaGivesTheSameLabelsAndSums) {
  SKIP_WITHOUT_GPU();
  for (const bool weighted : {false, true}) {
    for (const bool walk : {false, true}) {
      pass_without_inertia<float>(Path::kAuto, walk, 20000, 16, 32, weighted);  // tensor
      pass_without_inertia<float>(Path::kAuto, walk, 1537, 3, 5, weighted);
      // d a register width and every lane in a group (one, two, four and eight groups of
      // lanes): the tensor kernel's whole walks of 32 points, and the general walk for the
      // last ones.
      for (const std::size_t d : {32, 16, 8, 4}) {
        const std::size_t k = 64 / d;
        EXPECT_EQ(cuda::fused_search_kind<float>(d, k), "tensor");
        EXPECT_EQ(cuda::fused_sums_kind<float>(d, k), "warp/" + std::to_string(32 / d));
        pass_without_inertia<float>(Path::kAuto, walk, 20011, d, k, weighted);
      }
    }
    EXPECT_EQ(cuda::fused_search_kind<float>(16, 32), "tensor");
    pass_without_inertia<float>(Path::kFusedExact, false, 4099, 16, 32, weighted);  // paired
    pass_without_inertia<float>(Path::kFusedExact, false, 3001, 24, 7, weighted);
    pass_without_inertia<double>(Path::kAuto, false, 3001, 5, 7, weighted);
    pass_without_inertia<float>(Path::kAuto, false, 2000, 70, 6, weighted);     // sort kernel
    pass_without_inertia<double>(Path::kAuto, false, 1500, 40, 700, weighted);  // large k
    pass_without_inertia<float>(Path::kGemm, false, 2500, 20, 9, weighted);
    pass_without_inertia<double>(Path::kGemm, false, 2500, 33, 40, weighted);
  }
}
#endif

/// Points near the bisectors of pairs of centroids (centroids within 1 of `offset` in every
/// feature, so that the scores are large next to their differences): the midpoint of two random
/// centroids, moved along their difference by at most 1e-4 of it; every `dup`-th centroid
/// repeats the one before it (exact ties).
Data<float> near_ties(std::size_t n, std::size_t d, std::size_t k, std::size_t dup, double offset,
                      std::vector<float>& c, std::uint64_t seed) {
  detail::Rng rng(seed);
  c.assign(k * d, 0);
  for (std::size_t j = 0; j < k; ++j)
    for (std::size_t f = 0; f < d; ++f)
      c[j * d + f] = j % dup == dup - 1 && j > 0
                         ? c[(j - 1) * d + f]
                         : static_cast<float>(offset + 2 * rng.uniform() - 1);
  Data<float> data;
  data.n = n;
  data.d = d;
  data.x.resize(n * d);
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t a = rng.next() % k, b = rng.next() % k;
    const double t = (rng.uniform() - 0.5) * 2e-4;
    for (std::size_t f = 0; f < d; ++f) {
      const double ca = c[a * d + f], cb = c[b * d + f];
      data.x[i * d + f] = static_cast<float>((ca + cb) / 2 + t * (ca - cb));
    }
  }
  return data;
}

// The tensor-core search (TF32 scores, then an exact search of every point whose best two are
// within the error bound) against the exact search of the same fused kernel: the same labels,
// so the same inertia and sums up to the order of the additions.
// Blobs, points within 1e-4 of a bisector of two centroids whose scores are about 100 times
// their differences (TF32 alone gets many of these wrong: the bound must send them to the exact
// search), repeated centroids (exact ties: the lowest index), and near-ties 3e4 from the origin
// (where the exact search's own float rounding is larger than the differences, so the bound's
// term for it decides), and huge values: every fifth point 1e17 times larger than the blobs
// (||x - m|| mostly past the bound's limit, 1e18 - ||m||: the exact search), every fiftieth 1e36
// (its squared norm overflows: an infinite threshold), or one centroid 1e20 times larger (every
// point goes to the exact search). Shapes: d = 1,
// 3, 8, 12, 16, 17 and 31 (one to four k-steps, odd d), k = 1, 5, 20, 32, 100, 256, n not a
// multiple of 32.
TEST(CudaBackend, TensorSearchGivesTheExactSearchsLabels) {
  SKIP_WITHOUT_GPU();
#if defined(SEGCORE_WITH_CUDA)
  EXPECT_EQ(cuda::fused_search_kind<float>(16, 32), "tensor");  // the shape
  EXPECT_EQ(cuda::fused_search_kind<float>(31, 7), "tensor");
  EXPECT_EQ(cuda::fused_search_kind<double>(16, 32), "exact");
  EXPECT_EQ(cuda::fused_search_kind<float>(40, 8), "exact");  // d > 32
#endif
  const std::size_t shapes[][3] = {{1000, 1, 3},   {1537, 3, 5},    {999, 8, 1},
                                   {5000, 12, 20}, {20000, 16, 32}, {4099, 17, 33},
                                   {3001, 4, 256}, {2001, 31, 100}};
  for (const auto& s : shapes)
    for (int kind = 0; kind < 6; ++kind) {
      const std::size_t n = s[0], d = s[1], k = s[2];
      std::vector<float> c;
      Data<float> data;
      if (kind == 0 || kind >= 4) {
        data = blobs<float>(n, d, std::max<std::size_t>(1, k / 2), true, n + d);
        c = pick_centroids(data, k);
        if (kind == 4)
          for (std::size_t i = 0; i < n; i += 5)
            for (std::size_t f = 0; f < d; ++f) data.x[i * d + f] *= i % 50 == 0 ? 1e36f : 1e17f;
        if (kind == 5)
          for (std::size_t f = 0; f < d; ++f) c[f] = c[f] * 1e20f + 1.0f;
      } else {
        data = near_ties(n, d, k, kind == 2 ? 2 : k + 1, kind == 3 ? 3e4 : 10, c, n * 7 + d);
      }
      const ConstMatrixView<float> cv{c.data(), k, d};
      const std::string what = shape_name(n, d, k) + " data " + std::to_string(kind);
      std::vector<std::int32_t> labels[2];
      std::vector<double> sums[2], weights[2];
      LloydPassResult r[2];
      int p = 0;
      for (const Path path : {Path::kFused, Path::kFusedExact}) {
        auto gpu = gpu_backend<float>(path);
        gpu->set_data(data.view(), data.weights());
        sums[p].resize(k * d);
        weights[p].resize(k);
        r[p] = gpu->lloyd_pass(cv, sums[p].data(), weights[p].data());
        labels[p].resize(n);
        gpu->labels(labels[p].data());
        ++p;
      }
      std::size_t differ = 0;
      for (std::size_t i = 0; i < n; ++i) differ += labels[0][i] != labels[1][i];
      EXPECT_EQ(differ, 0u) << what;
      EXPECT_EQ(r[0].changed, r[1].changed) << what;
      // The same terms, added in another order (the blocks take tiles one at a time, not in
      // pairs, and each lane settles another point of its warp).
      EXPECT_LE(rel(r[0].inertia, r[1].inertia), 1e-12) << what;
      for (std::size_t e = 0; e < k * d; ++e)
        EXPECT_NEAR(sums[0][e], sums[1][e], 1e-11 * (1 + std::fabs(sums[1][e]))) << what;
      EXPECT_EQ(weights[0], weights[1]) << what;  // float weights add exactly in double here
    }
}

// The GEMM path (cuBLAS scores on tiles of rows, warp argmin, sorted label sums) against the CPU,
// forced on small shapes and on one it is chosen for (d = 128, k = 1024): d not a multiple of
// 4 or 32, n not a multiple of the tile or the block, k = 1, k = n, weights.
TEST(CudaBackend, GemmPathMatchesCpu) {
  SKIP_WITHOUT_GPU();
  const std::size_t shapes[][3] = {{5003, 41, 300}, {3000, 128, 1024}, {20000, 32, 600},
                                   {1000, 7, 1},    {300, 35, 300},    {70001, 64, 257}};
  for (const auto& s : shapes)
    for (const bool weighted : {false, true}) {
      compare_lloyd_pass<float>(s[0], s[1], s[2], weighted, Path::kGemm);
      compare_lloyd_pass<double>(s[0], s[1], s[2], weighted, Path::kGemm);
    }
}

// Both paths on the same input: the same labels (clusters far apart, so no near-ties), sums and
// inertia within rounding of each other; the automatic choice is the GEMM path at this shape.
TEST(CudaBackend, GemmAndFusedPathsAgree) {
  SKIP_WITHOUT_GPU();
  const std::size_t n = 30011, d = 128, k = 512;
  const Data<float> data = blobs<float>(n, d, k, true, 77);
  const std::vector<float> c = pick_centroids(data, k);
  const ConstMatrixView<float> cv{c.data(), k, d};
  std::vector<std::vector<std::int32_t>> labels;
  std::vector<std::vector<double>> sums;
  std::vector<double> inertia;
  for (const Path path : {Path::kFused, Path::kGemm, Path::kAuto}) {
    auto gpu = gpu_backend<float>(path);
    gpu->set_data(data.view(), data.weights());
    std::vector<double> s(k * d + k);
    const LloydPassResult r = gpu->lloyd_pass(cv, s.data(), s.data() + k * d);
    std::vector<std::int32_t> l(n);
    gpu->labels(l.data());
    labels.push_back(l);
    sums.push_back(s);
    inertia.push_back(r.inertia);
  }
  std::size_t differ = 0;
  for (std::size_t i = 0; i < n; ++i) differ += labels[0][i] != labels[1][i];
  EXPECT_LE(differ, n / 1000);
  if (differ == 0) {
    EXPECT_LE(rel(inertia[1], inertia[0]), 1e-12);
    for (std::size_t e = 0; e < sums[0].size(); ++e)
      EXPECT_NEAR(sums[1][e], sums[0][e], 1e-11 * (1 + std::fabs(sums[0][e]))) << e;
  }
  // kAuto took the GEMM path: bitwise its answer.
  EXPECT_EQ(labels[2], labels[1]);
  EXPECT_EQ(0, std::memcmp(sums[2].data(), sums[1].data(), sums[1].size() * sizeof(double)));
}

TEST(CudaBackend, FullFitMatchesCpuWithExplicitInit) {
  SKIP_WITHOUT_GPU();
  for (const bool weighted : {false, true}) {
    const Data<double> data = blobs<double>(30000, 12, 9, weighted, 5);
    const std::vector<double> init = pick_centroids(data, 9);
    KMeansParams p;
    p.k = 9;
    p.init = KMeansInit::kExplicit;
    p.device = Device::kCpu;
    const auto cpu = kmeans_fit<double>(data.view(), data.weights(), p, {init.data(), 9, 12});
    p.device = Device::kCuda;
    const auto gpu = kmeans_fit<double>(data.view(), data.weights(), p, {init.data(), 9, 12});
    EXPECT_EQ(gpu.labels, cpu.labels);
    EXPECT_EQ(gpu.n_iter, cpu.n_iter);
    EXPECT_LE(rel(gpu.inertia, cpu.inertia), 1e-10);
    for (std::size_t e = 0; e < cpu.centroids.size(); ++e)
      EXPECT_NEAR(gpu.centroids[e], cpu.centroids[e], 1e-9 * (1 + std::fabs(cpu.centroids[e])));
    EXPECT_NE(gpu.backend.find("cuda"), std::string::npos) << gpu.backend;
  }
}

TEST(CudaBackend, EmptyClustersAreRelocatedAsOnTheCpu) {
  SKIP_WITHOUT_GPU();
  const Data<double> data = blobs<double>(5000, 4, 3, false, 9);
  std::vector<double> init = pick_centroids(data, 6);
  for (std::size_t f = 0; f < 4; ++f) init[5 * 4 + f] = 1e6;  // centroid 5 gets no point
  KMeansParams p;
  p.k = 6;
  p.init = KMeansInit::kExplicit;
  p.device = Device::kCpu;
  const auto cpu = kmeans_fit<double>(data.view(), nullptr, p, {init.data(), 6, 4});
  p.device = Device::kCuda;
  const auto gpu = kmeans_fit<double>(data.view(), nullptr, p, {init.data(), 6, 4});
  EXPECT_EQ(gpu.labels, cpu.labels);
  EXPECT_LE(rel(gpu.inertia, cpu.inertia), 1e-10);

  // More than 16 empty clusters at once: the device picks the farthest points by a stable sort
  // of all distances instead of 16 arg-max rounds; the same points as the CPU.
  std::vector<double> many = pick_centroids(data, 40);
  for (std::size_t j = 20; j < 40; ++j)
    for (std::size_t f = 0; f < 4; ++f) many[j * 4 + f] = 1e6 + static_cast<double>(j);
  p.k = 40;
  p.device = Device::kCpu;
  const auto cpu40 = kmeans_fit<double>(data.view(), nullptr, p, {many.data(), 40, 4});
  p.device = Device::kCuda;
  const auto gpu40 = kmeans_fit<double>(data.view(), nullptr, p, {many.data(), 40, 4});
  EXPECT_EQ(gpu40.labels, cpu40.labels);
  EXPECT_EQ(gpu40.n_iter, cpu40.n_iter);
  EXPECT_LE(rel(gpu40.inertia, cpu40.inertia), 1e-10);
}

TEST(CudaBackend, SeedingPassesMatchCpu) {
  SKIP_WITHOUT_GPU();
  const Data<float> data = blobs<float>(50000, 6, 5, true, 3);
  auto cpu = make_kmeans_backend<float>(Device::kCpu, 0);
  auto gpu = make_kmeans_backend<float>(Device::kCuda, 0);
  cpu->set_data(data.view(), data.weights());
  gpu->set_data(data.view(), data.weights());
  EXPECT_THROW(gpu->candidate_potentials({data.x.data(), 1, 6}, nullptr), InvalidArgument);
  const std::vector<float> first = pick_centroids(data, 1);
  const double p_cpu = cpu->update_closest({first.data(), 1, 6}, true);
  const double p_gpu = gpu->update_closest({first.data(), 1, 6}, true);
  EXPECT_LE(rel(p_gpu, p_cpu), 1e-12);
  const std::vector<float> cand = pick_centroids(data, 20);  // more than one batch of 16
  std::vector<double> pc(20), pg(20);
  cpu->candidate_potentials({cand.data(), 20, 6}, pc.data());
  gpu->candidate_potentials({cand.data(), 20, 6}, pg.data());
  for (int j = 0; j < 20; ++j) EXPECT_LE(rel(pg[j], pc[j]), 1e-12) << j;
  const double targets[4] = {0.0, 0.25 * p_cpu, 0.5 * p_cpu, 2 * p_cpu};
  std::int64_t sc[4], sg[4];
  cpu->sample_by_potential(targets, 4, sc);
  gpu->sample_by_potential(targets, 4, sg);
  for (int t = 0; t < 4; ++t) EXPECT_LE(std::llabs(sc[t] - sg[t]), 1) << t;
  EXPECT_EQ(sg[3], 49999);
  // Many draws: the same rows on every run (a fixed summation order), within one row of the
  // CPU's (whose running sums round differently), and never past the total.
  std::vector<double> many(200);
  for (std::size_t t = 0; t < many.size(); ++t)
    many[t] = p_gpu * (static_cast<double>(t) + 0.5) / static_cast<double>(many.size());
  many.back() = p_gpu;  // the whole potential: the last row with weight, not past it
  std::vector<std::int64_t> g1(many.size()), g2(many.size()), c1(many.size());
  gpu->sample_by_potential(many.data(), many.size(), g1.data());
  gpu->sample_by_potential(many.data(), many.size(), g2.data());
  cpu->sample_by_potential(many.data(), many.size(), c1.data());
  EXPECT_EQ(g1, g2);
  for (std::size_t t = 0; t < many.size(); ++t) EXPECT_LE(std::llabs(g1[t] - c1[t]), 1) << t;
  EXPECT_TRUE(std::is_sorted(g1.begin(), g1.end()));
  const auto oc = cpu->oversample(10.0 / p_cpu, 77), og = gpu->oversample(10.0 / p_cpu, 77);
  EXPECT_EQ(og, oc);
  EXPECT_TRUE(std::is_sorted(og.begin(), og.end()));
}

// Seeded fits on the GPU are reproducible bit for bit (k-means++ and k-means||, with
// centring of the data and restarts), and close to the CPU's.
TEST(CudaBackend, SeededFitsAreReproducible) {
  SKIP_WITHOUT_GPU();
  const Data<float> data = blobs<float>(60001, 7, 6, true, 9);
  for (const KMeansInit init : {KMeansInit::kKMeansPlusPlus, KMeansInit::kKMeansParallel}) {
    KMeansParams p;
    p.k = 6;
    p.init = init;
    p.n_init = 2;
    p.seed = 5;
    p.device = Device::kCuda;
    const auto a = kmeans_fit<float>(data.view(), data.weights(), p);
    const auto b = kmeans_fit<float>(data.view(), data.weights(), p);
    EXPECT_EQ(a.labels, b.labels);
    EXPECT_EQ(
        0, std::memcmp(a.centroids.data(), b.centroids.data(), a.centroids.size() * sizeof(float)));
    EXPECT_EQ(0, std::memcmp(&a.inertia, &b.inertia, sizeof(double)));
    p.device = Device::kCpu;
    const auto c = kmeans_fit<float>(data.view(), data.weights(), p);
    EXPECT_LE(rel(a.inertia, c.inertia), 1e-4);  // well separated blobs: the same optimum
  }
}

TEST(CudaBackend, PredictAndTransformMatchCpu) {
  SKIP_WITHOUT_GPU();
  const Data<double> data = blobs<double>(7000, 9, 4, false, 4);
  const std::vector<double> c = pick_centroids(data, 11);
  std::vector<std::int32_t> lc(7000), lg(7000);
  std::vector<double> dc(7000), dg(7000);
  kmeans_predict<double>(data.view(), {c.data(), 11, 9}, lc.data(), dc.data(), Device::kCpu);
  kmeans_predict<double>(data.view(), {c.data(), 11, 9}, lg.data(), dg.data(), Device::kCuda);
  EXPECT_EQ(lg, lc);
  for (std::size_t i = 0; i < 7000; ++i) EXPECT_NEAR(dg[i], dc[i], 1e-9 * (1 + dc[i]));
  std::vector<double> tc(7000 * 11), tg(7000 * 11);
  kmeans_transform<double>(data.view(), {c.data(), 11, 9}, {tc.data(), 7000, 11}, Device::kCpu);
  kmeans_transform<double>(data.view(), {c.data(), 11, 9}, {tg.data(), 7000, 11}, Device::kCuda);
  for (std::size_t e = 0; e < tc.size(); ++e) EXPECT_NEAR(tg[e], tc[e], 1e-6 * (1 + tc[e]));
}

// The driver reads seeds and relocated points from the device (copy_rows): bitwise the CPU
// backend's centred rows, in any order, repeated, from the last row too.
template <typename T>
void compare_copy_rows(std::size_t n, std::size_t d) {
  const Data<T> data = blobs<T>(n, d, 3, false, n + d);
  auto cpu = make_kmeans_backend<T>(Device::kCpu, 0);
  auto gpu = gpu_backend<T>(Path::kAuto);
  cpu->set_data(data.view(), nullptr);
  gpu->set_data(data.view(), nullptr);
  std::vector<T> shift(d);
  for (std::size_t f = 0; f < d; ++f) shift[f] = static_cast<T>(0.37 * static_cast<double>(f) - 1);
  cpu->subtract(shift.data());
  gpu->subtract(shift.data());
  std::vector<std::int64_t> index = {static_cast<std::int64_t>(n) - 1, 0, 5, 5};
  for (std::size_t t = 0; t < 600; ++t) index.push_back(static_cast<std::int64_t>((t * 7919) % n));
  std::vector<T> rc(index.size() * d), rg(index.size() * d, T(-1));
  cpu->copy_rows(index.data(), index.size(), rc.data());
  gpu->copy_rows(index.data(), index.size(), rg.data());
  EXPECT_EQ(0, std::memcmp(rc.data(), rg.data(), rc.size() * sizeof(T))) << "d=" << d;
  for (std::size_t f = 0; f < d; ++f)
    EXPECT_EQ(rc[f], static_cast<T>(data.x[(n - 1) * d + f] - shift[f])) << f;
  gpu->copy_rows(index.data(), 0, nullptr);  // nothing asked, nothing read
  for (const std::int64_t bad : {std::int64_t{-1}, static_cast<std::int64_t>(n)}) {
    const std::int64_t two[2] = {0, bad};
    EXPECT_THROW(gpu->copy_rows(two, 2, rg.data()), InvalidArgument) << bad;
  }
}

TEST(CudaBackend, CopyRowsMatchesCpu) {
  SKIP_WITHOUT_GPU();
  compare_copy_rows<float>(3001, 1);
  compare_copy_rows<float>(3001, 17);
  compare_copy_rows<double>(1000, 130);
}

// A fit that takes the rows frees them once they are on the device (the caller's host copy does
// not live through the fit), and gives the view fit's result bit for bit: every init, weights,
// restarts and an empty-cluster relocation, whose points now come from the device.
TEST(CudaBackend, TakingTheRowsFreesThemAndChangesNothing) {
  SKIP_WITHOUT_GPU();
  const Data<float> data = blobs<float>(8001, 5, 4, true, 21);
  std::vector<float> taken = data.x;
  auto gpu = gpu_backend<float>(Path::kAuto);
  gpu->adopt_data(taken, 5, data.weights());
  EXPECT_TRUE(taken.empty());
  EXPECT_EQ(taken.capacity(), 0u);
  EXPECT_EQ(gpu->rows(), 8001u);
  EXPECT_EQ(gpu->host_rows(), nullptr);
  for (const KMeansInit init : {KMeansInit::kKMeansPlusPlus, KMeansInit::kKMeansParallel,
                                KMeansInit::kRandom, KMeansInit::kExplicit}) {
    KMeansParams p;
    p.k = 6;
    p.init = init;
    p.n_init = init == KMeansInit::kExplicit ? 1 : 2;
    p.seed = 3;
    p.device = Device::kCuda;
    std::vector<float> c0;
    if (init == KMeansInit::kExplicit) {  // two identical seeds: one cluster empties at once
      c0 = pick_centroids(data, 6);
      std::copy_n(c0.data() + 4 * 5, 5, c0.data() + 5 * 5);
    }
    const ConstMatrixView<float> c0v{c0.data(), c0.size() / 5, 5};
    const auto a = kmeans_fit<float>(data.view(), data.weights(), p, c0v);
    const auto b = kmeans_fit<float>(std::vector<float>(data.x), 5, data.weights(), p, c0v);
    const std::string what = kmeans_init_name(init);
    EXPECT_EQ(a.labels, b.labels) << what;
    EXPECT_EQ(a.centroids, b.centroids) << what;
    EXPECT_EQ(0, std::memcmp(&a.inertia, &b.inertia, sizeof(double))) << what;
    EXPECT_EQ(a.n_iter, b.n_iter) << what;
    EXPECT_EQ(a.best_run, b.best_run) << what;
    EXPECT_NE(a.backend.find("cuda"), std::string::npos) << a.backend;
    // With explicit init the duplicate seed's cluster stays empty unless a relocation ran.
    EXPECT_EQ(b.distinct_clusters, 6u) << what;
  }
}

// The GPU finds the first NaN or infinity on the device (the fit's column moments tell it to
// look): the same position as the CPU's, and the fit names it by row and column.
TEST(CudaBackend, NonFiniteDataIsNamedAsOnTheCpu) {
  SKIP_WITHOUT_GPU();
  Data<float> data = blobs<float>(5003, 7, 3, false, 8);
  auto gpu = gpu_backend<float>(Path::kAuto);
  gpu->set_data(data.view(), nullptr);
  EXPECT_EQ(gpu->first_nonfinite(), -1);
  data.x[4321 * 7 + 6] = std::numeric_limits<float>::infinity();
  data.x[5002 * 7 + 1] = std::numeric_limits<float>::quiet_NaN();
  auto cpu = make_kmeans_backend<float>(Device::kCpu, 0);
  for (auto* b : {gpu.get(), cpu.get()}) {
    b->set_data(data.view(), nullptr);
    EXPECT_EQ(b->first_nonfinite(), 4321 * 7 + 6) << b->describe();
  }
  KMeansParams p;
  p.k = 3;
  p.device = Device::kCuda;
  try {
    (void)kmeans_fit<float>(data.view(), nullptr, p);
    ADD_FAILURE() << "no error";
  } catch (const InvalidArgument& e) {
    EXPECT_STREQ(e.what(), "non-finite value at row 4321, column 6");
  }
}

TEST(CudaBackend, ErrorPaths) {
  SKIP_WITHOUT_GPU();
  auto gpu = make_kmeans_backend<float>(Device::kCuda, 0);
  const Data<float> data = blobs<float>(1000, 4, 2, false, 1);
  gpu->set_data(data.view(), nullptr);
  const std::vector<float> c(3 * 5, 0.0f);
  EXPECT_THROW(gpu->lloyd_pass({c.data(), 3, 5}, nullptr, nullptr), InvalidArgument);
  EXPECT_THROW(gpu->inertia({c.data(), 3, 4}), InvalidArgument);  // labels not assigned yet
  EXPECT_THROW(gpu->sample_by_potential(nullptr, 1, nullptr), InvalidArgument);
  // More than the device holds: a clear error before any copy (the data is never read).
  const float dummy = 0;
  try {
    gpu->set_data({&dummy, std::size_t{1} << 40, 16}, nullptr);
    ADD_FAILURE() << "no error";
  } catch (const CudaError& e) {
    EXPECT_NE(std::string(e.what()).find("not enough GPU memory"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("bytes"), std::string::npos) << e.what();
  }
}

#if defined(SEGCORE_WITH_CUDA)
TEST(CudaBackend, PassTimingFromEventsChangesNothing) {
  SKIP_WITHOUT_GPU();
  const Data<float> data = blobs<float>(5000, 8, 4, false, 11);
  const std::size_t k = 6, d = data.d;
  const std::vector<float> c = pick_centroids(data, k);
  auto timed = cuda::make_cuda_backend<float>();
  auto plain = cuda::make_cuda_backend<float>();
  timed->set_data(data.view(), nullptr);
  plain->set_data(data.view(), nullptr);
  EXPECT_THROW(cuda::last_pass_timing(*timed), InvalidArgument);  // not enabled
  cuda::enable_pass_timing(*timed);
  EXPECT_THROW(cuda::last_pass_timing(*timed), InvalidArgument);  // no pass yet
  std::vector<double> s1(k * d), w1(k), s2(k * d), w2(k);
  const LloydPassResult r1 = timed->lloyd_pass({c.data(), k, d}, s1.data(), w1.data());
  const LloydPassResult r2 = plain->lloyd_pass({c.data(), k, d}, s2.data(), w2.data());
  const cuda::PassTiming t = cuda::last_pass_timing(*timed);
  EXPECT_GT(t.pass_ms, 0.0);
  EXPECT_GE(t.kernels_ms, 0.0);
  EXPECT_LE(t.kernels_ms, t.pass_ms);
  EXPECT_EQ(0, std::memcmp(s1.data(), s2.data(), s1.size() * sizeof(double)));
  EXPECT_EQ(0, std::memcmp(w1.data(), w2.data(), w1.size() * sizeof(double)));
  EXPECT_EQ(0, std::memcmp(&r1.inertia, &r2.inertia, sizeof(double)));
  // Without sums too (the events bracket that pass as well).
  timed->lloyd_pass({c.data(), k, d}, nullptr, nullptr);
  EXPECT_LE(cuda::last_pass_timing(*timed).kernels_ms, cuda::last_pass_timing(*timed).pass_ms);
  // Only the CUDA backend keeps the events.
  auto cpu = make_kmeans_backend<float>(Device::kCpu, 1);
  try {
    cuda::enable_pass_timing(*cpu);
    ADD_FAILURE() << "no error";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("CUDA backend"), std::string::npos) << e.what();
  }
}
#endif

// ---- everywhere: dispatch ------------------------------------------------------------------

TEST(CudaDispatch, CudaWithoutADeviceIsAClearError) {
  if (have_gpu()) GTEST_SKIP() << "a device answers";
  try {
    make_kmeans_backend<float>(Device::kCuda, 0);
    ADD_FAILURE() << "no error";
  } catch (const NotCompiled& e) {
    EXPECT_FALSE(cuda_compiled());
    EXPECT_NE(std::string(e.what()).find("--device cpu"), std::string::npos) << e.what();
  } catch (const CudaError& e) {
    EXPECT_TRUE(cuda_compiled());
    EXPECT_NE(std::string(e.what()).find("--device cpu"), std::string::npos) << e.what();
  }
}

TEST(CudaDispatch, AutoFallsBackToTheCpuWithANotice) {
  std::string notice;
  const Device d = resolve_device(Device::kAuto, &notice);
  if (have_gpu()) {
    EXPECT_EQ(d, Device::kCuda);
    EXPECT_TRUE(notice.empty());
  } else {
    EXPECT_EQ(d, Device::kCpu);
    EXPECT_EQ(notice.empty(), !cuda_compiled()) << notice;
  }
  EXPECT_EQ(resolve_device(Device::kCpu, nullptr), Device::kCpu);
  auto backend = make_kmeans_backend<double>(Device::kAuto, 1);
  EXPECT_NE(backend->describe().find(have_gpu() ? "cuda" : "cpu"), std::string::npos);
}

}  // namespace
}  // namespace segcore
