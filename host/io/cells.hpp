// segcore internal: reading one CSV cell as a number, shared by every reader of numeric cells
// (the table reader, rfm, trends), so they accept and reject the same text with the same words.
#pragma once

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <system_error>

namespace segcore::io {

/// A cell for an error message: at most 40 characters, then "...".
inline std::string show(std::string_view cell) {
  constexpr std::size_t kMax = 40;
  if (cell.size() <= kMax) return std::string(cell);
  return std::string(cell.substr(0, kMax)) + "...";
}

enum class NumStatus { kOk, kEmpty, kBad, kNonFinite };

inline bool is_blank(char c) { return c == ' ' || c == '\t'; }

inline std::string_view trim(std::string_view s) {
  std::size_t b = 0;
  std::size_t e = s.size();
  while (b < e && is_blank(s[b])) ++b;
  while (e > b && is_blank(s[e - 1])) --e;
  return s.substr(b, e - b);
}

// Clinger's fast path for plain decimals ("-12.5", "3e4"): a mantissa of at most 19 digits that
// is <= 2^53 scaled by 10^k with |k| <= 22 is one exactly rounded multiplication or division, so
// the result equals std::from_chars'. Returns false (out untouched) for anything else.
inline bool fast_decimal(const char* p, const char* e, double& out) {
  static constexpr double kPow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                      1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                      1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
  const bool neg = p < e && *p == '-';
  p += neg ? 1 : 0;
  std::uint64_t m = 0;
  int digits = 0;
  int exp10 = 0;
  while (p < e && static_cast<unsigned>(*p - '0') < 10) {
    m = m * 10 + static_cast<unsigned>(*p++ - '0');
    ++digits;
  }
  if (p < e && *p == '.') {
    ++p;
    const char* const frac = p;
    while (p < e && static_cast<unsigned>(*p - '0') < 10) {
      m = m * 10 + static_cast<unsigned>(*p++ - '0');
      ++digits;
    }
    exp10 = -static_cast<int>(p - frac);
  }
  if (digits == 0 || digits > 19) return false;
  if (p < e && (*p == 'e' || *p == 'E')) {
    ++p;
    const bool eneg = p < e && *p == '-';
    if (p < e && (*p == '-' || *p == '+')) ++p;
    int x = 0;
    const char* const xs = p;
    while (p < e && static_cast<unsigned>(*p - '0') < 10 && p - xs < 4) x = x * 10 + (*p++ - '0');
    if (p == xs) return false;
    exp10 += eneg ? -x : x;
  }
  if (p != e || m > (std::uint64_t{1} << 53) || exp10 < -22 || exp10 > 22) return false;
  double v = static_cast<double>(m);
  v = exp10 < 0 ? v / kPow10[-exp10] : v * kPow10[exp10];
  out = neg ? -v : v;
  return true;
}

// Parses a cell (ASCII spaces/tabs around it allowed, leading '+' allowed) into a finite double.
inline NumStatus parse_number(std::string_view cell, double& out) {
  const char* b = cell.data();
  const char* e = b + cell.size();
  while (b < e && is_blank(*b)) ++b;
  while (e > b && is_blank(e[-1])) --e;
  if (b == e) return NumStatus::kEmpty;
  if (*b == '+') {
    ++b;
    if (b == e || *b == '-' || *b == '+') return NumStatus::kBad;
  }
  if (fast_decimal(b, e, out)) return NumStatus::kOk;
  const auto [ptr, ec] = std::from_chars(b, e, out);
  if (ptr != e) return NumStatus::kBad;
  if (ec == std::errc::result_out_of_range) {
    // Overflow is non-finite; underflow reads as the nearest subnormal or zero, as strtod does.
    const std::string text(b, e);
    char* end = nullptr;
    out = std::strtod(text.c_str(), &end);
    if (end != text.c_str() + text.size()) return NumStatus::kBad;
    return std::isfinite(out) ? NumStatus::kOk : NumStatus::kNonFinite;
  }
  if (ec != std::errc()) return NumStatus::kBad;
  return std::isfinite(out) ? NumStatus::kOk : NumStatus::kNonFinite;
}

/// The message for a cell parse_number did not accept: "empty value", "non-finite value 'inf'",
/// "not a number: 'x'".
inline std::string number_message(std::string_view cell, NumStatus status) {
  switch (status) {
    case NumStatus::kEmpty:
      return "empty value";
    case NumStatus::kNonFinite:
      return "non-finite value '" + show(trim(cell)) + "'";
    default:
      return "not a number: '" + show(cell) + "'";
  }
}

}  // namespace segcore::io
