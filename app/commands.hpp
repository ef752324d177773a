// segcore command line: one function per subcommand registers its flags and its action.
#pragma once

#include <CLI/CLI.hpp>

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

}  // namespace segcore::app
