// segcore: customer segmentation from the command line.
#include <CLI/CLI.hpp>
#include <iostream>

#include "commands.hpp"
#include "segcore/error.hpp"
#include "terminal.hpp"

int main(int argc, char** argv) {
  CLI::App app{"segcore " SEGCORE_VERSION ": customer segmentation (K-means) on the CPU or GPU"};
  app.require_subcommand(1);
  app.set_version_flag("--version", SEGCORE_VERSION);
  segcore::app::add_kmeans_command(app);
  segcore::app::add_predict_command(app);
  segcore::app::add_info_command(app);
  segcore::app::add_rfm_command(app);
  segcore::app::add_generate_command(app);
  segcore::app::add_choose_k_command(app);
  segcore::app::add_segment_command(app);
  segcore::app::add_lstsq_command(app);
  segcore::app::add_regress_command(app);
  segcore::app::add_trends_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version are "errors" with exit code 0; every other is a usage error: one
    // line in the same form as the other errors, and exit status 2 (README, "Input files").
    if (e.get_exit_code() == 0) return app.exit(e);
    std::string help = "segcore";
    for (const CLI::App* sub : app.get_subcommands()) help += " " + sub->get_name();
    std::cerr << "segcore: error: " << e.what() << " (see " << help << " --help)\n";
    return 2;
  } catch (const segcore::Error& e) {
    segcore::app::finish_progress();
    std::cerr << "segcore: error: " << e.what() << "\n";
    return 1;
  } catch (const std::bad_alloc&) {
    segcore::app::finish_progress();
    std::cerr << "segcore: error: out of memory\n";
    return 1;
  } catch (const std::exception& e) {
    segcore::app::finish_progress();
    std::cerr << "segcore: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
