#include "tools/bench/table.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace burrow::bench {
namespace {

size_t DisplayWidth(const std::string& text) {
  // Count the bytes that start a UTF-8 character (all but the 10xxxxxx continuation bytes).
  return static_cast<size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

}  // namespace

std::string RenderTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], DisplayWidth(row[i]));
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      const std::string padding(widths[i] - DisplayWidth(row[i]), ' ');
      if (i > 0) line += "  ";
      line += i == 0 ? row[i] + padding : padding + row[i];
    }
    line.erase(line.find_last_not_of(' ') + 1);
    out += line + '\n';
  }
  return out;
}

std::string FormatCount(double value) {
  const std::string digits = fmt::format("{:.0f}", std::round(std::max(value, 0.0)));
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string FormatMicros(double micros) {
  return micros < 100 ? fmt::format("{:.1f}", micros) : FormatCount(micros);
}

std::string FormatRatio(double ratio) {
  if (!std::isfinite(ratio) || ratio <= 0) return "-";
  return ratio < 10 ? fmt::format("{:.2f}×", ratio) : fmt::format("{:.1f}×", ratio);
}

}  // namespace burrow::bench
