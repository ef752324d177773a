#include "segcore/trends.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <ostream>
#include <unordered_map>

#include "io/cells.hpp"
#include "io/columns.hpp"
#include "segcore/error.hpp"
#include "segcore/io.hpp"

namespace segcore {
namespace {

/// Year and month of a day count since 1970-01-01 (H. Hinnant's civil_from_days).
void civil_from_days(int z, int& year, int& month) {
  z += 719468;
  const int era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  year = static_cast<int>(yoe) + era * 400 + (month <= 2 ? 1 : 0);
}

int period_of(int days, TrendPeriod period) {
  if (period == TrendPeriod::kWeek) {
    // 1970-01-01 was a Thursday: shift by 3 so weeks start on Monday.
    const int shifted = days + 3;
    return shifted >= 0 ? shifted / 7 : -((-shifted + 6) / 7);
  }
  int y = 0, m = 0;
  civil_from_days(days, y, m);
  return y * 12 + (m - 1);
}

std::string period_name(int p, TrendPeriod period) {
  char buf[32];
  if (period == TrendPeriod::kMonth) {
    const int y = p >= 0 ? p / 12 : -((-p + 11) / 12);
    std::snprintf(buf, sizeof buf, "%04d-%02d", y, p - y * 12 + 1);
  } else {
    std::snprintf(buf, sizeof buf, "week of %s",
                  format_date_days(p * 7 - 3).c_str());  // the Monday
  }
  return buf;
}

bool parse_cell(std::string_view s, double& out) {
  return io::parse_number(s, out) == io::NumStatus::kOk;
}

}  // namespace

TrendPeriod parse_trend_period(const std::string& name) {
  if (name == "month") return TrendPeriod::kMonth;
  if (name == "week") return TrendPeriod::kWeek;
  throw InvalidArgument("unknown period '" + name + "' (expected month or week)");
}

TrendTable customer_trends(const std::string& path, const TrendOptions& o) {
  if (o.degree != 1 && o.degree != 2) throw InvalidArgument("--degree must be 1 or 2");
  TrendTable t;
  t.degree = o.degree;
  std::unordered_map<std::string, std::size_t> index;
  // (customer, period) -> spend; periods fit in 32 bits with an offset.
  std::unordered_map<std::uint64_t, double> spend;
  std::vector<int> first;
  int last = std::numeric_limits<int>::min();
  std::size_t c_col = 0, d_col = 0, a_col = 0, q_col = 0, p_col = 0;
  const bool by_amount = !o.amount_column.empty();
  std::vector<std::string> header;
  bool resolved = false;
  constexpr std::int64_t kOffset = std::int64_t{1} << 30;
  io::for_each_csv_record(
      path, header,
      [&](const std::vector<std::string_view>& f, std::uint64_t row, std::uint64_t line) {
        if (!resolved) {
          c_col = io::find_column(path, header, o.customer_column, "customer");
          d_col = io::find_column(path, header, o.date_column, "date");
          if (by_amount) {
            a_col = io::find_column(path, header, o.amount_column, "amount");
          } else {
            q_col = io::find_column(path, header, o.quantity_column, "quantity");
            p_col = io::find_column(path, header, o.price_column, "price");
          }
          resolved = true;
        }
        ++t.rows_read;
        const std::string_view id = io::trim(f[c_col]);
        if (id.empty()) {
          ++t.rows_dropped_no_customer;
          return;
        }
        const auto days = parse_date_days(f[d_col], o.date_format);
        if (!days)
          throw ParseError(path, row, line, header[d_col],
                           "not a date in the " + std::string(date_format_name(o.date_format)) +
                               " format: '" + std::string(f[d_col]) + "'");
        double amount = 0;
        if (by_amount) {
          if (!parse_cell(f[a_col], amount))
            throw ParseError(path, row, line, header[a_col],
                             "not a finite number: '" + std::string(f[a_col]) + "'");
        } else {
          double q = 0, p = 0;
          if (!parse_cell(f[q_col], q))
            throw ParseError(path, row, line, header[q_col],
                             "not a finite number: '" + std::string(f[q_col]) + "'");
          if (!parse_cell(f[p_col], p))
            throw ParseError(path, row, line, header[p_col],
                             "not a finite number: '" + std::string(f[p_col]) + "'");
          amount = q * p;
        }
        const int per = period_of(*days, o.period);
        const auto [it, fresh] = index.emplace(std::string(id), t.customer_ids.size());
        if (fresh) {
          t.customer_ids.emplace_back(id);
          first.push_back(per);
        }
        first[it->second] = std::min(first[it->second], per);
        last = std::max(last, per);
        spend[(static_cast<std::uint64_t>(it->second) << 32) |
              static_cast<std::uint32_t>(per + kOffset)] += amount;
      });
  if (!resolved) throw ParseError(path, 0, 0, "", "no data rows (only a header line)");
  const std::size_t n = t.customer_ids.size();
  if (n == 0) throw ParseError(path, 0, 0, o.customer_column, "no row has a customer id");

  // One problem per customer: rows t = first - last .. 0 (spend 0 where nothing was bought).
  const std::size_t p = static_cast<std::size_t>(o.degree) + 1;
  std::vector<std::int64_t> offsets(n + 1, 0);
  for (std::size_t c = 0; c < n; ++c) offsets[c + 1] = offsets[c] + (last - first[c] + 1);
  const std::size_t rows = static_cast<std::size_t>(offsets[n]);
  std::vector<double> a(rows * p), b(rows, 0.0);
  t.periods.resize(n);
  t.total.assign(n, 0.0);
  for (std::size_t c = 0; c < n; ++c) {
    t.periods[c] = last - first[c] + 1;
    for (int per = first[c]; per <= last; ++per) {
      const std::size_t r =
          static_cast<std::size_t>(offsets[c]) + static_cast<std::size_t>(per - first[c]);
      const double x = per - last;
      a[r * p] = 1.0;
      a[r * p + 1] = x;
      if (p == 3) a[r * p + 2] = x * x;
      const auto it = spend.find((static_cast<std::uint64_t>(c) << 32) |
                                 static_cast<std::uint32_t>(per + kOffset));
      if (it != spend.end()) {
        b[r] = it->second;
        t.total[c] += it->second;
      }
    }
  }
  LstsqBatch<double> batch;
  batch.a = {a.data(), rows, p};
  batch.b = b.data();
  batch.offsets = offsets.data();
  batch.problems = n;
  LstsqParams params;
  params.threads = o.threads;
  params.device = o.device;
  const LstsqResult r = lstsq_batched(batch, params);
  t.backend = r.backend;
  t.qr_problems = r.qr_problems;
  t.level.resize(n);
  t.slope.resize(n);
  t.curvature.assign(n, 0.0);
  t.r2 = r.r2;
  t.status = r.status;
  for (std::size_t c = 0; c < n; ++c) {
    t.level[c] = r.coef[c * p];
    t.slope[c] = r.coef[c * p + 1];
    if (p == 3) t.curvature[c] = r.coef[c * p + 2];
  }
  t.last_period = period_name(last, o.period);
  return t;
}

void write_trends_csv(const TrendTable& t, std::ostream& out) {
  std::string s = t.degree == 2 ? "customer_id,periods,total,level,slope,curvature,r2,status\n"
                                : "customer_id,periods,total,level,slope,r2,status\n";
  for (std::size_t c = 0; c < t.customer_ids.size(); ++c) {
    io::append_csv_field(s, t.customer_ids[c]);
    s += ',' + std::to_string(t.periods[c]) + ',' + io::format_double(t.total[c]) + ',' +
         io::format_double(t.level[c]) + ',' + io::format_double(t.slope[c]);
    if (t.degree == 2) s += ',' + io::format_double(t.curvature[c]);
    s += ',' + (std::isnan(t.r2[c]) ? std::string("nan") : io::format_double(t.r2[c])) + ',' +
         lstsq_status_name(t.status[c]) + '\n';
    if (s.size() > (1u << 20)) {
      out << s;
      s.clear();
    }
  }
  out << s;
}

}  // namespace segcore
