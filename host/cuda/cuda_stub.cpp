// Stands in for the CUDA host code in a build with SEGCORE_CUDA=OFF.
#include "segcore/device.hpp"

namespace segcore {

bool cuda_compiled() { return false; }

std::vector<CudaDeviceInfo> cuda_devices(std::string* why_none) {
  if (why_none) *why_none = "this build has no CUDA support (SEGCORE_CUDA=OFF)";
  return {};
}

}  // namespace segcore
