// segcore: NumPy .npy input and output (format versions 1.0, 2.0 and 3.0; little-endian float32
// and float64; C or Fortran order on input, C order on output).
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "segcore/error.hpp"
#include "segcore/io.hpp"

#if defined(__BYTE_ORDER__) && defined(__ORDER_BIG_ENDIAN__) && \
    __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#error "segcore's .npy reader and writer assume a little-endian host"
#endif

namespace segcore::io {

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr std::size_t kMagicLen = 6;

struct NpyHeader {
  std::string descr;
  bool fortran_order = false;
  std::vector<std::uint64_t> shape;
};

// Parses the Python dict literal of a .npy header, e.g.
// {'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }
class HeaderParser {
 public:
  HeaderParser(const std::string& path, std::string_view text) : path_(path), s_(text) {}

  NpyHeader parse() {
    NpyHeader h;
    bool has_descr = false, has_order = false, has_shape = false;
    expect('{');
    for (;;) {
      skip_space();
      if (peek() == '}') {
        ++i_;
        break;
      }
      const std::string key = string_literal();
      expect(':');
      skip_space();
      if (key == "descr") {
        if (peek() != '\'' && peek() != '"') {
          fail(
              "unsupported dtype: only plain little-endian float32 ('<f4') and float64 ('<f8') "
              "arrays are supported, not structured arrays");
        }
        h.descr = string_literal();
        has_descr = true;
      } else if (key == "fortran_order") {
        h.fortran_order = boolean();
        has_order = true;
      } else if (key == "shape") {
        h.shape = tuple();
        has_shape = true;
      } else {
        skip_value();
      }
      skip_space();
      if (peek() == ',') {
        ++i_;
        continue;
      }
      expect('}');
      break;
    }
    if (!has_descr) fail("the key 'descr' is missing");
    if (!has_order) fail("the key 'fortran_order' is missing");
    if (!has_shape) fail("the key 'shape' is missing");
    return h;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw ParseError(path_, 0, 0, "", "invalid .npy header: " + what);
  }
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void skip_space() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r'))
      ++i_;
  }
  void expect(char c) {
    skip_space();
    if (peek() != c) fail(std::string("expected '") + c + "' at offset " + std::to_string(i_));
    ++i_;
  }
  std::string string_literal() {
    skip_space();
    const char q = peek();
    if (q != '\'' && q != '"') fail("expected a string at offset " + std::to_string(i_));
    const std::size_t end = s_.find(q, i_ + 1);
    if (end == std::string_view::npos) fail("unterminated string");
    std::string out(s_.substr(i_ + 1, end - i_ - 1));
    i_ = end + 1;
    return out;
  }
  bool boolean() {
    skip_space();
    if (s_.compare(i_, 4, "True") == 0) {
      i_ += 4;
      return true;
    }
    if (s_.compare(i_, 5, "False") == 0) {
      i_ += 5;
      return false;
    }
    fail("'fortran_order' must be True or False");
  }
  std::uint64_t integer() {
    skip_space();
    if (i_ >= s_.size() || s_[i_] < '0' || s_[i_] > '9') {
      fail("expected a non-negative integer in 'shape' at offset " + std::to_string(i_));
    }
    std::uint64_t v = 0;
    while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') {
      const auto digit = static_cast<std::uint64_t>(s_[i_] - '0');
      if (v > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) fail("shape too large");
      v = v * 10 + digit;
      ++i_;
    }
    if (peek() == 'L') ++i_;  // written by Python 2
    return v;
  }
  std::vector<std::uint64_t> tuple() {
    expect('(');
    std::vector<std::uint64_t> dims;
    for (;;) {
      skip_space();
      if (peek() == ')') break;
      dims.push_back(integer());
      skip_space();
      if (peek() == ',') {
        ++i_;
        continue;
      }
      if (peek() != ')') fail("malformed 'shape'");
    }
    ++i_;
    return dims;
  }
  void skip_value() {  // strings, numbers, names, nested brackets
    int depth = 0;
    for (; i_ < s_.size(); ++i_) {
      const char c = s_[i_];
      if (c == '\'' || c == '"') {
        string_literal();
        --i_;
      } else if (c == '(' || c == '[' || c == '{') {
        ++depth;
      } else if (c == ')' || c == ']' || c == '}') {
        if (depth == 0) return;
        --depth;
      } else if (c == ',' && depth == 0) {
        return;
      }
    }
  }

  const std::string& path_;
  std::string_view s_;
  std::size_t i_ = 0;
};

std::string shape_text(const std::vector<std::uint64_t>& shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) s += ", ";
    s += std::to_string(shape[i]);
  }
  if (shape.size() == 1) s += ",";
  return s + ")";
}

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

// Reads exactly n bytes; ParseError "truncated" when the file ends first.
void read_exact(std::FILE* f, const std::string& path, void* dst, std::size_t n, const char* what) {
  const std::size_t got = std::fread(dst, 1, n, f);
  if (got == n) return;
  if (std::ferror(f)) {
    throw IoError("cannot read '" + path + "': " + std::generic_category().message(errno));
  }
  throw ParseError(path, 0, 0, "",
                   std::string("file is truncated (") + what + ": expected " + std::to_string(n) +
                       " bytes, found " + std::to_string(got) + ")");
}

// Column index of "xJ" (no sign, no leading zeros), or -1.
long long npy_column_index(const std::string& name, std::size_t cols) {
  if (name.size() < 2 || name[0] != 'x') return -1;
  if (name.size() > 2 && name[1] == '0') return -1;
  std::uint64_t j = 0;
  for (std::size_t i = 1; i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9') return -1;
    j = j * 10 + static_cast<std::uint64_t>(name[i] - '0');
    if (j >= cols) return -1;
  }
  return static_cast<long long>(j);
}

template <typename T>
void convert(const std::string& path, const unsigned char* raw, std::size_t rows, std::size_t cols,
             bool fortran, const std::vector<std::size_t>& selected, std::vector<double>& out) {
  const std::size_t k = selected.size();
  out.resize(rows * k);
  for (std::size_t s = 0; s < k; ++s) {
    const std::size_t j = selected[s];
    for (std::size_t i = 0; i < rows; ++i) {
      const std::size_t src = fortran ? j * rows + i : i * cols + j;
      T v;
      std::memcpy(&v, raw + src * sizeof(T), sizeof(T));
      if (!std::isfinite(v)) {
        throw ParseError(path, i + 1, 0, "x" + std::to_string(j),
                         "non-finite value '" + format_double(static_cast<double>(v)) + "'");
      }
      out[i * k + s] = static_cast<double>(v);
    }
  }
}

}  // namespace

Dataset read_npy(const std::string& path, const TableOptions& options) {
  if (!options.id_column.empty()) {
    throw InvalidArgument("an id column ('" + options.id_column +
                          "') is not supported for .npy input ('" + path + "')");
  }
  if (!options.weight_column.empty()) {
    throw InvalidArgument("a weight column ('" + options.weight_column +
                          "') is not supported for .npy input ('" + path + "')");
  }
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    throw IoError("cannot open '" + path + "': it is a directory");
  }
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
  if (!file) {
    throw IoError("cannot open '" + path + "': " + std::generic_category().message(errno));
  }
  const auto file_size = std::filesystem::file_size(path, ec);
  if (!ec && file_size == 0) throw ParseError(path, 0, 0, "", "file is empty");

  // Preamble: magic, version, header length.
  unsigned char pre[12];
  const std::size_t got = std::fread(pre, 1, 10, file.get());
  if (got < kMagicLen || std::memcmp(pre, kMagic, kMagicLen) != 0) {
    throw ParseError(path, 0, 0, "", "not a .npy file (missing the \\x93NUMPY magic string)");
  }
  if (got < 10) throw ParseError(path, 0, 0, "", "file is truncated (in the .npy preamble)");
  const unsigned major = pre[6], minor = pre[7];
  std::size_t header_len;
  std::size_t data_offset;
  if (major == 1) {
    header_len = static_cast<std::size_t>(pre[8]) | (static_cast<std::size_t>(pre[9]) << 8);
    data_offset = 10 + header_len;
  } else if (major == 2 || major == 3) {
    read_exact(file.get(), path, pre + 10, 2, "in the .npy preamble");
    header_len = static_cast<std::size_t>(pre[8]) | (static_cast<std::size_t>(pre[9]) << 8) |
                 (static_cast<std::size_t>(pre[10]) << 16) |
                 (static_cast<std::size_t>(pre[11]) << 24);
    data_offset = 12 + header_len;
  } else {
    throw ParseError(path, 0, 0, "",
                     "unsupported .npy format version " + std::to_string(major) + "." +
                         std::to_string(minor) + " (supported: 1.0, 2.0, 3.0)");
  }
  if (!ec && data_offset > file_size) {
    throw ParseError(path, 0, 0, "",
                     "file is truncated (the header claims " + std::to_string(header_len) +
                         " bytes, the file has " + std::to_string(file_size) + " in all)");
  }
  std::string header_text(header_len, '\0');
  read_exact(file.get(), path, header_text.data(), header_len, "in the .npy header");
  const NpyHeader h = HeaderParser(path, header_text).parse();

  std::size_t item;
  if (h.descr == "<f8") {
    item = 8;
  } else if (h.descr == "<f4") {
    item = 4;
  } else {
    throw ParseError(path, 0, 0, "",
                     "unsupported dtype '" + h.descr +
                         "' (expected little-endian float64 '<f8' or float32 '<f4')");
  }
  std::uint64_t rows, cols;
  if (h.shape.size() == 2) {
    rows = h.shape[0];
    cols = h.shape[1];
  } else if (h.shape.size() == 1) {
    rows = h.shape[0];
    cols = 1;
  } else {
    throw ParseError(path, 0, 0, "", "expected a 2-D array, found shape " + shape_text(h.shape));
  }
  if (rows == 0)
    throw ParseError(path, 0, 0, "", "no data rows (shape " + shape_text(h.shape) + ")");
  if (cols == 0) {
    throw ParseError(path, 0, 0, "", "no feature columns (shape " + shape_text(h.shape) + ")");
  }
  const std::uint64_t max_elems = std::numeric_limits<std::size_t>::max() / 8;
  if (rows > max_elems / cols) {
    throw ParseError(path, 0, 0, "", "array too large (shape " + shape_text(h.shape) + ")");
  }
  const std::size_t n = static_cast<std::size_t>(rows);
  const std::size_t d = static_cast<std::size_t>(cols);
  const std::size_t bytes = n * d * item;
  if (!ec && file_size - data_offset < bytes) {
    throw ParseError(path, 0, 0, "",
                     "file is truncated (shape " + shape_text(h.shape) + " needs " +
                         std::to_string(bytes) + " bytes of data, found " +
                         std::to_string(file_size - data_offset) + ")");
  }

  // Column selection among x0..x{d-1}.
  std::vector<std::size_t> selected;
  if (options.columns.empty()) {
    selected.resize(d);
    for (std::size_t j = 0; j < d; ++j) selected[j] = j;
  } else {
    for (const auto& name : options.columns) {
      const long long j = npy_column_index(name, d);
      if (j < 0) {
        throw ParseError(
            path, 0, 0, name,
            "unknown column; available columns: x0" +
                (d > 1 ? std::string(" .. x") + std::to_string(d - 1) : std::string()));
      }
      const auto js = static_cast<std::size_t>(j);
      if (std::find(selected.begin(), selected.end(), js) != selected.end()) {
        throw InvalidArgument("column '" + name + "' is selected more than once (reading '" + path +
                              "')");
      }
      selected.push_back(js);
    }
  }

  Dataset ds;
  ds.source = path;
  ds.rows = n;
  for (const std::size_t j : selected) ds.feature_names.push_back("x" + std::to_string(j));

  const bool identity = selected.size() == d && (d == 1 || !h.fortran_order) &&
                        std::is_sorted(selected.begin(), selected.end());
  if (item == 8 && identity) {  // read straight into the result
    ds.values.resize(n * d);
    read_exact(file.get(), path, ds.values.data(), bytes, "in the data");
    for (std::size_t i = 0; i < n; ++i) {
      for (std::size_t j = 0; j < d; ++j) {
        const double v = ds.values[i * d + j];
        if (!std::isfinite(v)) {
          throw ParseError(path, i + 1, 0, "x" + std::to_string(j),
                           "non-finite value '" + format_double(v) + "'");
        }
      }
    }
    return ds;
  }
  std::unique_ptr<unsigned char[]> raw(new unsigned char[bytes]);
  read_exact(file.get(), path, raw.get(), bytes, "in the data");
  if (item == 8) {
    convert<double>(path, raw.get(), n, d, h.fortran_order, selected, ds.values);
  } else {
    convert<float>(path, raw.get(), n, d, h.fortran_order, selected, ds.values);
  }
  return ds;
}

void write_npy(const std::string& path, const double* values, std::size_t rows, std::size_t cols,
               bool float64) {
  if (values == nullptr && rows * cols > 0) {
    throw InvalidArgument("write_npy('" + path + "'): values is null");
  }
  std::string dict = std::string("{'descr': '") + (float64 ? "<f8" : "<f4") +
                     "', 'fortran_order': False, 'shape': (" + std::to_string(rows) + ", " +
                     std::to_string(cols) + "), }";
  // Version 1.0: 10-byte preamble; pad with spaces and end with '\n' so the data starts at a
  // multiple of 64 bytes.
  std::size_t total = 10 + dict.size() + 1;
  total = (total + 63) / 64 * 64;
  const std::size_t header_len = total - 10;
  if (header_len > 0xFFFF) throw InvalidArgument("write_npy: header too long");
  dict.append(header_len - dict.size() - 1, ' ');
  dict.push_back('\n');

  AtomicFile file(path);
  std::ostream& out = file.stream();
  out.write(kMagic, kMagicLen);
  const char pre[4] = {1, 0, static_cast<char>(header_len & 0xFF),
                       static_cast<char>((header_len >> 8) & 0xFF)};
  out.write(pre, 4);
  out.write(dict.data(), static_cast<std::streamsize>(dict.size()));

  const std::size_t count = rows * cols;
  if (float64) {
    out.write(reinterpret_cast<const char*>(values),
              static_cast<std::streamsize>(count * sizeof(double)));
  } else {
    constexpr std::size_t kChunk = 1 << 16;
    std::vector<float> buf(std::min(count, kChunk));
    for (std::size_t i = 0; i < count; i += kChunk) {
      const std::size_t m = std::min(kChunk, count - i);
      for (std::size_t k = 0; k < m; ++k) buf[k] = static_cast<float>(values[i + k]);
      out.write(reinterpret_cast<const char*>(buf.data()),
                static_cast<std::streamsize>(m * sizeof(float)));
    }
  }
  file.commit();
}

}  // namespace segcore::io
