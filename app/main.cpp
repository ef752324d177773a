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
    return app.exit(e);
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
