// `burrow machine --format markdown|dot`: the transition table and the phase diagram, both
// rendered from the machine's own declarations (so they can never drift from the code).
#include <iostream>
#include <map>
#include <string>

#include "engine/machine/machine.h"
#include "tools/commands.h"

namespace burrow::tools {

void AddMachineCommand(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand(
      "machine",
      "Print the session authority machine: its transition table (markdown) or its phase "
      "diagram (Graphviz dot).");
  cmd->footer(
      "Examples:\n"
      "  burrow machine --format markdown > docs/MACHINE.md\n"
      "  burrow machine --format dot | dot -Tsvg > machine.svg");
  auto format = std::make_shared<std::string>("markdown");
  cmd->add_option("--format", *format, "Output format")
      ->check(CLI::IsMember({"markdown", "dot"}))
      ->capture_default_str();
  cmd->callback([format, &exit_code] {
    std::cout << (*format == "dot" ? machine::RenderDot() : machine::RenderMarkdown());
    exit_code = 0;
  });
}

}  // namespace burrow::tools
