// `burrow`: one binary, one subcommand per surface (SPEC.md §8).
#include <CLI/CLI.hpp>

#include "tools/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"Burrow: a durable runtime host for agent sessions."};
  app.require_subcommand(1);
  int exit_code = 0;
  burrow::tools::AddMachineCommand(app, exit_code);
  burrow::tools::AddBenchCommand(app, exit_code);
  burrow::tools::AddEvalCommand(app, exit_code);
  burrow::tools::AddJournalInspectionCommand(app, exit_code);
  burrow::tools::AddServeCommand(app, exit_code);
  burrow::tools::AddDrillCommand(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11 prints the message (or the --help text, with code 0). Every usage error exits 2,
    // as the subcommands' own checks of option values do, instead of CLI11's codes (100+).
    return app.exit(e) == 0 ? 0 : 2;
  }
  return exit_code;
}
