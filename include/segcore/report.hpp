// segcore: the self-contained HTML report of a segmentation run.
#pragma once

#include <string>
#include <vector>

namespace segcore {

/// A plain table: header cells and rows of already formatted cells.
struct ReportTable {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
};

/// One section: a heading, an optional paragraph, then any of table and SVG charts.
struct ReportSection {
  std::string id;  ///< HTML id, used by the page's self-check
  std::string heading;
  std::string text;               ///< plain text (escaped when rendered)
  ReportTable table;              ///< skipped when it has no header
  std::vector<std::string> svgs;  ///< inline SVG documents written by segcore::svg
};

struct HtmlReport {
  std::string title;
  std::string subtitle;  ///< input, rows, k, date
  /// Segment names, in segment order: the page checks that each appears.
  std::vector<std::string> segment_names;
  std::vector<ReportSection> sections;
};

/// One HTML document with inline CSS and SVG: no external resource, opens offline. A small
/// inline script marks <body data-report-ok="yes"> once every section and every segment name is
/// present, so a headless browser can tell that the page loaded without errors.
std::string render_html_report(const HtmlReport& report);

}  // namespace segcore
