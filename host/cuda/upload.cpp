// segcore: staged host-to-device uploads (host/cuda/upload.hpp).
#include "cuda/upload.hpp"

#include <cuda_runtime.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "cuda/cuda_raii.hpp"
#include "parallel.hpp"

namespace segcore::cuda {

namespace {
constexpr std::size_t kChunk = std::size_t{64} << 20;
constexpr std::size_t kStagedFrom = std::size_t{32} << 20;
constexpr std::size_t kSlice = std::size_t{4} << 20;  // at least this much per thread
}  // namespace

struct StagedUploader::Impl {
  cudaStream_t stream;
  int threads;
  PinnedBuffer<unsigned char> stage[2];
  Event done[2];
  bool pending[2] = {false, false};
  int next = 0;
};

StagedUploader::StagedUploader(cudaStream_t stream, int threads) : impl_(std::make_unique<Impl>()) {
  impl_->stream = stream;
  impl_->threads = detail::resolve_threads(threads);
}

StagedUploader::~StagedUploader() {
  // A DMA may still read a staging buffer when an exception unwinds: wait before freeing.
  if (impl_) cudaStreamSynchronize(impl_->stream);
}

void StagedUploader::copy(void* dst, const void* src, std::size_t bytes) {
  Impl& s = *impl_;
  if (bytes == 0) return;
  if (bytes < kStagedFrom) {
    check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, s.stream), "cudaMemcpyAsync");
    return;
  }
  if (s.stage[1].size() == 0) {  // both or neither: a failed second allocation leaves none
    PinnedBuffer<unsigned char> first(kChunk), second(kChunk);
    s.stage[0] = std::move(first);
    s.stage[1] = std::move(second);
  }
  auto* out = static_cast<unsigned char*>(dst);
  const auto* in = static_cast<const unsigned char*>(src);
  for (std::size_t off = 0; off < bytes; off += kChunk) {
    const std::size_t len = std::min(kChunk, bytes - off);
    const int b = s.next;
    s.next ^= 1;
    if (s.pending[b]) s.done[b].synchronize();  // its previous DMA has finished
    unsigned char* stage = s.stage[b].data();
    const std::size_t slices = std::max<std::size_t>(
        1, std::min<std::size_t>(static_cast<std::size_t>(s.threads), len / kSlice));
    const std::size_t per = (len + slices - 1) / slices;
    detail::parallel_for(slices, s.threads, [&](std::size_t t) {
      const std::size_t lo = t * per, hi = std::min(len, lo + per);
      if (lo < hi) std::memcpy(stage + lo, in + off + lo, hi - lo);
    });
    check(cudaMemcpyAsync(out + off, stage, len, cudaMemcpyHostToDevice, s.stream),
          "cudaMemcpyAsync (staged upload)");
    s.done[b].record(s.stream);
    s.pending[b] = true;
  }
}

void StagedUploader::finish() {
  check(cudaStreamSynchronize(impl_->stream), "cudaStreamSynchronize (upload)");
}

void upload(void* dst, const void* src, std::size_t bytes, cudaStream_t stream) {
  StagedUploader up(stream);
  up.copy(dst, src, bytes);
  up.finish();
}

}  // namespace segcore::cuda
