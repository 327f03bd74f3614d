// Plain-text reports for `burrow bench`: an aligned table and the number formats it uses.
#pragma once

#include <string>
#include <vector>

namespace burrow::bench {

// Renders `rows` (rows[0] is the header) as aligned columns separated by two spaces: the first
// column left-aligned, the others right-aligned. Widths count UTF-8 characters, not bytes, so
// "µs" and "×" line up. Every line ends with '\n'.
std::string RenderTable(const std::vector<std::vector<std::string>>& rows);

// 12345.6 -> "12,346" (rounded, with thousands separators).
std::string FormatCount(double value);
// Microseconds: one decimal below 100 ("87.3"), whole numbers above ("1,204").
std::string FormatMicros(double micros);
// A ratio: "21.3×" (two decimals below 10: "0.78×"); "-" when the reference is missing or zero.
std::string FormatRatio(double ratio);

}  // namespace burrow::bench
