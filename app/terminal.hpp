// segcore command line: what goes to the terminal (progress, warnings, tables).
#pragma once

#include <string>
#include <vector>

#include "segcore/device.hpp"

namespace segcore::app {

/// True when stderr is a terminal: progress is only drawn there.
bool stderr_is_terminal();

/// Rewrites the current stderr line with `text` (terminals only); finish_progress() ends it.
void show_progress(const std::string& text);
void finish_progress();

void warn(const std::string& message);
void notice(const std::string& message);

/// --device NAME resolved for this machine: kAuto becomes kCuda when CUDA is compiled in and a
/// device answers, else kCpu with a one-line notice on stderr when CUDA is compiled in.
Device device_option(const std::string& name);

/// For commands that check --device before reading anything: throws NotCompiled for kCuda in a
/// build without CUDA and CudaError when no CUDA device answers (both naming --device cpu).
void require_device(Device device);

/// A plain text table: the first row is the header; numeric-looking cells are right-aligned.
std::string format_table(const std::vector<std::vector<std::string>>& rows);

/// Fixed-point text with `digits` decimals ("12.35").
std::string fixed(double v, int digits);

/// Seconds since `start`, a steady-clock reading from now_seconds().
double now_seconds();

}  // namespace segcore::app

namespace segcore::app {

/// Wall-clock laps: lap() returns the seconds since the previous lap (or construction).
class Timer {
 public:
  Timer() : last_(now_seconds()) {}
  double lap() {
    const double now = now_seconds();
    const double s = now - last_;
    last_ = now;
    return s;
  }

 private:
  double last_;
};

}  // namespace segcore::app
