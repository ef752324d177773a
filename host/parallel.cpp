#include "parallel.hpp"

#include <algorithm>
#include <atomic>
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
