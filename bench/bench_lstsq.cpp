// Batched least squares on the CPU: many small problems of m rows x p columns (float32 data, the
// last column an intercept of ones), the shapes of per-customer trend fits.
//
//   bench_lstsq                                  1M problems of 12x(2+1), 24x(4+1), 52x(8+1)
//   bench_lstsq --problems=10000000 --benchmark_filter=24/4   the 10M-problem run of one shape
//
// Counters: problems/s, and GB/s against the bytes that must be read once (A and b, float32).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "parallel.hpp"
#include "segcore/lstsq.hpp"

namespace {

std::size_t g_problems = 1000000;

struct BatchData {
  std::size_t m = 0, p = 0;
  std::vector<float> a, b;
  std::vector<std::int64_t> offsets;
};

// Uniform features in [-1, 1), b = A x_i + noise with per-problem coefficients; generated with
// counter-based draws in parallel so that building 10M problems takes seconds, not minutes.
const BatchData& batch_data(std::size_t m, std::size_t features) {
  // One shape at a time: at 10M problems a single batch is already gigabytes.
  static BatchData d;
  if (d.m == m && d.p == features + 1) return d;
  d = BatchData{};
  const std::size_t n = g_problems, p = features + 1;
  d.m = m;
  d.p = p;
  d.a.resize(n * m * p);
  d.b.resize(n * m);
  d.offsets.resize(n + 1);
  for (std::size_t i = 0; i <= n; ++i) d.offsets[i] = static_cast<std::int64_t>(i * m);
  const std::size_t chunk = 4096;
  segcore::detail::parallel_for((n + chunk - 1) / chunk, 0, [&](std::size_t c) {
    for (std::size_t i = c * chunk; i < std::min(n, (c + 1) * chunk); ++i) {
      float x[16];
      for (std::size_t j = 0; j < p; ++j)
        x[j] = static_cast<float>(segcore::detail::counter_uniform(i, 1000000 + j) * 4 - 2);
      for (std::size_t k = 0; k < m; ++k) {
        const std::size_t row = i * m + k;
        float* ar = d.a.data() + row * p;
        float y = 0;
        for (std::size_t j = 0; j < features; ++j) {
          ar[j] = static_cast<float>(segcore::detail::counter_uniform(row, j) * 2 - 1);
          y += ar[j] * x[j];
        }
        ar[features] = 1.0f;
        y += x[features];
        d.b[row] = y + static_cast<float>(0.1 * (segcore::detail::counter_uniform(row, 99) - 0.5));
      }
    }
  });
  return d;
}

void BM_lstsq_cpu(benchmark::State& state) {
  const auto m = static_cast<std::size_t>(state.range(0));
  const auto features = static_cast<std::size_t>(state.range(1));
  const BatchData& d = batch_data(m, features);
  const segcore::LstsqBatch<float> batch{
      {d.a.data(), d.b.size(), d.p}, d.b.data(), nullptr, d.offsets.data(), g_problems};
  segcore::LstsqParams params;
  std::size_t qr = 0;
  for (auto _ : state) {
    segcore::LstsqResult r = segcore::lstsq_batched(batch, params);
    qr = r.qr_problems;
    benchmark::DoNotOptimize(r.coef.data());
  }
  const double bytes = static_cast<double>((d.a.size() + d.b.size()) * sizeof(float));
  state.counters["problems/s"] = benchmark::Counter(static_cast<double>(g_problems),
                                                    benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GB/s"] =
      benchmark::Counter(bytes / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["qr_fraction"] = static_cast<double>(qr) / static_cast<double>(g_problems);
  state.SetLabel(std::to_string(g_problems) + " problems of " + std::to_string(m) + "x" +
                 std::to_string(d.p));
}

BENCHMARK(BM_lstsq_cpu)
    ->ArgNames({"m", "features"})
    ->Args({12, 2})
    ->Args({24, 4})
    ->Args({52, 8})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(1.0);

}  // namespace

int main(int argc, char** argv) {
  // --problems=N is ours; everything else goes to Google Benchmark.
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--problems=", 11) == 0)
      g_problems = std::strtoull(argv[i] + 11, nullptr, 10);
    else
      argv[kept++] = argv[i];
  }
  argc = kept;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
