// segcore info: what this build can use.
#include <iostream>
#include <thread>

#include "commands.hpp"
#include "segcore/device.hpp"
#include "terminal.hpp"

namespace segcore::app {

void add_info_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("info", "Show the build, the CPU kernels and CUDA devices");
  cmd->callback([] {
    std::cout << "segcore " << SEGCORE_VERSION << "\n"
              << "CUDA support: "
              << (cuda_compiled() ? "compiled in" : "not compiled (SEGCORE_CUDA=OFF)") << "\n"
              << "CUDA K-means backend: not in this version (--device auto uses the CPU)\n"
              << "CPU: " << std::thread::hardware_concurrency() << " hardware threads, kernels "
              << cpu_kernel_isa() << "\n";
    std::string why;
    const auto devices = cuda_devices(&why);
    if (devices.empty()) {
      std::cout << "CUDA devices: none (" << why << ")\n";
      return;
    }
    std::vector<std::vector<std::string>> table = {
        {"device", "name", "memory GiB", "free GiB", "compute capability", "SMs"}};
    for (const auto& d : devices)
      table.push_back({std::to_string(d.index), d.name,
                       fixed(static_cast<double>(d.total_memory) / (1 << 30), 1),
                       fixed(static_cast<double>(d.free_memory) / (1 << 30), 1),
                       std::to_string(d.cc_major) + "." + std::to_string(d.cc_minor),
                       std::to_string(d.multiprocessors)});
    std::cout << "CUDA devices:\n" << format_table(table);
  });
}

}  // namespace segcore::app
