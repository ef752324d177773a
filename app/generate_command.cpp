// segcore generate: write a synthetic customer base or transaction log with hidden segments.
#include <iostream>
#include <memory>

#include "commands.hpp"
#include "segcore/error.hpp"
#include "segcore/generate.hpp"
#include "terminal.hpp"

namespace segcore::app {
namespace {

struct GenerateFlags {
  // Signed, so that "--customers 0" or "-5" reaches the library's message rather than a
  // conversion error.
  std::int64_t customers = 0;
  GenerateOptions options;
  std::string out;
};

void run_generate(const GenerateFlags& f) {
  if (f.customers < 1) {
    throw InvalidArgument("--customers must be at least 1 (got " + std::to_string(f.customers) +
                          ")");
  }
  if (f.options.segments < 1) {
    throw InvalidArgument("--segments must be at least 1 (got " +
                          std::to_string(f.options.segments) + ")");
  }
  GenerateOptions options = f.options;
  options.customers = static_cast<std::uint64_t>(f.customers);
  Timer timer;
  const GenerateResult result = generate_file(options, f.out);
  const double seconds = timer.lap();
  std::cout << "segcore generate: " << result.rows << " rows x " << result.columns << " columns ("
            << (options.transactions ? "transaction log of " : "customer base of ")
            << options.customers << " customers, " << options.segments << " segments, seed "
            << options.seed << ") written to " << f.out << " in " << fixed(seconds, 2) << " s\n";
}

}  // namespace

void add_generate_command(CLI::App& app) {
  auto f = std::make_shared<GenerateFlags>();
  CLI::App* cmd = app.add_subcommand(
      "generate", "Write a synthetic customer base (or transaction log) with hidden segments");
  cmd->add_option("--customers", f->customers, "Number of customers N")->required();
  cmd->add_option("--out", f->out, "Output file: .npy (customer base only) or CSV")->required();
  cmd->add_option("--seed", f->options.seed, "Random seed")->capture_default_str();
  cmd->add_option("--segments", f->options.segments, "Number of hidden segments")
      ->capture_default_str();
  cmd->add_flag("--with-truth", f->options.with_truth,
                "Add the true_segment column (0-based) to the customer base");
  cmd->add_flag("--transactions", f->options.transactions,
                "Write a UCI Online Retail style transaction log of the N customers instead");
  cmd->add_option("--end-date", f->options.end_date,
                  "Transaction log: last day of its one-year window (YYYY-MM-DD)")
      ->capture_default_str();
  cmd->add_option("--threads", f->options.threads,
                  "CPU threads (0 = all); the output is the same for any number")
      ->capture_default_str();
  cmd->callback([f] { run_generate(*f); });
}

}  // namespace segcore::app
