// segcore: reading tables (CSV, .npy) and writing output files atomically.
#pragma once

#include <cstdint>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace segcore::io {

/// Which columns to take from an input table.
struct TableOptions {
  /// Feature columns by name, in this order. Empty: every column whose first data value is
  /// numeric, except the id and weight columns and columns whose name looks like an identifier
  /// ("id", or ending in "_id" / "ID" / "Id").
  std::vector<std::string> columns;
  /// Optional column holding the row identifier (kept as text, any content).
  std::string id_column;
  /// Optional column holding non-negative sample weights (at least one must be > 0).
  std::string weight_column;
};

/// A numeric feature table read from a file.
struct Dataset {
  std::string source;                      ///< the file it was read from
  std::vector<std::string> feature_names;  ///< d names
  std::size_t rows = 0;                    ///< n
  std::vector<double> values;              ///< n x d, row-major
  std::vector<double> weights;             ///< n, or empty when no weight column was given
  bool has_ids = false;                    ///< an id column was given
  std::string id_chars;                    ///< all ids concatenated
  std::vector<std::uint64_t> id_offsets;   ///< n + 1 offsets into id_chars (when has_ids)

  std::size_t cols() const { return feature_names.size(); }
  /// The id of row i: the id column's text, or the 0-based row number when there is none.
  std::string id(std::size_t i) const;
};

/// Reads a CSV file (RFC 4180: header line, quoted fields with commas, doubled quotes and
/// newlines, LF or CRLF line ends, optional UTF-8 BOM). Every selected cell must be a finite
/// number. Throws IoError (missing/unreadable file) or ParseError naming file, row, line and
/// column for: empty file, header only, ragged row, unknown column, empty or non-numeric cell,
/// NaN/inf, negative weight, all-zero weights, duplicate column names.
Dataset read_csv(const std::string& path, const TableOptions& options);

/// Reads a 2-D NumPy .npy file (format 1.0/2.0/3.0, little-endian float32/float64, C or
/// Fortran order). Features are named x0..x{d-1}; `columns` may select among those names.
/// id_column and weight_column are not supported for .npy (InvalidArgument).
Dataset read_npy(const std::string& path, const TableOptions& options);

/// Dispatches on the file name: ".npy" to read_npy, anything else to read_csv.
Dataset read_table(const std::string& path, const TableOptions& options);

/// Writes a 2-D little-endian .npy file (float64 when `float64`, else float32) from a row-major
/// n x d double matrix.
void write_npy(const std::string& path, const double* values, std::size_t rows, std::size_t cols,
               bool float64);

/// Low-level streaming CSV reader: calls `on_record(fields, row, line)` for each data record
/// (row is 1-based and excludes the header; line is the physical 1-based line the record starts
/// on). `header` receives the header fields. Fields are unquoted. Throws ParseError on an
/// unterminated quote, stray quote, or a record whose field count differs from the header's.
void for_each_csv_record(
    const std::string& path, std::vector<std::string>& header,
    const std::function<void(const std::vector<std::string_view>& fields, std::uint64_t row,
                             std::uint64_t line)>& on_record);

/// The header fields of a CSV file (reads only the first record). Throws IoError / ParseError
/// like read_csv for a missing or empty file.
std::vector<std::string> read_csv_header(const std::string& path);

/// Shortest text that reads back to exactly `v` ("1.5", "0.1", "1e-07", "-0").
std::string format_double(double v);

/// Appends `field` to `out`, quoted per RFC 4180 when it contains a comma, quote, CR or LF.
void append_csv_field(std::string& out, std::string_view field);

/// A file written under a temporary name in the same directory and renamed over `path` by
/// commit(). If it is destroyed without commit() the temporary file is removed, so a failed run
/// never leaves a partial file at `path`.
class AtomicFile {
 public:
  explicit AtomicFile(std::string path);
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile();
  std::ostream& stream() { return out_; }
  /// Flushes, checks for write errors (IoError) and renames into place.
  void commit();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::string tmp_path_;
  std::ofstream out_;
  bool committed_ = false;
};

/// A set of output files that appear together or not at all: each add() opens a temporary file;
/// commit() renames them all into place (creating the directory if it does not exist).
/// Destroyed without commit(), it removes every temporary file and a directory it created.
class OutputSet {
 public:
  explicit OutputSet(std::string dir);
  OutputSet(const OutputSet&) = delete;
  OutputSet& operator=(const OutputSet&) = delete;
  ~OutputSet();
  /// Opens DIR/name for writing (as a temporary file until commit()).
  std::ostream& add(const std::string& name);
  void commit();
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  bool created_dir_ = false;
  bool committed_ = false;
  std::vector<std::unique_ptr<AtomicFile>> files_;
};

}  // namespace segcore::io
