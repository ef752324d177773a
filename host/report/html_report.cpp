#include <cctype>
#include <cstdio>
#include <string>
#include <vector>

#include "segcore/report.hpp"
#include "segcore/svg.hpp"

namespace segcore {
namespace {

constexpr const char* kStyle = R"CSS(
body { font-family: -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       margin: 0; color: #1f2328; background: #f6f8fa; }
header { background: #24292f; color: #fff; padding: 18px 32px; }
header h1 { margin: 0 0 4px 0; font-size: 22px; }
header p { margin: 0; color: #d0d7de; font-size: 14px; }
main { padding: 16px 32px 40px 32px; max-width: 1200px; }
section { background: #fff; border: 1px solid #d0d7de; border-radius: 6px; padding: 12px 20px;
          margin: 16px 0; }
h2 { font-size: 18px; margin: 4px 0 8px 0; }
p { font-size: 14px; line-height: 1.45; }
table { border-collapse: collapse; font-size: 13px; margin: 8px 0; }
th, td { border-bottom: 1px solid #eaeef2; padding: 4px 10px; text-align: left; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
th { background: #f6f8fa; position: sticky; top: 0; }
.charts { display: flex; flex-wrap: wrap; gap: 16px; }
.charts svg { max-width: 100%; height: auto; }
.scroll { overflow-x: auto; }
)CSS";

constexpr const char* kSelfCheck = R"JS(
(function () {
  var ok = true;
  var sections = document.querySelectorAll("section");
  for (var i = 0; i < sections.length; i++) {
    if (!sections[i].id || sections[i].children.length === 0) ok = false;
  }
  var names = JSON.parse(document.getElementById("segment-names").textContent);
  var text = document.body.textContent;
  for (var j = 0; j < names.length; j++) {
    if (text.indexOf(names[j]) < 0) ok = false;
  }
  if (document.querySelectorAll("svg").length === 0) ok = false;
  document.body.setAttribute("data-report-ok", ok ? "yes" : "no");
})();
)JS";

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '<':
        out += "\\u003c";  // keeps "</script>" out of the inline JSON
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

/// Numbers (and percentages, "12.5 (13.0)" pairs) are right-aligned.
bool numeric_cell(const std::string& c) {
  if (c.empty()) return false;
  for (char ch : c)
    if (!(std::isdigit(static_cast<unsigned char>(ch)) || ch == '.' || ch == '-' || ch == '+' ||
          ch == '%' || ch == 'e' || ch == ' ' || ch == '(' || ch == ')'))
      return false;
  return std::isdigit(static_cast<unsigned char>(c[0])) || c[0] == '-' || c[0] == '+';
}

void render_table(std::string& h, const ReportTable& t) {
  // A column is numeric when every body cell in it is.
  std::vector<bool> num(t.header.size(), !t.rows.empty());
  for (const auto& row : t.rows)
    for (std::size_t c = 0; c < row.size() && c < num.size(); ++c)
      num[c] = num[c] && numeric_cell(row[c]);
  auto cls = [&](std::size_t c) {
    return c < num.size() && num[c] ? std::string(" class=\"num\"") : std::string();
  };
  h += "<div class=\"scroll\"><table><thead><tr>";
  for (std::size_t c = 0; c < t.header.size(); ++c)
    h += "<th" + cls(c) + ">" + svg::escape(t.header[c]) + "</th>";
  h += "</tr></thead><tbody>\n";
  for (const auto& row : t.rows) {
    h += "<tr>";
    for (std::size_t c = 0; c < row.size(); ++c)
      h += "<td" + cls(c) + ">" + svg::escape(row[c]) + "</td>";
    h += "</tr>\n";
  }
  h += "</tbody></table></div>\n";
}

}  // namespace

std::string render_html_report(const HtmlReport& r) {
  std::string h;
  h += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  h += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  h += "<title>" + svg::escape(r.title) + "</title>\n<style>" + kStyle + "</style>\n</head>\n";
  h += "<body>\n<header><h1>" + svg::escape(r.title) + "</h1><p>" + svg::escape(r.subtitle) +
       "</p></header>\n<main>\n";
  for (const auto& s : r.sections) {
    h += "<section id=\"" + svg::escape(s.id) + "\">\n<h2>" + svg::escape(s.heading) + "</h2>\n";
    if (!s.text.empty()) h += "<p>" + svg::escape(s.text) + "</p>\n";
    if (!s.table.header.empty()) render_table(h, s.table);
    if (!s.svgs.empty()) {
      h += "<div class=\"charts\">\n";
      for (const auto& chart : s.svgs) h += chart + "\n";
      h += "</div>\n";
    }
    h += "</section>\n";
  }
  h += "</main>\n<script type=\"application/json\" id=\"segment-names\">[";
  for (std::size_t i = 0; i < r.segment_names.size(); ++i)
    h += (i ? "," : "") + json_string(r.segment_names[i]);
  h += "]</script>\n<script>" + std::string(kSelfCheck) + "</script>\n</body>\n</html>\n";
  return h;
}

}  // namespace segcore
