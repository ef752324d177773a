// segcore command line: wall time and peak memory of each stage of a run.
#pragma once

#include <string>
#include <vector>

namespace segcore::app {

/// Times named stages. Peak memory per stage comes from the kernel's high-water mark (VmHWM),
/// reset at the start of each stage through /proc/self/clear_refs where Linux allows it; where
/// it does not, the figure is the process's peak so far (and `peak_is_per_stage` is false).
class Stages {
 public:
  struct Stage {
    std::string name;
    double seconds = 0.0;
    double peak_mib = 0.0;
  };
  void begin(const std::string& name);
  void end();
  const std::vector<Stage>& stages() const { return stages_; }
  bool peak_is_per_stage() const { return per_stage_; }

 private:
  std::vector<Stage> stages_;
  double start_ = 0.0;
  bool open_ = false;
  bool per_stage_ = true;
};

}  // namespace segcore::app
