// segcore CUDA emulator: the execution of kernels (fibers, barriers, warp exchanges), and the parts
// of the CUDA runtime and cuBLAS that segcore calls, on the host. See segcore_cuda_emu.hpp for
// the model and its limits. One emulated device: "segcore CUDA emulator", compute capability 9.0,
// 4 multiprocessors, H100 shared-memory limits; SEGCORE_EMU_NO_DEVICE=1 makes it report none.
#include <cublas_v2.h>
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "segcore_cuda_emu.hpp"

#if !defined(__x86_64__)
#error "the segcore CUDA emulator switches fibers with x86-64 code"
#endif

// Fiber switch: saves the callee-saved registers on the current stack, stores the stack pointer
// in *save, and resumes the fiber whose stack pointer is `load` (the System V x86-64 ABI: rbx,
// rbp, r12-r15 survive calls; the floating-point control state is never changed here). No
// system calls, unlike swapcontext.
extern "C" void segcore_emu_switch(void** save, void* load);
asm(R"(
  .text
  .globl segcore_emu_switch
  .type segcore_emu_switch, @function
segcore_emu_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size segcore_emu_switch, .-segcore_emu_switch
)");

namespace segcore_emu {
namespace {

constexpr int kMultiprocessors = 4;
constexpr std::size_t kDeviceBytes = std::size_t{16} << 30;
constexpr std::size_t kDefaultShared = 48 * 1024;
constexpr std::size_t kOptinShared = 227 * 1024;
constexpr std::size_t kSharedPerSm = 228 * 1024;
// The emulator cannot measure a kernel's static shared memory; it reports this much for every
// kernel (a bound on segcore's own: CUB temp storage and a few arrays of 256 values).
constexpr std::size_t kStaticSharedGuess = 16 * 1024;
constexpr std::size_t kStackBytes = 256 * 1024;

enum class Wait : unsigned char { kRunnable, kWarp, kBlock, kDone };

struct PendingCopy {
  void* dst;
  const void* src;
  std::size_t bytes;
  std::size_t group;
};

struct Fiber {
  void* sp = nullptr;  // saved stack pointer while switched out
  char* stack = nullptr;
  Wait wait = Wait::kRunnable;
  unsigned mask = 0;
  ThreadPlace place{};
  std::vector<PendingCopy> copies;
  std::size_t committed = 0;        // cp.async groups committed so far
  unsigned exchanges = 0;           // warp exchanges so far (their parity picks the slots)
  const char* site_file = nullptr;  // the __syncthreads it waits at
  int site_line = 0;
};

// Two sets of slots used alternately: a lane deposits into the set of its exchange's parity, and
// cannot come back to that set before every lane has read it (each lane reads before its next
// deposit, and the next exchange's barrier waits for every lane's deposit), so one barrier per
// exchange suffices.
struct WarpSlots {
  unsigned char value[2][32][16];
};

struct Runner {
  const LaunchConfig* cfg = nullptr;
  const std::function<void()>* body = nullptr;
  std::vector<Fiber> fibers;
  std::vector<WarpSlots> warps;
  int threads = 0;
  Fiber* current = nullptr;
  void* scheduler_sp = nullptr;
  unsigned char* shared = nullptr;  // this block's dynamic shared memory
  std::uint64_t rng = 0;
};

Runner* g_run = nullptr;  // the launch in progress (one at a time)
std::recursive_mutex g_launch_mutex;
cudaError_t g_last_error = cudaSuccess;
std::uint64_t g_launches = 0;

[[noreturn]] void die(const std::string& what) {
  std::string where;
  if (g_run && g_run->current) {
    const ThreadPlace& p = g_run->current->place;
    where = std::string(" in kernel ") + g_run->cfg->name + ", block (" +
            std::to_string(p.block_idx.x) + "," + std::to_string(p.block_idx.y) + "," +
            std::to_string(p.block_idx.z) + "), thread " + std::to_string(p.linear);
  }
  std::fprintf(stderr, "segcore CUDA emulator: %s%s\n", what.c_str(), where.c_str());
  std::fflush(stderr);
  std::abort();
}

Fiber& me() {
  if (!g_run || !g_run->current) die("a device function was called outside a kernel");
  return *g_run->current;
}

void wait_for(Wait kind, unsigned mask) {
  Fiber& f = me();
  f.wait = kind;
  f.mask = mask;
  segcore_emu_switch(&f.sp, g_run->scheduler_sp);
}

[[noreturn]] void fiber_entry() {
  Runner& r = *g_run;
  (*r.body)();
  Fiber& f = *r.current;
  if (!f.copies.empty()) die("a thread exited with cp.async copies it never waited for");
  f.wait = Wait::kDone;
  segcore_emu_switch(&f.sp, r.scheduler_sp);
  die("a finished thread was resumed");
}

// A fresh stack that `ret`s into fiber_entry with the stack aligned as after a call.
void* initial_stack(char* stack) {
  auto top = reinterpret_cast<std::uintptr_t>(stack + kStackBytes) & ~std::uintptr_t{15};
  auto* slot = reinterpret_cast<void**>(top - 16);  // return address: 16-byte aligned slot
  *slot = reinterpret_cast<void*>(&fiber_entry);
  void** sp = slot - 6;  // rbp, rbx, r12-r15 popped before the ret
  for (int i = 0; i < 6; ++i) sp[i] = nullptr;
  return sp;
}

std::uint64_t next_random(std::uint64_t& s) {
  s ^= s << 13;
  s ^= s >> 7;
  s ^= s << 17;
  return s;
}

std::string describe_waits(const Runner& r) {
  std::string out;
  for (int t = 0; t < r.threads; ++t) {
    const Wait w = r.fibers[t].wait;
    const char* what = w == Wait::kWarp    ? "warp op"
                       : w == Wait::kBlock ? "__syncthreads"
                                           : "exited";
    if (t == 0 || w != r.fibers[t - 1].wait) out += " t" + std::to_string(t) + ":" + what;
  }
  return out;
}

// Releases the warps whose lanes all wait at a warp-synchronous operation (each waiting lane's
// mask covering only waiting lanes). Dies on a mask naming a lane that has exited.
bool release_warps(Runner& r) {
  bool released = false;
  for (int w = 0; w * 32 < r.threads; ++w) {
    unsigned waiting = 0, required = 0, exited = 0;
    for (int l = 0; l < 32 && w * 32 + l < r.threads; ++l) {
      const Fiber& f = r.fibers[w * 32 + l];
      if (f.wait == Wait::kWarp) {
        waiting |= 1u << l;
        required |= f.mask;
      } else if (f.wait == Wait::kDone) {
        exited |= 1u << l;
      }
    }
    if (waiting == 0) continue;
    const int present = std::min(32, r.threads - w * 32);
    const unsigned exists = present == 32 ? 0xffffffffu : ((1u << present) - 1);
    if ((required & ~exists) != 0 || (required & exited) != 0) {
      r.current = &r.fibers[w * 32 + __builtin_ctz(waiting)];
      char masks[64];
      std::snprintf(masks, sizeof masks, "mask 0x%08x, exited lanes 0x%08x", required, exited);
      die(std::string("a warp-synchronous operation's mask names a lane that has exited (or does "
                      "not exist): ") +
          masks);
    }
    if ((required & ~waiting) != 0) continue;  // some lanes of the mask are still elsewhere
    for (int l = 0; l < present; ++l)
      if (waiting & (1u << l)) r.fibers[w * 32 + l].wait = Wait::kRunnable;
    released = true;
  }
  return released;
}

void run_block(Runner& r, uint3 block) {
  const LaunchConfig& cfg = *r.cfg;
  for (int t = 0; t < r.threads; ++t) {
    Fiber& f = r.fibers[t];
    f.wait = Wait::kRunnable;
    f.copies.clear();
    f.committed = 0;
    f.exchanges = 0;
    f.place.block_idx = block;
    f.sp = initial_stack(f.stack);
  }
  if (cfg.shared > 0) std::memset(r.shared, 0xff, cfg.shared);
  std::vector<int> order(r.threads);
  for (int t = 0; t < r.threads; ++t) order[t] = t;
  for (;;) {
    // One round: every runnable thread runs to its next barrier, in a shuffled order.
    for (int t = r.threads - 1; t > 0; --t)
      std::swap(order[t], order[next_random(r.rng) % static_cast<std::uint64_t>(t + 1)]);
    for (const int t : order) {
      Fiber& f = r.fibers[t];
      if (f.wait != Wait::kRunnable) continue;
      r.current = &f;
      segcore_emu_switch(&r.scheduler_sp, f.sp);
      r.current = nullptr;
    }
    int done = 0, at_block = 0;
    for (const Fiber& f : r.fibers) {
      done += f.wait == Wait::kDone;
      at_block += f.wait == Wait::kBlock;
    }
    if (done == r.threads) return;
    if (release_warps(r)) continue;
    if (at_block + done == r.threads) {  // exited threads count as arrived, as on the device
      const Fiber* first = nullptr;
      for (Fiber& f : r.fibers) {
        if (f.wait != Wait::kBlock) continue;
        if (!first) first = &f;
        if (f.site_line != first->site_line || std::strcmp(f.site_file, first->site_file) != 0) {
          r.current = &f;
          die(std::string("divergent __syncthreads: this thread waits at ") + f.site_file + ":" +
              std::to_string(f.site_line) + ", thread " + std::to_string(first->place.linear) +
              " at " + first->site_file + ":" + std::to_string(first->site_line));
        }
      }
      for (Fiber& f : r.fibers)
        if (f.wait == Wait::kBlock) f.wait = Wait::kRunnable;
      continue;
    }
    r.current = &r.fibers[0];
    die("deadlock: the threads wait at different barriers:" + describe_waits(r));
  }
}

// Memory whose end abuts an inaccessible page; filled with 0xff.
struct GuardedBlock {
  unsigned char* base;
  std::size_t length;
};

unsigned char* guarded_alloc(std::size_t bytes, std::size_t align, GuardedBlock& block) {
  const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  const std::size_t rounded = (bytes + align - 1) / align * align;
  const std::size_t body = (rounded + page - 1) / page * page;
  void* p = mmap(nullptr, body + page, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  auto* base = static_cast<unsigned char*>(p);
  mprotect(base + body, page, PROT_NONE);
  block = {base, body + page};
  unsigned char* user = base + body - rounded;
  std::memset(user, 0xff, rounded);
  return user;
}

struct Allocation {
  GuardedBlock block;
  std::size_t bytes;  // as asked for
};

struct Memory {
  std::mutex mutex;
  std::map<const void*, Allocation> device;
  std::size_t allocated = 0;
};
Memory& memory() {
  static Memory m;
  return m;
}

struct FuncAttributes {
  std::size_t max_dynamic_shared = kDefaultShared;
};
std::map<const void*, FuncAttributes>& func_attributes() {
  static std::map<const void*, FuncAttributes> m;
  return m;
}

bool no_device() {
  const char* v = std::getenv("SEGCORE_EMU_NO_DEVICE");
  return v && *v && std::string(v) != "0";
}

cudaError_t set_error(cudaError_t e) {
  if (e != cudaSuccess) g_last_error = e;
  return e;
}

// A fault inside a kernel (a guard page, a wild pointer) is reported with the kernel and thread.
void on_fault(int sig, siginfo_t* info, void*) {
  if (g_run && g_run->current) {
    char what[96];
    std::snprintf(what, sizeof what, "invalid memory access at %p (signal %d)", info->si_addr, sig);
    die(what);
  }
  signal(sig, SIG_DFL);
  raise(sig);
}

void install_fault_handler() {
  static bool installed = false;
  if (installed) return;
  installed = true;
  struct sigaction sa {};
  sa.sa_sigaction = on_fault;
  sa.sa_flags = SA_SIGINFO;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, nullptr);
  sigaction(SIGBUS, &sa, nullptr);
}

}  // namespace

const ThreadPlace& place() { return me().place; }

void* dynamic_shared() {
  me();
  return g_run->shared;
}

void fail(const char* what) { die(what); }

void syncthreads(const char* file, int line) {
  Fiber& f = me();
  f.site_file = file;
  f.site_line = line;
  wait_for(Wait::kBlock, 0);
}

void syncwarp(unsigned mask) {
  const Fiber& f = me();
  if (!(mask & (1u << (f.place.linear & 31))))
    die("__syncwarp with a mask that leaves out the caller");
  wait_for(Wait::kWarp, mask);
}

void warp_exchange(unsigned mask, const void* in, void* out, std::size_t bytes, int src) {
  Fiber& f = me();
  const int l = f.place.linear & 31;
  if (!(mask & (1u << l))) die("a shuffle with a mask that leaves out the caller");
  if (src < 0 || src > 31 || !(mask & (1u << src))) die("a shuffle reads a lane outside its mask");
  WarpSlots& slots = g_run->warps[static_cast<std::size_t>(f.place.linear / 32)];
  const unsigned parity = f.exchanges++ & 1u;
  std::memcpy(slots.value[parity][l], in, bytes);
  wait_for(Wait::kWarp, mask);  // every lane of the mask has deposited
  std::memcpy(out, slots.value[parity][src], bytes);
}

void warp_gather(unsigned mask, const void* in, std::size_t bytes, void* out) {
  Fiber& f = me();
  const int l = f.place.linear & 31;
  if (!(mask & (1u << l)))
    die("a warp-collective operation with a mask that leaves out the caller");
  if (bytes > sizeof(WarpSlots::value[0][0])) die("a warp gather of more than 16 bytes a lane");
  WarpSlots& slots = g_run->warps[static_cast<std::size_t>(f.place.linear / 32)];
  const unsigned parity = f.exchanges++ & 1u;
  std::memcpy(slots.value[parity][l], in, bytes);
  wait_for(Wait::kWarp, mask);  // every lane of the mask has deposited
  auto* to = static_cast<unsigned char*>(out);
  for (int src = 0; src < 32; ++src)
    if (mask & (1u << src)) std::memcpy(to + src * bytes, slots.value[parity][src], bytes);
}

void pipeline_copy(void* dst, const void* src, std::size_t bytes) {
  if (bytes != 4 && bytes != 8 && bytes != 16)
    die("cp.async of " + std::to_string(bytes) + " bytes");
  if (reinterpret_cast<std::uintptr_t>(dst) % bytes ||
      reinterpret_cast<std::uintptr_t>(src) % bytes)
    die("cp.async with an address not aligned to its size");
  Fiber& f = me();
  const auto* to = static_cast<const unsigned char*>(dst);
  const auto* shared = g_run->shared;
  if (!(to >= shared && to + bytes <= shared + g_run->cfg->shared))
    die("cp.async destination outside the dynamic shared memory");
  f.copies.push_back({dst, src, bytes, f.committed});
}

void pipeline_commit() { ++me().committed; }

void pipeline_wait_prior(std::size_t n) {
  Fiber& f = me();
  // Groups older than the n most recent committed ones complete now.
  std::vector<PendingCopy> still;
  for (const PendingCopy& c : f.copies) {
    if (c.group + n < f.committed)
      std::memcpy(c.dst, c.src, c.bytes);
    else
      still.push_back(c);
  }
  f.copies.swap(still);
}

bool run_grid(const LaunchConfig& cfg, const std::function<void()>& body) {
  std::lock_guard<std::recursive_mutex> lock(g_launch_mutex);
  if (g_run) die("a kernel launched another kernel");
  install_fault_handler();
  const std::uint64_t threads = std::uint64_t{cfg.block.x} * cfg.block.y * cfg.block.z;
  if (threads == 0 || threads > 1024 || cfg.block.z > 64 || cfg.grid.x == 0 || cfg.grid.y == 0 ||
      cfg.grid.z == 0 || cfg.grid.x > 0x7fffffffu || cfg.grid.y > 65535 || cfg.grid.z > 65535) {
    set_error(cudaErrorInvalidConfiguration);
    return false;
  }
  auto it = func_attributes().find(cfg.func);
  const std::size_t allowed =
      it == func_attributes().end() ? kDefaultShared : it->second.max_dynamic_shared;
  if (cfg.shared > allowed) {
    set_error(cudaErrorInvalidValue);
    return false;
  }
  static std::vector<char*> stacks;
  while (stacks.size() < threads) {
    void* p = mmap(nullptr, kStackBytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) die("cannot map a fiber stack");
    stacks.push_back(static_cast<char*>(p));
  }
  Runner r;
  r.cfg = &cfg;
  r.body = &body;
  r.threads = static_cast<int>(threads);
  r.fibers.resize(threads);
  r.warps.resize((threads + 31) / 32);
  r.rng = 0x9e3779b97f4a7c15ULL ^ (++g_launches * 0x2545f4914f6cdd1dULL);
  GuardedBlock shared_block{nullptr, 0};
  r.shared = guarded_alloc(cfg.shared, 16, shared_block);
  if (!r.shared) die("cannot map the dynamic shared memory");
  for (std::uint64_t t = 0; t < threads; ++t) {
    Fiber& f = r.fibers[t];
    f.stack = stacks[t];
    f.place.thread_idx = {static_cast<unsigned>(t % cfg.block.x),
                          static_cast<unsigned>(t / cfg.block.x % cfg.block.y),
                          static_cast<unsigned>(t / (std::uint64_t{cfg.block.x} * cfg.block.y))};
    f.place.block_dim = cfg.block;
    f.place.grid_dim = cfg.grid;
    f.place.linear = static_cast<int>(t);
  }
  g_run = &r;
  for (unsigned z = 0; z < cfg.grid.z; ++z)
    for (unsigned y = 0; y < cfg.grid.y; ++y)
      for (unsigned x = 0; x < cfg.grid.x; ++x) run_block(r, {x, y, z});
  g_run = nullptr;
  munmap(shared_block.base, shared_block.length);
  return true;
}

}  // namespace segcore_emu

unsigned __ballot_sync(unsigned mask, int predicate) {
  unsigned out = 0;
  for (int src = 0; src < 32; ++src) {
    if (!(mask & (1u << src))) continue;
    const int v = ::segcore_emu::shfl_from(mask, predicate, src);
    if (v) out |= 1u << src;
  }
  return out;
}

// ---- the CUDA runtime ----
using namespace segcore_emu;

extern "C" {

cudaError_t cudaGetDeviceCount(int* count) {
  if (no_device()) {
    *count = 0;
    return set_error(cudaErrorNoDevice);
  }
  *count = 1;
  return cudaSuccess;
}

cudaError_t cudaGetDevice(int* device) {
  *device = 0;
  return cudaSuccess;
}

cudaError_t cudaSetDevice(int device) {
  return device == 0 && !no_device() ? cudaSuccess : set_error(cudaErrorInvalidDevice);
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device) {
  if (device != 0 || no_device()) return set_error(cudaErrorInvalidDevice);
  *prop = cudaDeviceProp{};
  std::snprintf(prop->name, sizeof prop->name, "segcore CUDA emulator (CPU)");
  prop->totalGlobalMem = kDeviceBytes;
  prop->sharedMemPerBlock = kDefaultShared;
  prop->sharedMemPerBlockOptin = kOptinShared;
  prop->sharedMemPerMultiprocessor = kSharedPerSm;
  prop->regsPerBlock = 65536;
  prop->regsPerMultiprocessor = 65536;
  prop->warpSize = 32;
  prop->maxThreadsPerBlock = 1024;
  prop->maxThreadsPerMultiProcessor = 2048;
  prop->maxBlocksPerMultiProcessor = 32;
  prop->maxThreadsDim[0] = prop->maxThreadsDim[1] = 1024;
  prop->maxThreadsDim[2] = 64;
  prop->maxGridSize[0] = 0x7fffffff;
  prop->maxGridSize[1] = prop->maxGridSize[2] = 65535;
  prop->major = 9;
  prop->minor = 0;
  prop->multiProcessorCount = kMultiprocessors;
  prop->l2CacheSize = 50 << 20;
  prop->memoryBusWidth = 5120;
  return cudaSuccess;
}

cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device) {
  if (device != 0 || no_device()) return set_error(cudaErrorInvalidDevice);
  switch (attr) {
    case cudaDevAttrMultiProcessorCount:
      *value = kMultiprocessors;
      return cudaSuccess;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin:
      *value = static_cast<int>(kOptinShared);
      return cudaSuccess;
    case cudaDevAttrMaxSharedMemoryPerBlock:
      *value = static_cast<int>(kDefaultShared);
      return cudaSuccess;
    case cudaDevAttrMaxSharedMemoryPerMultiprocessor:
      *value = static_cast<int>(kSharedPerSm);
      return cudaSuccess;
    case cudaDevAttrMaxThreadsPerBlock:
      *value = 1024;
      return cudaSuccess;
    case cudaDevAttrWarpSize:
      *value = 32;
      return cudaSuccess;
    case cudaDevAttrComputeCapabilityMajor:
      *value = 9;
      return cudaSuccess;
    case cudaDevAttrComputeCapabilityMinor:
      *value = 0;
      return cudaSuccess;
    default:
      return set_error(cudaErrorInvalidValue);
  }
}

cudaError_t cudaMemGetInfo(std::size_t* free_bytes, std::size_t* total) {
  std::lock_guard<std::mutex> lock(memory().mutex);
  *total = kDeviceBytes;
  *free_bytes = kDeviceBytes > memory().allocated ? kDeviceBytes - memory().allocated : 0;
  return cudaSuccess;
}

cudaError_t cudaMalloc(void** p, std::size_t bytes) {
  *p = nullptr;
  if (bytes == 0) return cudaSuccess;
  Memory& m = memory();
  std::lock_guard<std::mutex> lock(m.mutex);
  if (bytes > kDeviceBytes - std::min(kDeviceBytes, m.allocated))
    return set_error(cudaErrorMemoryAllocation);
  GuardedBlock block;
  unsigned char* user = guarded_alloc(bytes, 256, block);
  if (!user) return set_error(cudaErrorMemoryAllocation);
  m.device[user] = {block, bytes};
  m.allocated += bytes;
  *p = user;
  return cudaSuccess;
}

cudaError_t cudaFree(void* p) {
  if (!p) return cudaSuccess;
  Memory& m = memory();
  std::lock_guard<std::mutex> lock(m.mutex);
  auto it = m.device.find(p);
  if (it == m.device.end()) return set_error(cudaErrorInvalidValue);
  munmap(it->second.block.base, it->second.block.length);
  m.allocated -= it->second.bytes;
  m.device.erase(it);
  return cudaSuccess;
}

cudaError_t cudaMallocHost(void** p, std::size_t bytes) {
  *p = std::aligned_alloc(4096, (std::max<std::size_t>(bytes, 1) + 4095) / 4096 * 4096);
  return *p ? cudaSuccess : set_error(cudaErrorMemoryAllocation);
}

cudaError_t cudaFreeHost(void* p) {
  std::free(p);
  return cudaSuccess;
}

cudaError_t cudaMemcpy(void* dst, const void* src, std::size_t bytes, cudaMemcpyKind) {
  if (bytes) std::memmove(dst, src, bytes);
  return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, std::size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t) {
  return cudaMemcpy(dst, src, bytes, kind);
}

cudaError_t cudaMemset(void* p, int value, std::size_t bytes) {
  if (bytes) std::memset(p, value, bytes);
  return cudaSuccess;
}

cudaError_t cudaMemsetAsync(void* p, int value, std::size_t bytes, cudaStream_t) {
  return cudaMemset(p, value, bytes);
}

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned int) {
  *s = reinterpret_cast<cudaStream_t>(new int(0));
  return cudaSuccess;
}

cudaError_t cudaStreamDestroy(cudaStream_t s) {
  delete reinterpret_cast<int*>(s);
  return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }

cudaError_t cudaEventCreate(cudaEvent_t* e) {
  *e = reinterpret_cast<cudaEvent_t>(new std::chrono::steady_clock::time_point());
  return cudaSuccess;
}

cudaError_t cudaEventDestroy(cudaEvent_t e) {
  delete reinterpret_cast<std::chrono::steady_clock::time_point*>(e);
  return cudaSuccess;
}

cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t) {
  *reinterpret_cast<std::chrono::steady_clock::time_point*>(e) = std::chrono::steady_clock::now();
  return cudaSuccess;
}

cudaError_t cudaEventSynchronize(cudaEvent_t) { return cudaSuccess; }

cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t stop) {
  const auto a = *reinterpret_cast<std::chrono::steady_clock::time_point*>(start);
  const auto b = *reinterpret_cast<std::chrono::steady_clock::time_point*>(stop);
  *ms = std::chrono::duration<float, std::milli>(b - a).count();
  return cudaSuccess;
}

cudaError_t cudaGetLastError() {
  const cudaError_t e = g_last_error;
  g_last_error = cudaSuccess;
  return e;
}

const char* cudaGetErrorName(cudaError_t e) {
  switch (e) {
    case cudaSuccess:
      return "cudaSuccess";
    case cudaErrorInvalidValue:
      return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation:
      return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration:
      return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidDevice:
      return "cudaErrorInvalidDevice";
    case cudaErrorNoDevice:
      return "cudaErrorNoDevice";
    default:
      return "cudaError (emulated)";
  }
}

const char* cudaGetErrorString(cudaError_t e) {
  switch (e) {
    case cudaSuccess:
      return "no error";
    case cudaErrorInvalidValue:
      return "invalid argument";
    case cudaErrorMemoryAllocation:
      return "out of memory";
    case cudaErrorInvalidConfiguration:
      return "invalid configuration argument";
    case cudaErrorInvalidDevice:
      return "invalid device ordinal";
    case cudaErrorNoDevice:
      return "no CUDA-capable device is detected";
    default:
      return "emulated CUDA error";
  }
}

cudaError_t cudaFuncGetAttributes(cudaFuncAttributes* attr, const void* func) {
  *attr = cudaFuncAttributes{};
  attr->sharedSizeBytes = kStaticSharedGuess;
  attr->maxThreadsPerBlock = 1024;
  attr->binaryVersion = 90;  // the device it reports (compute capability 9.0)
  attr->ptxVersion = 90;
  auto it = func_attributes().find(func);
  attr->maxDynamicSharedSizeBytes = static_cast<int>(
      it == func_attributes().end() ? kDefaultShared : it->second.max_dynamic_shared);
  return cudaSuccess;
}

cudaError_t cudaFuncSetAttribute(const void* func, cudaFuncAttribute attr, int value) {
  if (attr != cudaFuncAttributeMaxDynamicSharedMemorySize) return cudaSuccess;
  if (value < 0 || static_cast<std::size_t>(value) + kStaticSharedGuess > kOptinShared)
    return set_error(cudaErrorInvalidValue);
  func_attributes()[func].max_dynamic_shared = static_cast<std::size_t>(value);
  return cudaSuccess;
}

cudaError_t cudaOccupancyMaxActiveBlocksPerMultiprocessor(int* blocks, const void*, int block_size,
                                                          std::size_t dynamic_shared) {
  const std::size_t per_block = dynamic_shared + kStaticSharedGuess + 1024;
  const int by_threads = block_size > 0 ? 2048 / block_size : 0;
  const int by_shared = static_cast<int>(kSharedPerSm / per_block);
  *blocks = std::max(0, std::min({by_threads, by_shared, 32}));
  return cudaSuccess;
}

}  // extern "C"

// ---- cuBLAS: a plain column-major GEMM ----
extern "C" {

cublasStatus_t cublasCreate_v2(cublasHandle_t* h) {
  if (no_device()) return CUBLAS_STATUS_NOT_INITIALIZED;
  *h = reinterpret_cast<cublasHandle_t>(new int(0));
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasDestroy_v2(cublasHandle_t h) {
  delete reinterpret_cast<int*>(h);
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetStream_v2(cublasHandle_t, cudaStream_t) { return CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasSetMathMode(cublasHandle_t, cublasMath_t) { return CUBLAS_STATUS_SUCCESS; }

const char* cublasGetStatusString(cublasStatus_t s) {
  return s == CUBLAS_STATUS_SUCCESS ? "CUBLAS_STATUS_SUCCESS" : "cuBLAS error (emulated)";
}

}  // extern "C"

namespace {
template <typename T>
cublasStatus_t gemm(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, const T* alpha,
                    const T* a, int lda, const T* b, int ldb, const T* beta, T* c, int ldc) {
  if (m < 0 || n < 0 || k < 0 || ldc < std::max(1, m)) return CUBLAS_STATUS_INVALID_VALUE;
  if (lda < std::max(1, ta == CUBLAS_OP_N ? m : k) || ldb < std::max(1, tb == CUBLAS_OP_N ? k : n))
    return CUBLAS_STATUS_INVALID_VALUE;
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < m; ++i) {
      T s = 0;
      for (int l = 0; l < k; ++l) {
        const T av = ta == CUBLAS_OP_N ? a[i + static_cast<std::size_t>(l) * lda]
                                       : a[l + static_cast<std::size_t>(i) * lda];
        const T bv = tb == CUBLAS_OP_N ? b[l + static_cast<std::size_t>(j) * ldb]
                                       : b[j + static_cast<std::size_t>(l) * ldb];
        s += av * bv;
      }
      T& out = c[i + static_cast<std::size_t>(j) * ldc];
      out = *beta == T(0) ? *alpha * s : *alpha * s + *beta * out;
    }
  return CUBLAS_STATUS_SUCCESS;
}
}  // namespace

extern "C" {

cublasStatus_t cublasSgemm_v2(cublasHandle_t, cublasOperation_t ta, cublasOperation_t tb, int m,
                              int n, int k, const float* alpha, const float* a, int lda,
                              const float* b, int ldb, const float* beta, float* c, int ldc) {
  return gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

cublasStatus_t cublasDgemm_v2(cublasHandle_t, cublasOperation_t ta, cublasOperation_t tb, int m,
                              int n, int k, const double* alpha, const double* a, int lda,
                              const double* b, int ldb, const double* beta, double* c, int ldc) {
  return gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

}  // extern "C"
