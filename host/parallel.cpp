#include "parallel.hpp"

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace segcore::detail {

int resolve_threads(int requested) {
  if (requested > 0) return requested;
  unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(hw);
}

void prefault(void* data, std::size_t bytes, int threads) {
#if defined(__linux__)
#if !defined(MADV_POPULATE_WRITE)
#define MADV_POPULATE_WRITE 23  // Linux 5.14; older kernels answer EINVAL, which is ignored
#endif
  constexpr std::uintptr_t kPage = 4096;
  constexpr std::size_t kMinBytes = std::size_t{8} << 20;  // below this, plain faults are cheap
  if (!data || bytes < kMinBytes) return;
  const std::uintptr_t first = (reinterpret_cast<std::uintptr_t>(data) + kPage - 1) & ~(kPage - 1);
  const std::uintptr_t last = (reinterpret_cast<std::uintptr_t>(data) + bytes) & ~(kPage - 1);
  if (last <= first) return;
  const std::size_t pages = (last - first) / kPage;
  const std::size_t tasks = std::min<std::size_t>(pages, 64);
  parallel_for(tasks, resolve_threads(threads), [&](std::size_t t) {
    const std::size_t p0 = pages * t / tasks, p1 = pages * (t + 1) / tasks;
    if (p1 > p0)
      (void)madvise(reinterpret_cast<void*>(first + p0 * kPage), (p1 - p0) * kPage,
                    MADV_POPULATE_WRITE);
  });
#else
  (void)data;
  (void)bytes;
  (void)threads;
#endif
}

void parallel_for(std::size_t n_tasks, int threads, const std::function<void(std::size_t)>& fn) {
  if (n_tasks == 0) return;
  const std::size_t workers = std::min<std::size_t>(std::max(threads, 1), n_tasks);
  if (workers == 1) {
    for (std::size_t t = 0; t < n_tasks; ++t) fn(t);
    return;
  }
  std::atomic<std::size_t> next{0};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto work = [&] {
    for (;;) {
      const std::size_t t = next.fetch_add(1, std::memory_order_relaxed);
      if (t >= n_tasks) return;
      try {
        fn(t);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
        next.store(n_tasks, std::memory_order_relaxed);
      }
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(workers - 1);
  for (std::size_t w = 1; w < workers; ++w) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
}

Chunking make_chunking(std::size_t n, std::size_t scratch_bytes_per_chunk, std::size_t min_rows) {
  constexpr std::size_t kMaxChunks = 256;
  constexpr std::size_t kScratchBudget = std::size_t{64} << 20;
  std::size_t max_chunks = kMaxChunks;
  if (scratch_bytes_per_chunk > 0) {
    max_chunks = std::clamp<std::size_t>(kScratchBudget / scratch_bytes_per_chunk, 1, kMaxChunks);
  }
  Chunking c;
  c.n = n;
  std::size_t rows =
      std::max<std::size_t>(min_rows, (n + max_chunks - 1) / std::max<std::size_t>(max_chunks, 1));
  rows = std::max<std::size_t>(rows, 1);
  c.chunk_rows = rows;
  c.chunks = n == 0 ? 0 : (n + rows - 1) / rows;
  return c;
}

}  // namespace segcore::detail
