// CSV for `burrow bench` sweeps (RFC 4180): what docs/ keeps and gnuplot draws.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace burrow::bench {

// One field: as is when it holds no comma, double quote, CR or LF; otherwise in double quotes,
// with each double quote doubled.
std::string CsvField(std::string_view field);

// `rows` (rows[0] is usually the header) as CSV: fields separated by commas, every line ending
// in "\n".
std::string RenderCsv(const std::vector<std::vector<std::string>>& rows);

}  // namespace burrow::bench
