// One Lloyd iteration (assign + accumulate, one read of the data) on the CPU backend and on the
// CUDA backend over a grid of (n, d, k), float32 and float64. Counters: points/s, GB/s of the
// data read once, GFLOP/s of the 2*n*k*d distance flops. The GPU figures are wall-clock per
// pass including the one small copy of the k x d sums back to the host (which the driver needs
// every iteration); DeviceCopy measures the device's copy bandwidth in the same run, the
// reference for "one read of the data".
//
//   build/bench/bench_kmeans --benchmark_counters_tabular=true
//   build/bench/bench_kmeans --benchmark_filter='Lloyd<float>/1000000/16/64'
//   build/bench/bench_kmeans --benchmark_filter='LloydCuda|DeviceCopy'
#include <benchmark/benchmark.h>

#include <map>
#include <random>
#include <utility>
#include <vector>

#include "parallel.hpp"
#include "segcore/backend.hpp"
#if defined(SEGCORE_WITH_CUDA)
#include <cuda_runtime_api.h>
#endif

namespace {

template <typename T>
std::vector<T> uniform_data(std::size_t rows, std::size_t cols, unsigned seed) {
  std::mt19937_64 gen(seed);
  std::normal_distribution<double> dist(0.0, 1.0);
  std::vector<T> v(rows * cols);
  for (auto& e : v) e = static_cast<T>(dist(gen));
  return v;
}

/// points/s, GB/s of the data read once, GFLOP/s of the 2nkd distance flops.
void set_counters(benchmark::State& state, std::size_t n, std::size_t d, std::size_t k,
                  std::size_t bytes_per_value) {
  const double iters = static_cast<double>(state.iterations());
  state.counters["points"] = benchmark::Counter(iters * n, benchmark::Counter::kIsRate);
  state.counters["GB"] =
      benchmark::Counter(iters * n * d * bytes_per_value / 1e9, benchmark::Counter::kIsRate);
  state.counters["GFLOP"] =
      benchmark::Counter(iters * 2.0 * n * k * d / 1e9, benchmark::Counter::kIsRate);
}

template <typename T>
void Lloyd(benchmark::State& state) {
  const std::size_t n = static_cast<std::size_t>(state.range(0));
  const std::size_t d = static_cast<std::size_t>(state.range(1));
  const std::size_t k = static_cast<std::size_t>(state.range(2));
  const int threads = static_cast<int>(state.range(3));
  const std::vector<T> x = uniform_data<T>(n, d, 1);
  // Centroids: k data rows, as an explicit init would give.
  std::vector<T> c(x.begin(), x.begin() + static_cast<std::ptrdiff_t>(k * d));
  auto backend = segcore::make_kmeans_backend<T>(segcore::Device::kCpu, threads);
  backend->set_data({x.data(), n, d}, nullptr);
  std::vector<double> sums(k * d), wsum(k);
  for (auto _ : state) {
    const auto r = backend->lloyd_pass({c.data(), k, d}, sums.data(), wsum.data());
    benchmark::DoNotOptimize(r.inertia);
  }
  set_counters(state, n, d, k, sizeof(T));
  state.SetLabel(backend->describe());
}

/// Uniform data from the counter-based generator, in parallel (100M x 16 in seconds); the last
/// shape is kept so that the k values of one (n, d) share it.
template <typename T>
const std::vector<T>& large_data(std::size_t n, std::size_t d) {
  static std::pair<std::size_t, std::size_t> shape{0, 0};
  static std::vector<T> x;
  if (shape != std::make_pair(n, d)) {
    x.assign(n * d, T(0));
    const std::size_t chunk = 1 << 16;
    segcore::detail::parallel_for((n + chunk - 1) / chunk, 0, [&](std::size_t c) {
      for (std::size_t i = c * chunk; i < std::min(n, (c + 1) * chunk); ++i)
        for (std::size_t f = 0; f < d; ++f)
          x[i * d + f] = static_cast<T>(segcore::detail::counter_uniform(i, f) * 2 - 1);
    });
    shape = {n, d};
  }
  return x;
}

template <typename T>
void LloydCuda(benchmark::State& state) {
  if (!segcore::cuda_compiled() || segcore::cuda_devices().empty()) {
    state.SkipWithError("no CUDA device");
    return;
  }
  const std::size_t n = static_cast<std::size_t>(state.range(0));
  const std::size_t d = static_cast<std::size_t>(state.range(1));
  const std::size_t k = static_cast<std::size_t>(state.range(2));
  const std::vector<T>& x = large_data<T>(n, d);
  std::vector<T> c(x.begin(), x.begin() + static_cast<std::ptrdiff_t>(k * d));
  auto backend = segcore::make_kmeans_backend<T>(segcore::Device::kCuda, 0);
  backend->set_data({x.data(), n, d}, nullptr);
  std::vector<double> sums(k * d), wsum(k);
  backend->lloyd_pass({c.data(), k, d}, sums.data(), wsum.data());  // warm-up, plan
  for (auto _ : state) {
    const auto r = backend->lloyd_pass({c.data(), k, d}, sums.data(), wsum.data());
    benchmark::DoNotOptimize(r.inertia);
  }
  set_counters(state, n, d, k, sizeof(T));
  state.SetLabel(backend->describe());
}

/// Device-to-device copy of 4 GiB: GB/s counts the bytes read (half of the traffic), the
/// reference for one read of the data.
void DeviceCopy(benchmark::State& state) {
#if defined(SEGCORE_WITH_CUDA)
  if (segcore::cuda_devices().empty()) {
    state.SkipWithError("no CUDA device");
    return;
  }
  const std::size_t bytes = std::size_t{4} << 30;
  void *a = nullptr, *b = nullptr;
  if (cudaMalloc(&a, bytes) != cudaSuccess || cudaMalloc(&b, bytes) != cudaSuccess) {
    state.SkipWithError("cudaMalloc failed");
    return;
  }
  cudaMemset(a, 1, bytes);
  cudaEvent_t start, stop;
  cudaEventCreate(&start);
  cudaEventCreate(&stop);
  for (auto _ : state) {
    cudaEventRecord(start);
    cudaMemcpy(b, a, bytes, cudaMemcpyDeviceToDevice);
    cudaEventRecord(stop);
    cudaEventSynchronize(stop);
    float ms = 0;
    cudaEventElapsedTime(&ms, start, stop);
    state.SetIterationTime(ms / 1e3);
  }
  state.counters["GB_read"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * bytes / 1e9, benchmark::Counter::kIsRate);
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  cudaFree(a);
  cudaFree(b);
#else
  state.SkipWithError("built without CUDA");
#endif
}

void GpuGrid(benchmark::internal::Benchmark* b) {
  for (long n : {1000000L, 10000000L})
    for (long d : {4L, 8L, 16L, 32L, 64L, 128L})
      for (long k : {4L, 8L, 16L, 32L, 64L, 256L, 1024L}) b->Args({n, d, k});
  for (long d : {4L, 8L, 16L, 32L})
    for (long k : {8L, 32L, 256L}) b->Args({100000000L, d, k});
  b->ArgNames({"n", "d", "k"});
  b->Unit(benchmark::kMillisecond);
  b->UseRealTime();
}

void Grid(benchmark::internal::Benchmark* b) {
  for (long n : {100000L, 1000000L})
    for (long d : {4L, 16L, 64L})
      for (long k : {8L, 64L, 256L}) b->Args({n, d, k, 0});
  b->Args({1000000, 16, 64, 1});  // one thread, for the scaling figure
  b->ArgNames({"n", "d", "k", "threads"});
  b->Unit(benchmark::kMillisecond);
  b->UseRealTime();
}

}  // namespace

BENCHMARK_TEMPLATE(Lloyd, float)->Apply(Grid);
BENCHMARK_TEMPLATE(Lloyd, double)->Apply(Grid);
BENCHMARK(DeviceCopy)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(LloydCuda, float)->Apply(GpuGrid);
BENCHMARK_MAIN();
