#include "stages.hpp"

#include <fstream>
#include <sstream>

#include "terminal.hpp"

namespace segcore::app {
namespace {

double high_water_mib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) {
      std::istringstream in(line.substr(6));
      double kib = 0;
      in >> kib;
      return kib / 1024.0;
    }
  }
  return 0.0;
}

bool reset_high_water() {
  std::ofstream clear("/proc/self/clear_refs");
  if (!clear) return false;
  clear << "5";
  clear.flush();
  return static_cast<bool>(clear);
}

}  // namespace

void Stages::begin(const std::string& name) {
  if (open_) end();
  per_stage_ = reset_high_water() && per_stage_;
  stages_.push_back({name, 0.0, 0.0});
  start_ = now_seconds();
  open_ = true;
}

void Stages::end() {
  if (!open_) return;
  stages_.back().seconds = now_seconds() - start_;
  stages_.back().peak_mib = high_water_mib();
  open_ = false;
}

}  // namespace segcore::app
