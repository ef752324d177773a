// One Lloyd iteration (assign + accumulate, one read of the data) on the CPU backend over a grid
// of (n, d, k), float32 and float64. Counters: points/s, GB/s of the data read once, GFLOP/s of
// the 2*n*k*d distance flops.
//
//   build/bench/bench_kmeans --benchmark_counters_tabular=true
//   build/bench/bench_kmeans --benchmark_filter='Lloyd<float>/1000000/16/64'
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "segcore/backend.hpp"

namespace {

template <typename T>
std::vector<T> uniform_data(std::size_t rows, std::size_t cols, unsigned seed) {
  std::mt19937_64 gen(seed);
  std::normal_distribution<double> dist(0.0, 1.0);
  std::vector<T> v(rows * cols);
  for (auto& e : v) e = static_cast<T>(dist(gen));
  return v;
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
  const double iters = static_cast<double>(state.iterations());
  state.counters["points"] = benchmark::Counter(iters * n, benchmark::Counter::kIsRate);
  state.counters["GB"] =
      benchmark::Counter(iters * n * d * sizeof(T) / 1e9, benchmark::Counter::kIsRate);
  state.counters["GFLOP"] =
      benchmark::Counter(iters * 2.0 * n * k * d / 1e9, benchmark::Counter::kIsRate);
  state.SetLabel(backend->describe());
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
BENCHMARK_MAIN();
