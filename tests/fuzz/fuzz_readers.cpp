// libFuzzer target for every reader of a user's file: the feature table (CSV and .npy), the
// transaction log (rfm and trends), the long-format least-squares table and the model file.
// Whatever the bytes, a reader returns or throws a segcore::Error; anything else (a crash, a
// sanitizer report, another exception type) is a bug. The first byte picks the reader, the rest
// is the file. Built with -DSEGCORE_BUILD_FUZZ=ON by clang (see tests/fuzz/README.md).
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "segcore/error.hpp"
#include "segcore/grouped_table.hpp"
#include "segcore/io.hpp"
#include "segcore/pipeline.hpp"
#include "segcore/rfm.hpp"
#include "segcore/trends.hpp"

namespace {

std::string scratch_path(const char* ext) {
  const char* dir = std::getenv("TMPDIR");
  return std::string(dir && *dir ? dir : "/tmp") + "/segcore_fuzz_" + std::to_string(getpid()) +
         ext;
}

void write_file(const std::string& path, const std::uint8_t* data, std::size_t size) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  if (size > 0 && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);
}

void read_with(std::uint8_t which, const std::string& csv, const std::string& npy) {
  using namespace segcore;
  using namespace segcore::io;
  switch (which % 8) {
    case 0: {
      (void)read_csv(csv, TableOptions{});
      break;
    }
    case 1: {  // named columns, an id and a weight column
      TableOptions o;
      o.columns = {"a", "b"};
      o.id_column = "id";
      o.weight_column = "w";
      (void)read_csv(csv, o);
      break;
    }
    case 2: {
      (void)read_npy(npy, TableOptions{});
      break;
    }
    case 3: {
      RfmOptions o;
      (void)compute_rfm(csv, o);
      break;
    }
    case 4: {  // an amount column and a given as-of date
      RfmOptions o;
      o.amount_column = "Amount";
      o.as_of = "2011-12-10";
      (void)compute_rfm(csv, o);
      break;
    }
    case 5: {
      TrendOptions o;
      o.amount_column = "Amount";
      o.period = TrendPeriod::kWeek;
      o.degree = 2;
      (void)customer_trends(csv, o);
      break;
    }
    case 6: {
      GroupedTableOptions o;
      o.group = "g";
      o.target = "y";
      o.features = {"x1", "x2"};
      o.weight_column = "w";
      (void)read_grouped_table(csv, o);
      break;
    }
    default: {
      (void)read_model_json(csv);
      break;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  static const std::string csv = scratch_path(".csv"), npy = scratch_path(".npy");
  const std::string& path = data[0] % 8 == 2 ? npy : csv;
  write_file(path, data + 1, size - 1);
  try {
    read_with(data[0], csv, npy);
  } catch (const segcore::Error&) {
    // The expected outcome for a bad file: a clear error.
  }
  return 0;
}
