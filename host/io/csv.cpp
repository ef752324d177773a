// segcore: CSV input. A block-buffered RFC 4180 reader (hand-written state machine over 8 MiB
// blocks, quoted fields unescaped in place) and read_csv, which converts the selected columns to
// doubles with std::from_chars.
#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "io/cells.hpp"
#include "io/columns.hpp"
#include "segcore/error.hpp"
#include "segcore/io.hpp"

namespace segcore::io {
namespace {

constexpr std::size_t kBlockSize = std::size_t{8} << 20;  // bytes read per fread
constexpr std::size_t kMinBuffer = std::size_t{64} << 10;

// Bytes that end an unquoted field.
constexpr std::array<bool, 256> make_special() {
  std::array<bool, 256> t{};
  t[static_cast<unsigned char>(',')] = true;
  t[static_cast<unsigned char>('"')] = true;
  t[static_cast<unsigned char>('\r')] = true;
  t[static_cast<unsigned char>('\n')] = true;
  return t;
}
constexpr std::array<bool, 256> kSpecial = make_special();

// A cell shown inside an error message: at most 40 characters.
std::string errno_text(int err) { return std::generic_category().message(err); }

/// Pull-style CSV reader. next() parses one record into fields(); the views stay valid until the
/// following call. The first record is the header; once set_expected_fields() is called every
/// later record must have that many fields.
class CsvReader {
 public:
  explicit CsvReader(const std::string& path) : path_(path) {
    std::error_code ec;
    if (std::filesystem::is_directory(path_, ec)) {
      throw IoError("cannot open '" + path_ + "': it is a directory");
    }
    file_ = std::fopen(path_.c_str(), "rb");
    if (file_ == nullptr) {
      throw IoError("cannot open '" + path_ + "': " + errno_text(errno));
    }
    const auto size = std::filesystem::file_size(path_, ec);
    file_size_ = ec ? 0 : static_cast<std::uint64_t>(size);
    // Small files get a small buffer; it grows when one record does not fit.
    cap_ = ec ? kBlockSize : std::clamp<std::size_t>(file_size_ + 1, kMinBuffer, kBlockSize);
    buf_.reset(new char[cap_ + 1]);
    refill();
    if (end_ >= 3 && static_cast<unsigned char>(buf_[0]) == 0xEF &&
        static_cast<unsigned char>(buf_[1]) == 0xBB &&
        static_cast<unsigned char>(buf_[2]) == 0xBF) {
      begin_ = 3;  // UTF-8 byte order mark
    }
  }
  CsvReader(const CsvReader&) = delete;
  CsvReader& operator=(const CsvReader&) = delete;
  ~CsvReader() {
    if (file_ != nullptr) std::fclose(file_);
  }

  /// Parses the next record. Returns false at the end of the input; blank lines at the end of
  /// the file are not records.
  bool next() {
    for (;;) {
      const Status s = parse(eof_);
      if (s == Status::kNeedMore) {
        refill();
        continue;
      }
      if (s == Status::kEnd) return false;
      if (blank_ && only_line_breaks_remain()) return false;
      ++records_;
      if (expected_ != 0 && fields_.size() != expected_) {
        throw ParseError(path_, records_ - 1, record_line_, "",
                         "expected " + std::to_string(expected_) + " fields, found " +
                             std::to_string(fields_.size()));
      }
      return true;
    }
  }

  const std::vector<std::string_view>& fields() const { return fields_; }
  /// Physical 1-based line on which the last record starts.
  std::uint64_t line() const { return record_line_; }
  /// Data row of the last record (1-based; the header is row 0).
  std::uint64_t row() const { return records_ - 1; }
  /// Raw bytes of the last record, line break included.
  std::size_t record_bytes() const { return record_bytes_; }
  std::uint64_t file_size() const { return file_size_; }
  const std::string& path() const { return path_; }

  void set_header(const std::vector<std::string>& names) {
    header_ = names;
    expected_ = names.size();
  }

 private:
  enum class Status { kRecord, kNeedMore, kEnd };

  // Moves the unconsumed bytes to the front and reads more behind them. A record longer than
  // the buffer doubles the buffer.
  void refill() {
    const std::size_t remain = end_ - begin_;
    if (begin_ > 0 && remain > 0) std::memmove(buf_.get(), buf_.get() + begin_, remain);
    begin_ = 0;
    end_ = remain;
    if (end_ == cap_) {
      const std::size_t cap = cap_ < kBlockSize ? kBlockSize : cap_ * 2;
      std::unique_ptr<char[]> bigger(new char[cap + 1]);
      std::memcpy(bigger.get(), buf_.get(), end_);
      buf_ = std::move(bigger);
      cap_ = cap;
    }
    while (end_ < cap_ && !eof_) {
      const std::size_t got = std::fread(buf_.get() + end_, 1, cap_ - end_, file_);
      end_ += got;
      if (got == 0) {
        if (std::ferror(file_)) {
          throw IoError("cannot read '" + path_ + "': " + errno_text(errno));
        }
        eof_ = true;
      }
    }
    buf_[end_] = '\n';  // sentinel: stops the unquoted-field scan without a bounds check
  }

  // True (and everything consumed) when only CR/LF bytes are left in the file.
  bool only_line_breaks_remain() {
    std::size_t i = begin_;
    for (;;) {
      while (i < end_ && (buf_[i] == '\n' || buf_[i] == '\r')) ++i;
      if (i < end_) return false;
      if (eof_) {
        begin_ = end_;
        return true;
      }
      const std::size_t scanned = i - begin_;
      refill();
      i = begin_ + scanned;
    }
  }

  [[noreturn]] void fail(std::size_t field, const std::string& message) const {
    const std::string column = field < header_.size() ? header_[field] : std::string();
    throw ParseError(path_, records_, next_line_, column, message);
  }

  // Parses one record starting at begin_. Returns kNeedMore (nothing consumed) when the buffer
  // ends inside the record and more input may follow.
  Status parse(bool final) {
    char* const start = buf_.get() + begin_;
    char* const e = buf_.get() + end_;
    char* p = start;
    fields_.clear();
    escaped_.clear();
    blank_ = false;
    std::uint64_t breaks = 0;  // line breaks inside quoted fields
    if (p == e) return final ? Status::kEnd : Status::kNeedMore;
    if (*p == '\n' || *p == '\r') {  // blank line: one empty field
      if (*p == '\r' && p + 1 == e && !final) return Status::kNeedMore;
      p += (*p == '\r' && p + 1 < e && p[1] == '\n') ? 2 : 1;
      fields_.emplace_back();
      blank_ = true;
      return finish(start, p, breaks);
    }
    for (;;) {
      if (p == e) {  // after a trailing comma at the end of the input
        if (!final) return Status::kNeedMore;
        fields_.emplace_back(p, 0);
        return finish(start, p, breaks);
      }
      if (*p == '"') {
        char* const fs = ++p;
        bool esc = false;
        char* fe;
        for (;;) {
          char* q = static_cast<char*>(std::memchr(p, '"', static_cast<std::size_t>(e - p)));
          if (q == nullptr) {
            if (!final) return Status::kNeedMore;
            fail(fields_.size(), "unterminated quoted field (the quote opened on line " +
                                     std::to_string(next_line_ + quote_line(start, fs)) +
                                     " is never closed)");
          }
          breaks += static_cast<std::uint64_t>(std::count(p, q, '\n'));
          if (q + 1 == e && !final) return Status::kNeedMore;
          if (q + 1 < e && q[1] == '"') {
            esc = true;
            p = q + 2;
            continue;
          }
          fe = q;
          p = q + 1;
          break;
        }
        if (esc) escaped_.push_back(fields_.size());
        fields_.emplace_back(fs, static_cast<std::size_t>(fe - fs));
        if (p == e) return finish(start, p, breaks);  // final here, or we would have asked
      } else {
        char* const fs = p;
        while (!kSpecial[static_cast<unsigned char>(*p)]) ++p;  // the sentinel stops it at e
        if (p == e) {
          if (!final) return Status::kNeedMore;
          fields_.emplace_back(fs, static_cast<std::size_t>(p - fs));
          return finish(start, p, breaks);
        }
        if (*p == '"') {
          fail(fields_.size(),
               "quote character inside an unquoted field (fields containing quotes must be "
               "enclosed in double quotes, with inner quotes doubled)");
        }
        fields_.emplace_back(fs, static_cast<std::size_t>(p - fs));
      }
      // Delimiter after a field.
      const char c = *p;
      if (c == ',') {
        ++p;
        continue;
      }
      if (c == '\n') return finish(start, p + 1, breaks);
      if (c == '\r') {
        if (p + 1 == e) {
          if (!final) return Status::kNeedMore;
          return finish(start, p + 1, breaks);
        }
        return finish(start, p + (p[1] == '\n' ? 2 : 1), breaks);
      }
      fail(fields_.size() - 1, std::string("unexpected character '") + c +
                                   "' after a closing quote (expected a comma or a line end)");
    }
  }

  // Line breaks between the record start and `pos`.
  static std::uint64_t quote_line(const char* start, const char* pos) {
    return static_cast<std::uint64_t>(std::count(start, pos, '\n'));
  }

  Status finish(char* start, char* p, std::uint64_t breaks) {
    for (const std::size_t i : escaped_) {  // collapse doubled quotes in place
      char* const b = const_cast<char*>(fields_[i].data());
      const char* r = b;
      const char* const re = b + fields_[i].size();
      char* w = b;
      while (r < re) {
        const char ch = *r++;
        *w++ = ch;
        if (ch == '"') ++r;  // the second quote of the pair
      }
      fields_[i] = std::string_view(b, static_cast<std::size_t>(w - b));
    }
    record_bytes_ = static_cast<std::size_t>(p - start);
    begin_ = static_cast<std::size_t>(p - buf_.get());
    record_line_ = next_line_;
    next_line_ += 1 + breaks;
    return Status::kRecord;
  }

  std::string path_;
  std::FILE* file_ = nullptr;
  std::uint64_t file_size_ = 0;
  std::unique_ptr<char[]> buf_;  // cap_ + 1 bytes (sentinel)
  std::size_t cap_ = 0;
  std::size_t begin_ = 0;  // first unconsumed byte
  std::size_t end_ = 0;    // end of valid data
  bool eof_ = false;
  bool blank_ = false;
  std::vector<std::string_view> fields_;
  std::vector<std::size_t> escaped_;
  std::vector<std::string> header_;
  std::size_t expected_ = 0;
  std::uint64_t records_ = 0;  // records returned so far, header included
  std::uint64_t next_line_ = 1;
  std::uint64_t record_line_ = 0;
  std::size_t record_bytes_ = 0;
};

// ---- numbers ----------------------------------------------------------------------------------

[[noreturn]] void number_error(const CsvReader& r, const std::string& column, std::string_view cell,
                               NumStatus s) {
  throw ParseError(r.path(), r.row(), r.line(), column, number_message(cell, s));
}

// ---- column selection -------------------------------------------------------------------------

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool looks_like_identifier(std::string_view name) {
  if (name.size() == 2 && (name[0] == 'i' || name[0] == 'I') && (name[1] == 'd' || name[1] == 'D'))
    return true;
  return ends_with(name, "_id") || ends_with(name, "ID") || ends_with(name, "Id");
}

constexpr std::size_t kNone = static_cast<std::size_t>(-1);

}  // namespace

// ---- public API -------------------------------------------------------------------------------

std::string Dataset::id(std::size_t i) const {
  if (i >= rows) {
    throw InvalidArgument("row index " + std::to_string(i) + " out of range (" +
                          std::to_string(rows) + " rows)");
  }
  if (!has_ids) return std::to_string(i);
  return id_chars.substr(static_cast<std::size_t>(id_offsets[i]),
                         static_cast<std::size_t>(id_offsets[i + 1] - id_offsets[i]));
}

void for_each_csv_record(
    const std::string& path, std::vector<std::string>& header,
    const std::function<void(const std::vector<std::string_view>& fields, std::uint64_t row,
                             std::uint64_t line)>& on_record) {
  CsvReader reader(path);
  if (!reader.next()) throw ParseError(path, 0, 0, "", "file is empty");
  header.assign(reader.fields().begin(), reader.fields().end());
  reader.set_header(header);
  while (reader.next()) on_record(reader.fields(), reader.row(), reader.line());
}

std::vector<std::string> read_csv_header(const std::string& path) {
  CsvReader reader(path);
  if (!reader.next()) throw ParseError(path, 0, 0, "", "file is empty");
  std::vector<std::string> header;
  for (const auto f : reader.fields()) header.emplace_back(trim(f));
  return header;
}

Dataset read_csv(const std::string& path, const TableOptions& options) {
  CsvReader reader(path);
  if (!reader.next()) throw ParseError(path, 0, 0, "", "file is empty");

  // Header names are matched with surrounding spaces/tabs removed.
  std::vector<std::string> header;
  header.reserve(reader.fields().size());
  for (const auto f : reader.fields()) header.emplace_back(trim(f));
  if (header.size() == 1 && header[0].empty()) {
    throw ParseError(path, 0, reader.line(), "", "the header line is empty");
  }
  reader.set_header(header);

  const std::size_t id_col =
      options.id_column.empty() ? kNone : find_column(path, header, options.id_column, "id");
  const std::size_t weight_col = options.weight_column.empty()
                                     ? kNone
                                     : find_column(path, header, options.weight_column, "weight");
  std::vector<std::size_t> selected;
  for (const auto& name : options.columns) {
    const std::size_t c = find_column(path, header, name, "feature");
    if (std::find(selected.begin(), selected.end(), c) != selected.end()) {
      throw InvalidArgument("column '" + name + "' is selected more than once (reading '" + path +
                            "')");
    }
    selected.push_back(c);
  }

  if (!reader.next()) throw ParseError(path, 0, 0, "", "no data rows (only a header line)");

  if (options.columns.empty()) {
    const auto& first = reader.fields();
    for (std::size_t c = 0; c < header.size(); ++c) {
      if (c == id_col || c == weight_col || looks_like_identifier(header[c])) continue;
      double v;
      if (parse_number(first[c], v) != NumStatus::kOk) continue;
      selected.push_back(c);
    }
    if (selected.empty()) {
      throw ParseError(path, 0, 0, "",
                       "no numeric feature columns (columns: " + available_columns(header) + ")");
    }
    for (const std::size_t c : selected) {  // a chosen name must be unambiguous
      for (std::size_t o = 0; o < header.size(); ++o) {
        if (o != c && header[o] == header[c]) {
          throw ParseError(path, 0, 1, header[c],
                           "duplicate header name: the column appears more than once (fields " +
                               std::to_string(std::min(o, c) + 1) + " and " +
                               std::to_string(std::max(o, c) + 1) + ")");
        }
      }
    }
  }

  Dataset ds;
  ds.source = path;
  for (const std::size_t c : selected) ds.feature_names.push_back(header[c]);
  const std::size_t d = selected.size();
  ds.has_ids = id_col != kNone;

  // Reserve from the size of the first data record.
  if (reader.file_size() > 0 && reader.record_bytes() > 0) {
    const std::uint64_t est = reader.file_size() / reader.record_bytes() + 16;
    const std::uint64_t cap = std::min<std::uint64_t>(est + est / 8, reader.file_size() / 2 + 16);
    ds.values.reserve(static_cast<std::size_t>(cap) * d);
    if (weight_col != kNone) ds.weights.reserve(static_cast<std::size_t>(cap));
    if (ds.has_ids) ds.id_offsets.reserve(static_cast<std::size_t>(cap) + 1);
  }
  if (ds.has_ids) ds.id_offsets.push_back(0);

  const std::size_t* const sel = selected.data();
  std::uint64_t rows = 0;
  bool any_weight = false;
  do {
    const std::string_view* const f = reader.fields().data();
    for (std::size_t j = 0; j < d; ++j) {
      double v;
      const NumStatus s = parse_number(f[sel[j]], v);
      if (s != NumStatus::kOk) number_error(reader, header[sel[j]], f[sel[j]], s);
      ds.values.push_back(v);
    }
    if (weight_col != kNone) {
      double w;
      const NumStatus s = parse_number(f[weight_col], w);
      if (s != NumStatus::kOk) number_error(reader, header[weight_col], f[weight_col], s);
      if (w < 0) {
        throw ParseError(path, reader.row(), reader.line(), header[weight_col],
                         "negative weight '" + show(trim(f[weight_col])) + "'");
      }
      any_weight = any_weight || w > 0;
      ds.weights.push_back(w + 0.0);  // -0 becomes 0
    }
    if (ds.has_ids) {
      ds.id_chars.append(f[id_col]);
      ds.id_offsets.push_back(ds.id_chars.size());
    }
    ++rows;
  } while (reader.next());

  if (weight_col != kNone && !any_weight) {
    throw ParseError(path, 0, 0, header[weight_col], "all weights are zero");
  }
  ds.rows = static_cast<std::size_t>(rows);
  if (ds.values.capacity() > ds.values.size() + ds.values.size() / 2) ds.values.shrink_to_fit();
  return ds;
}

Dataset read_table(const std::string& path, const TableOptions& options) {
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (ext == ".npy") return read_npy(path, options);
  return read_csv(path, options);
}

std::string available_columns(const std::vector<std::string>& header) {
  constexpr std::size_t kMaxListed = 50;
  std::string s;
  for (std::size_t i = 0; i < header.size() && i < kMaxListed; ++i) {
    if (i > 0) s += ", ";
    s += header[i];
  }
  if (header.size() > kMaxListed) {
    s += ", ... (" + std::to_string(header.size() - kMaxListed) + " more)";
  }
  return s;
}

// Index of `name` in the header; ParseError when it is missing or appears more than once.
std::size_t find_column(const std::string& path, const std::vector<std::string>& header,
                        const std::string& name, const char* role) {
  std::size_t found = header.size();
  for (std::size_t i = 0; i < header.size(); ++i) {
    if (header[i] != name) continue;
    if (found != header.size()) {
      throw ParseError(path, 0, 1, name,
                       std::string("duplicate header name: the ") + role +
                           " column appears more than once (fields " + std::to_string(found + 1) +
                           " and " + std::to_string(i + 1) + ")");
    }
    found = i;
  }
  if (found == header.size()) {
    throw ParseError(path, 0, 0, name,
                     std::string("unknown ") + role +
                         " column; available columns: " + available_columns(header));
  }
  return found;
}

}  // namespace segcore::io
