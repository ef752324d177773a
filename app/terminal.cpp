#include "terminal.hpp"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>

#include "commands.hpp"
#include "segcore/backend.hpp"
#include "segcore/device.hpp"
#include "segcore/error.hpp"

namespace segcore::app {
namespace {
bool progress_open = false;
}

bool stderr_is_terminal() { return isatty(STDERR_FILENO) == 1; }

void show_progress(const std::string& text) {
  if (!stderr_is_terminal()) return;
  std::cerr << "\r\033[K" << text << std::flush;
  progress_open = true;
}

void finish_progress() {
  if (progress_open) std::cerr << "\r\033[K" << std::flush;
  progress_open = false;
}

void warn(const std::string& message) {
  finish_progress();
  std::cerr << "segcore: warning: " << message << "\n";
}

void notice(const std::string& message) {
  finish_progress();
  std::cerr << "segcore: " << message << "\n";
}

Device device_option(const std::string& name) {
  std::string why;
  const Device device = resolve_device(parse_device(name), &why);
  if (!why.empty()) notice(why);
  return device;
}

CLI::Option* add_device_option(CLI::App* cmd, std::string& device, const std::string& what) {
  return cmd
      ->add_option("--device", device,
                   "auto | cpu | cuda (auto: CUDA when compiled in and a device answers, else "
                   "the CPU)" +
                       (what.empty() ? std::string() : "; " + what))
      ->capture_default_str()
      ->check(accepted_by(parse_device));
}

int check_dtype(const std::string& name) {
  if (name != "float32" && name != "float64")
    throw InvalidArgument("--dtype must be float32 or float64 (got '" + name + "')");
  return 0;
}

void require_device(Device device) {
  if (device != Device::kCuda) return;
  if (!cuda_compiled())
    throw NotCompiled(
        "--device cuda: segcore was built without CUDA (SEGCORE_CUDA=OFF): use --device cpu or "
        "auto");
  std::string why;
  if (cuda_devices(&why).empty())
    throw CudaError("--device cuda: no CUDA device answers (" + why +
                    "); use --device cpu or auto");
}

std::string fixed(double v, int digits) {
  if (std::isnan(v)) return "nan";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::string format_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width;
  for (const auto& r : rows)
    for (std::size_t c = 0; c < r.size(); ++c) {
      if (width.size() <= c) width.push_back(0);
      width[c] = std::max(width[c], r[c].size());
    }
  auto numeric = [](const std::string& s) {
    return !s.empty() && (std::isdigit(static_cast<unsigned char>(s[0])) || s[0] == '-' ||
                          s[0] == '+' || s == "nan");
  };
  std::string out;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    for (std::size_t c = 0; c < rows[i].size(); ++c) {
      const std::string& cell = rows[i][c];
      const std::string pad(width[c] - cell.size(), ' ');
      if (c) out += "  ";
      out += (i > 0 && numeric(cell)) ? pad + cell : cell + pad;
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    out += "\n";
  }
  return out;
}

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace segcore::app
