// segcore: RFM features per customer from a transaction CSV, in one streaming pass. Customers and
// (customer, invoice) pairs are interned in open-addressing tables whose keys live in one byte
// arena each, so memory grows with the distinct keys only and a row costs no allocation.
#include "segcore/rfm.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <ostream>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "io/cells.hpp"
#include "io/columns.hpp"
#include "segcore/error.hpp"
#include "segcore/io.hpp"

namespace segcore {
namespace {

using io::is_blank;
using io::show;
using io::trim;

// ---- text helpers -----------------------------------------------------------------------------

inline bool is_digit(char c) { return static_cast<unsigned>(c - '0') < 10; }

// ---- civil dates ------------------------------------------------------------------------------

bool is_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int days_in_month(int y, int m) {
  static constexpr int kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : kDays[m - 1];
}

// Reads between min_digits and max_digits decimal digits at p (advancing it).
bool read_number(const char*& p, const char* e, int min_digits, int max_digits, int& value) {
  int n = 0;
  int v = 0;
  while (p < e && is_digit(*p) && n < max_digits) {
    v = v * 10 + (*p++ - '0');
    ++n;
  }
  if (n < min_digits || (p < e && is_digit(*p))) return false;
  value = v;
  return true;
}

bool match_ci(const char*& p, const char* e, const char* word) {
  const std::size_t n = std::strlen(word);
  if (static_cast<std::size_t>(e - p) < n) return false;
  for (std::size_t i = 0; i < n; ++i)
    if ((p[i] | 0x20) != word[i]) return false;
  p += n;
  return true;
}

// A clock time h:mm[:ss[.fraction]] at p; validated, then ignored by the callers. With
// `meridiem`, an optional (space) AM/PM may follow and then requires an hour of 1..12.
bool read_time(const char*& p, const char* e, bool meridiem) {
  int h = 0, m = 0, s = 0;
  if (!read_number(p, e, 1, 2, h) || p == e || *p != ':') return false;
  ++p;
  if (!read_number(p, e, 2, 2, m) || m > 59) return false;
  if (p < e && *p == ':') {
    ++p;
    if (!read_number(p, e, 2, 2, s) || s > 60) return false;  // 60: a leap second
    if (p < e && *p == '.') {
      ++p;
      const char* const frac = p;
      while (p < e && is_digit(*p)) ++p;
      if (p == frac) return false;
    }
  }
  if (meridiem) {
    const char* q = p;
    while (q < e && is_blank(*q)) ++q;
    if (match_ci(q, e, "am") || match_ci(q, e, "pm")) {
      p = q;
      return h >= 1 && h <= 12;
    }
  }
  return h <= 23;
}

// Exactly two digits at p (advancing it).
bool read_two_digits(const char*& p, const char* e, int& value) {
  if (e - p < 2 || !is_digit(p[0]) || !is_digit(p[1])) return false;
  value = (p[0] - '0') * 10 + (p[1] - '0');
  p += 2;
  return true;
}

// An ISO zone designator ending the value after a time: Z, +hh, +hh:mm or +hhmm (or '-').
bool read_zone(const char*& p, const char* e) {
  if (p == e) return true;
  if (*p == 'Z' || *p == 'z') return ++p == e;
  if (*p != '+' && *p != '-') return false;
  ++p;
  int h = 0, m = 0;
  if (!read_two_digits(p, e, h) || h > 23) return false;
  if (p < e && *p == ':') ++p;
  if (p < e && !read_two_digits(p, e, m)) return false;
  return m <= 59 && p == e && p[-1] != ':';
}

std::optional<int> make_days(int y, int m, int d) {
  if (y < 1 || y > 9999 || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m)) return std::nullopt;
  return days_from_civil(y, m, d);
}

std::optional<int> parse_iso(const char* p, const char* e) {
  int y = 0, m = 0, d = 0;
  if (!read_number(p, e, 4, 4, y) || p == e || *p != '-') return std::nullopt;
  ++p;
  if (!read_number(p, e, 1, 2, m) || p == e || *p != '-') return std::nullopt;
  ++p;
  if (!read_number(p, e, 1, 2, d)) return std::nullopt;
  if (p < e) {
    if (*p == 'T' || *p == 't') {
      ++p;
    } else if (is_blank(*p)) {
      while (p < e && is_blank(*p)) ++p;
    } else {
      return std::nullopt;
    }
    if (!read_time(p, e, false) || !read_zone(p, e)) return std::nullopt;
  }
  return make_days(y, m, d);
}

// m/d/y (month_first) or d/m/y; the separator is '/', '-' or '.', the same twice.
std::optional<int> parse_slashed(const char* p, const char* e, bool month_first) {
  int a = 0, b = 0, y = 0;
  if (!read_number(p, e, 1, 2, a) || p == e) return std::nullopt;
  const char sep = *p;
  if (sep != '/' && sep != '-' && sep != '.') return std::nullopt;
  ++p;
  if (!read_number(p, e, 1, 2, b) || p == e || *p != sep) return std::nullopt;
  ++p;
  const char* const year_start = p;
  if (!read_number(p, e, 2, 4, y)) return std::nullopt;
  const auto year_digits = p - year_start;
  if (year_digits == 3) return std::nullopt;
  if (year_digits == 2) y += 2000;  // the UCI form, 12/1/10
  if (p < e) {
    if (!is_blank(*p)) return std::nullopt;
    while (p < e && is_blank(*p)) ++p;
    if (!read_time(p, e, true) || p != e) return std::nullopt;
  }
  return month_first ? make_days(y, a, b) : make_days(y, b, a);
}

const char* format_description(DateFormat format) {
  switch (format) {
    case DateFormat::kIso:
      return "iso (yyyy-mm-dd, optionally with a time)";
    case DateFormat::kMdy:
      return "mdy (m/d/yy or m/d/yyyy, optionally with a time)";
    case DateFormat::kDmy:
      return "dmy (d/m/yy or d/m/yyyy, optionally with a time)";
    case DateFormat::kAuto:
    default:
      return "auto (ISO yyyy-mm-dd or US m/d/yy, optionally with a time)";
  }
}

// ---- numbers ----------------------------------------------------------------------------------

// A finite double from a cell (io::parse_number's rules); throws a ParseError naming the cell
// otherwise.
double parse_amount(std::string_view cell, const std::string& path, std::uint64_t row,
                    std::uint64_t line, const std::string& column) {
  double v = 0;
  const io::NumStatus s = io::parse_number(cell, v);
  if (s != io::NumStatus::kOk)
    throw ParseError(path, row, line, column, io::number_message(cell, s));
  return v;
}

/// Neumaier's compensated sum: the error of each addition is carried, so long sums of prices
/// (and a purchase cancelled by its return) come out right to about one rounding.
struct CompensatedSum {
  double sum = 0.0;
  double carry = 0.0;
  void add(double x) {
    const double t = sum + x;
    carry += std::fabs(sum) >= std::fabs(x) ? (sum - t) + x : (x - t) + sum;
    sum = t;
  }
  double value() const { return sum + carry; }
};

// ---- interning --------------------------------------------------------------------------------

inline std::uint64_t fmix64(std::uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

inline std::uint64_t hash_key(std::uint32_t tag, std::string_view s) {
  constexpr std::uint64_t kMul = 0x9E3779B97F4A7C15ULL;
  std::uint64_t h = (static_cast<std::uint64_t>(s.size()) << 32 | tag) * kMul;
  const char* p = s.data();
  std::size_t n = s.size();
  while (n >= 8) {
    std::uint64_t w;
    std::memcpy(&w, p, 8);
    h = (h ^ w) * kMul;
    h ^= h >> 29;
    p += 8;
    n -= 8;
  }
  if (n > 0) {
    std::uint64_t w = 0;
    std::memcpy(&w, p, n);
    h = (h ^ w) * kMul;
  }
  return fmix64(h);
}

/// Distinct (tag, text) keys numbered 0, 1, ... in order of insertion. Linear probing over slots
/// holding (32-bit fingerprint << 32 | index + 1), kept at most half full.
class KeyTable {
 public:
  KeyTable() : slots_(kInitialSlots, 0), mask_(kInitialSlots - 1) { offsets_.push_back(0); }

  /// The index of (tag, key), inserted when new (then `inserted` is set).
  std::uint32_t intern(std::uint32_t tag, std::string_view key, bool& inserted) {
    const std::uint64_t h = hash_key(tag, key);
    const std::uint64_t fp = h >> 32;
    for (std::size_t i = static_cast<std::size_t>(h) & mask_;; i = (i + 1) & mask_) {
      const std::uint64_t slot = slots_[i];
      if (slot == 0) {
        inserted = true;
        return insert_at(i, fp, tag, key);
      }
      if ((slot >> 32) == fp) {
        const std::uint32_t idx = static_cast<std::uint32_t>(slot) - 1;
        if (tags_[idx] == tag && this->key(idx) == key) {
          inserted = false;
          return idx;
        }
      }
    }
  }

  std::string_view key(std::uint32_t idx) const {
    return std::string_view(chars_).substr(
        static_cast<std::size_t>(offsets_[idx]),
        static_cast<std::size_t>(offsets_[idx + 1] - offsets_[idx]));
  }
  std::size_t size() const { return tags_.size(); }

 private:
  static constexpr std::size_t kInitialSlots = 1024;

  std::uint32_t insert_at(std::size_t i, std::uint64_t fp, std::uint32_t tag,
                          std::string_view key) {
    if (tags_.size() >= std::numeric_limits<std::uint32_t>::max() - 1)
      throw InvalidArgument("more than 4294967294 distinct customers or invoices");
    const auto idx = static_cast<std::uint32_t>(tags_.size());
    chars_.append(key);
    offsets_.push_back(chars_.size());
    tags_.push_back(tag);
    slots_[i] = fp << 32 | (static_cast<std::uint64_t>(idx) + 1);
    if (2 * tags_.size() > slots_.size()) grow();
    return idx;
  }

  void grow() {
    std::vector<std::uint64_t> bigger(slots_.size() * 2, 0);
    const std::size_t mask = bigger.size() - 1;
    for (const std::uint64_t slot : slots_) {
      if (slot == 0) continue;
      const std::uint32_t idx = static_cast<std::uint32_t>(slot) - 1;
      std::size_t i = static_cast<std::size_t>(hash_key(tags_[idx], key(idx))) & mask;
      while (bigger[i] != 0) i = (i + 1) & mask;
      bigger[i] = slot;
    }
    slots_.swap(bigger);
    mask_ = mask;
  }

  std::vector<std::uint64_t> slots_;
  std::size_t mask_;
  std::string chars_;                   // all keys, back to back
  std::vector<std::uint64_t> offsets_;  // size() + 1
  std::vector<std::uint32_t> tags_;     // size()
};

// ---- columns ----------------------------------------------------------------------------------

// What is accumulated per customer.
struct CustomerTotals {
  CompensatedSum all;        // every row's amount: monetary
  CompensatedSum kept;       // non-cancelled rows
  CompensatedSum cancelled;  // cancelled rows (negative for ordinary returns)
  std::uint64_t invoices = 0;
  int first_kept = std::numeric_limits<int>::max();
  int last_kept = std::numeric_limits<int>::min();
  int first_any = std::numeric_limits<int>::max();
  int last_any = std::numeric_limits<int>::min();
};

}  // namespace

// ---- dates (public) ---------------------------------------------------------------------------

DateFormat parse_date_format(std::string_view name) {
  if (name == "auto") return DateFormat::kAuto;
  if (name == "iso") return DateFormat::kIso;
  if (name == "mdy") return DateFormat::kMdy;
  if (name == "dmy") return DateFormat::kDmy;
  throw InvalidArgument("date format must be auto, iso, mdy or dmy (got '" + std::string(name) +
                        "')");
}

const char* date_format_name(DateFormat format) {
  switch (format) {
    case DateFormat::kIso:
      return "iso";
    case DateFormat::kMdy:
      return "mdy";
    case DateFormat::kDmy:
      return "dmy";
    case DateFormat::kAuto:
    default:
      return "auto";
  }
}

// Howard Hinnant's days_from_civil: 400-year eras of 146097 days, years starting in March so
// that the leap day is the last day of the year.
int days_from_civil(int year, int month, int day) {
  const int y = year - (month <= 2 ? 1 : 0);
  const int era = (y >= 0 ? y : y - 399) / 400;
  const int yoe = y - era * 400;                                             // [0, 399]
  const int doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;  // [0, 365]
  const int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;                     // [0, 146096]
  return era * 146097 + doe - 719468;
}

std::string format_date_days(int days) {
  const int z = days + 719468;
  const int era = (z >= 0 ? z : z - 146096) / 146097;
  const int doe = z - era * 146097;
  const int yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int mp = (5 * doy + 2) / 153;
  const int d = doy - (153 * mp + 2) / 5 + 1;
  const int m = mp + (mp < 10 ? 3 : -9);
  const int y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", y, m, d);
  return buf;
}

std::optional<int> parse_date_days(std::string_view text, DateFormat format) {
  const std::string_view t = trim(text);
  const char* const p = t.data();
  const char* const e = p + t.size();
  switch (format) {
    case DateFormat::kIso:
      return parse_iso(p, e);
    case DateFormat::kMdy:
      return parse_slashed(p, e, true);
    case DateFormat::kDmy:
      return parse_slashed(p, e, false);
    case DateFormat::kAuto:
    default: {
      const char* q = p;
      while (q < e && is_digit(*q)) ++q;
      if (q == p || q == e) return std::nullopt;
      if (*q == '-') return parse_iso(p, e);
      if (*q == '/') return parse_slashed(p, e, true);
      return std::nullopt;
    }
  }
}

// ---- RFM (public) -----------------------------------------------------------------------------

RfmTable compute_rfm(const std::string& path, const RfmOptions& options) {
  RfmTable table;
  // The reference date first, so that a typo costs no reading.
  std::optional<int> as_of;
  if (!options.as_of.empty()) {
    as_of = parse_date_days(options.as_of, options.date_format);
    if (!as_of) as_of = parse_date_days(options.as_of, DateFormat::kIso);
    if (!as_of)
      throw InvalidArgument("as-of date '" + show(options.as_of) + "' is not a date in format " +
                            format_description(options.date_format) + " nor ISO yyyy-mm-dd");
  }

  // Columns from the header alone, so that an unknown name is reported even without data.
  const std::vector<std::string> names = io::read_csv_header(path);
  if (names.size() == 1 && names[0].empty())
    throw ParseError(path, 0, 1, "", "the header line is empty");
  const bool by_amount = !options.amount_column.empty();
  const std::size_t customer_col =
      io::find_column(path, names, options.customer_column, "customer");
  const std::size_t invoice_col = io::find_column(path, names, options.invoice_column, "invoice");
  const std::size_t date_col = io::find_column(path, names, options.date_column, "date");
  const std::size_t amount_col =
      by_amount ? io::find_column(path, names, options.amount_column, "amount") : 0;
  const std::size_t quantity_col =
      by_amount ? 0 : io::find_column(path, names, options.quantity_column, "quantity");
  const std::size_t price_col =
      by_amount ? 0 : io::find_column(path, names, options.price_column, "price");

  KeyTable customers;
  KeyTable invoices;  // (customer index, invoice) of non-cancelled rows
  std::vector<CustomerTotals> totals;
  // Rows of one customer and one invoice come together in most files: remember the last ones and
  // skip the table look-ups while they repeat.
  std::string last_customer;
  std::uint32_t last_customer_idx = 0;
  bool have_last_customer = false;
  std::string last_invoice;
  std::uint32_t last_invoice_customer = 0;
  bool have_last_invoice = false;
  int min_date = std::numeric_limits<int>::max();
  int max_date = std::numeric_limits<int>::min();

  std::vector<std::string> header;
  io::for_each_csv_record(
      path, header,
      [&](const std::vector<std::string_view>& f, std::uint64_t row, std::uint64_t line) {
        ++table.rows_read;
        const std::string_view customer = f[customer_col];
        if (trim(customer).empty()) {
          ++table.rows_dropped_no_customer;
          return;
        }
        const std::string_view invoice = f[invoice_col];
        if (trim(invoice).empty())
          throw ParseError(path, row, line, names[invoice_col], "empty invoice number");

        double amount = 0;
        bool negative = false;
        if (by_amount) {
          amount = parse_amount(f[amount_col], path, row, line, names[amount_col]);
          negative = amount < 0;
        } else {
          const double q = parse_amount(f[quantity_col], path, row, line, names[quantity_col]);
          const double p = parse_amount(f[price_col], path, row, line, names[price_col]);
          amount = q * p;
          negative = q < 0;
        }
        const bool cancelled = negative || invoice[0] == 'C';

        const std::optional<int> day = parse_date_days(f[date_col], options.date_format);
        if (!day) {
          throw ParseError(path, row, line, names[date_col],
                           "not a date: '" + show(f[date_col]) + "' (expected format " +
                               format_description(options.date_format) + ")");
        }
        min_date = std::min(min_date, *day);
        max_date = std::max(max_date, *day);

        std::uint32_t idx = last_customer_idx;
        if (!have_last_customer || customer != last_customer) {
          bool inserted = false;
          idx = customers.intern(0, customer, inserted);
          if (inserted) totals.emplace_back();
          last_customer.assign(customer);
          last_customer_idx = idx;
          have_last_customer = true;
        }
        CustomerTotals& c = totals[idx];
        c.all.add(amount);
        c.first_any = std::min(c.first_any, *day);
        c.last_any = std::max(c.last_any, *day);
        if (cancelled) {
          ++table.cancelled_rows;
          c.cancelled.add(amount);
          return;
        }
        c.kept.add(amount);
        c.first_kept = std::min(c.first_kept, *day);
        c.last_kept = std::max(c.last_kept, *day);
        if (!have_last_invoice || idx != last_invoice_customer || invoice != last_invoice) {
          bool inserted = false;
          invoices.intern(idx, invoice, inserted);
          if (inserted) ++c.invoices;
          last_invoice.assign(invoice);
          last_invoice_customer = idx;
          have_last_invoice = true;
        }
      });

  if (table.rows_read == 0) throw ParseError(path, 0, 0, "", "no data rows (only a header line)");
  if (customers.size() == 0) {
    throw ParseError(path, 0, 0, names[customer_col],
                     "no row has a customer id (all " + std::to_string(table.rows_read) +
                         " rows have an empty cell)");
  }

  invoices = KeyTable();  // not needed any more: give its memory back before the output grows
  table.first_date_days = min_date;
  table.last_date_days = max_date;
  table.as_of_given = as_of.has_value();
  table.as_of_days = as_of ? *as_of : max_date + 1;

  const std::size_t n = customers.size();
  const std::size_t d = RfmTable::kColumns.size();
  table.customer_ids.reserve(n);
  table.values.resize(n * d);
  for (std::size_t i = 0; i < n; ++i) {
    table.customer_ids.emplace_back(customers.key(static_cast<std::uint32_t>(i)));
    const CustomerTotals& c = totals[i];
    const bool any_kept = c.invoices > 0;
    const int first = any_kept ? c.first_kept : c.first_any;
    const int last = any_kept ? c.last_kept : c.last_any;
    const double kept = c.kept.value();
    const double returned = 0.0 - c.cancelled.value();
    double* const v = &table.values[i * d];
    v[0] = static_cast<double>(table.as_of_days) - last;
    v[1] = static_cast<double>(c.invoices);
    v[2] = c.all.value() + 0.0;  // + 0.0: never print "-0"
    v[3] = static_cast<double>(table.as_of_days) - first;
    v[4] = any_kept ? kept / static_cast<double>(c.invoices) + 0.0 : 0.0;
    v[5] = kept != 0.0 ? returned / kept + 0.0 : 0.0;
    if (v[0] < 0) ++table.customers_dated_after_as_of;
  }
  return table;
}

void write_rfm_csv(const RfmTable& table, std::ostream& out) {
  std::string text = "customer_id";
  for (const char* name : RfmTable::kColumns) {
    text += ',';
    text += name;
  }
  text += '\n';
  const std::size_t d = RfmTable::kColumns.size();
  char buf[64];
  for (std::size_t i = 0; i < table.customers(); ++i) {
    io::append_csv_field(text, table.customer_ids[i]);
    for (std::size_t j = 0; j < d; ++j) {
      text += ',';
      const auto res = std::to_chars(buf, buf + sizeof buf, table.values[i * d + j]);
      text.append(buf, res.ptr);
    }
    text += '\n';
    if (text.size() >= (std::size_t{1} << 20)) {
      out.write(text.data(), static_cast<std::streamsize>(text.size()));
      text.clear();
    }
  }
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
}

}  // namespace segcore
