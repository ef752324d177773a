// segcore internal: a minimal fork-join loop over tasks, and a deterministic chunking of rows.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

namespace segcore::detail {

/// Number of threads to use for `requested` (0 = hardware concurrency, at least 1).
int resolve_threads(int requested);

/// Runs fn(task) for task in [0, n_tasks) on up to `threads` threads (the caller's included),
/// handing tasks out dynamically. The first exception thrown by a task is rethrown here after
/// all threads have joined.
void parallel_for(std::size_t n_tasks, int threads, const std::function<void(std::size_t)>& fn);

/// Asks the kernel to fault in the pages of [data, data + bytes) for writing, split over
/// `threads` threads (Linux MADV_POPULATE_WRITE; nothing happens elsewhere or when the kernel
/// declines). First touch of fresh memory costs a page fault per 4 KiB page, ~0.3 s for the
/// 450 MB of 10M least-squares results when one thread takes them all in a serial fill.
void prefault(void* data, std::size_t bytes, int threads);

/// v resized to n value-initialised elements, its fresh pages faulted in by `threads` threads
/// first (prefault), so that the serial fill of resize() only writes.
template <typename T, typename A>
void resize_prefaulted(std::vector<T, A>& v, std::size_t n, int threads) {
  if (n > v.capacity()) {
    v.reserve(n);
    prefault(v.data() + v.size(), (n - v.size()) * sizeof(T), threads);
  }
  v.resize(n);
}

/// A split of [0, n) into equal chunks that depends only on n and the per-chunk scratch size:
/// results reduced chunk by chunk in chunk order are the same for any number of threads.
struct Chunking {
  std::size_t n = 0;
  std::size_t chunk_rows = 0;
  std::size_t chunks = 0;
  std::size_t begin(std::size_t c) const { return c * chunk_rows; }
  std::size_t end(std::size_t c) const { return c + 1 == chunks ? n : (c + 1) * chunk_rows; }
};

/// At most 256 chunks of at least `min_rows` rows; fewer when each chunk needs
/// `scratch_bytes_per_chunk` of partial results, so that all chunks together need <= 64 MiB.
Chunking make_chunking(std::size_t n, std::size_t scratch_bytes_per_chunk,
                       std::size_t min_rows = 4096);

// The counter-based generator below is also compiled into the CUDA kernels (same draws there).
#if defined(__CUDACC__)
#define SEGCORE_HOST_DEVICE __host__ __device__
#else
#define SEGCORE_HOST_DEVICE
#endif

/// splitmix64: a bijective 64-bit mixer, the basis of segcore's counter-based random numbers.
SEGCORE_HOST_DEVICE inline std::uint64_t mix64(std::uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/// Uniform double in [0, 1) from 53 random bits.
SEGCORE_HOST_DEVICE inline double to_unit(std::uint64_t bits) {
  return static_cast<double>(bits >> 11) * 0x1.0p-53;
}

/// Counter-based uniform in [0, 1) for (key, counter): the same on every backend and thread.
SEGCORE_HOST_DEVICE inline double counter_uniform(std::uint64_t key, std::uint64_t counter) {
  return to_unit(mix64(mix64(key) ^ counter));
}

/// A small sequential generator (splitmix64 stream) for host-side draws.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    state_ += 0x9e3779b97f4a7c15ULL;
    return mix64(state_);
  }
  double uniform() { return to_unit(next()); }

 private:
  std::uint64_t state_;
};

}  // namespace segcore::detail
