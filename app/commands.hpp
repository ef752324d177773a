// segcore command line: one function per subcommand registers its flags and its action.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "segcore/error.hpp"

namespace segcore::app {

void add_kmeans_command(CLI::App& app);
void add_predict_command(CLI::App& app);
void add_info_command(CLI::App& app);
void add_rfm_command(CLI::App& app);
void add_generate_command(CLI::App& app);
void add_choose_k_command(CLI::App& app);
void add_segment_command(CLI::App& app);
void add_lstsq_command(CLI::App& app);
void add_regress_command(CLI::App& app);
void add_trends_command(CLI::App& app);

/// A CLI11 validator accepting what `parse` accepts (a function of the flag's text that throws
/// segcore::Error otherwise): a bad value is then a usage error (exit 2) with parse's message,
/// found while the flags are parsed, before anything is read.
template <typename Parse>
CLI::Validator accepted_by(Parse parse) {
  return CLI::Validator(
      [parse](std::string& value) {
        try {
          (void)parse(value);
          return std::string();
        } catch (const Error& e) {
          return std::string(e.what());
        }
      },
      "");
}

/// --dtype's check: float32 or float64.
int check_dtype(const std::string& name);

/// --device auto|cpu|cuda on `cmd`, validated while the flags are parsed (an unknown name is a
/// usage error, exit 2, before anything is read). `what` ends the help text.
CLI::Option* add_device_option(CLI::App* cmd, std::string& device, const std::string& what = "");

}  // namespace segcore::app
