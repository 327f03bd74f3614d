#include "tools/drill/drill.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <filesystem>

#include "tools/drill/scenarios.h"

namespace burrow::drill {
namespace {

constexpr std::array<std::pair<Scenario, std::string_view>, 5> kNames = {{
    {Scenario::kKill9, "kill9"},
    {Scenario::kPowerloss, "powerloss"},
    {Scenario::kTornTail, "torn-tail"},
    {Scenario::kIoErrors, "io-errors"},
    {Scenario::kCorruption, "corruption"},
}};

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

}  // namespace

std::string_view Name(Scenario scenario) {
  for (const auto& [s, name] : kNames) {
    if (s == scenario) return name;
  }
  return "?";
}

std::optional<Scenario> ParseScenario(std::string_view name) {
  for (const auto& [s, n] : kNames) {
    if (n == name) return s;
  }
  return std::nullopt;
}

const std::vector<Scenario>& AllScenarios() {
  static const std::vector<Scenario> all = {Scenario::kKill9, Scenario::kPowerloss,
                                            Scenario::kTornTail, Scenario::kIoErrors,
                                            Scenario::kCorruption};
  return all;
}

uint64_t MixSeed(uint64_t seed, uint64_t salt) {
  // splitmix64 of the pair: independent streams per scenario and purpose.
  uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (salt + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

ScenarioReport RunScenario(Scenario scenario, const Options& options) {
  ScenarioReport report;
  report.scenario = std::string(Name(scenario));
  report.seed = options.seed;
  const auto started = std::chrono::steady_clock::now();
  std::error_code ec;
  std::filesystem::create_directories(options.data_dir, ec);
  if (ec) {
    report.violations.push_back(
        Violation{0, fmt::format("cannot create {}: {}", options.data_dir, ec.message())});
    return report;
  }
  switch (scenario) {
    case Scenario::kKill9:
      RunKill9(options, report);
      break;
    case Scenario::kPowerloss:
      RunPowerloss(options, report);
      break;
    case Scenario::kTornTail:
      RunTornTail(options, report);
      break;
    case Scenario::kIoErrors:
      RunIoErrors(options, report);
      break;
    case Scenario::kCorruption:
      RunCorruption(options, report);
      break;
  }
  report.elapsed_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return report;
}

std::string HumanSummary(const ScenarioReport& r) {
  std::string out =
      fmt::format("{}: {} rounds, {} commands acknowledged, {} journal records, {} restarts",
                  r.scenario, r.rounds, r.acknowledged, r.records, r.restarts);
  if (!r.recovery_ms.empty()) {
    out += fmt::format(", recovery median {:.1f} ms (max {:.1f} ms)", Median(r.recovery_ms),
                       *std::max_element(r.recovery_ms.begin(), r.recovery_ms.end()));
  }
  out += fmt::format(", {:.1f} s\n", r.elapsed_s);
  for (const auto& [name, value] : r.figures) out += fmt::format("  {}: {}\n", name, value);
  for (const std::string& note : r.notes) out += fmt::format("  note: {}\n", note);
  if (r.violations.empty()) {
    out += "  violations: none\n";
  } else {
    out += fmt::format("  VIOLATIONS: {}\n", r.violations.size());
    size_t shown = 0;
    for (const Violation& v : r.violations) {
      if (++shown > 20) {
        out += fmt::format("  ... and {} more\n", r.violations.size() - 20);
        break;
      }
      out += fmt::format("  [seed {} round {}] {}\n", r.seed, v.round, v.what);
    }
    out += fmt::format("  replay: burrow drill --scenario {} --seed {} --rounds {}\n", r.scenario,
                       r.seed, r.rounds);
  }
  return out;
}

nlohmann::json ToJson(const ScenarioReport& r) {
  nlohmann::json violations = nlohmann::json::array();
  for (const Violation& v : r.violations) {
    violations.push_back({{"seed", r.seed}, {"round", v.round}, {"what", v.what}});
  }
  return {
      {"scenario", r.scenario},
      {"seed", r.seed},
      {"rounds", r.rounds},
      {"acknowledged", r.acknowledged},
      {"records", r.records},
      {"restarts", r.restarts},
      {"recovery_ms_median", Median(r.recovery_ms)},
      {"recovery_ms_max",
       r.recovery_ms.empty() ? 0.0 : *std::max_element(r.recovery_ms.begin(), r.recovery_ms.end())},
      {"violations", violations},
      {"figures", r.figures},
      {"notes", r.notes},
      {"elapsed_s", r.elapsed_s},
  };
}

}  // namespace burrow::drill
