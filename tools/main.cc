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
  CLI11_PARSE(app, argc, argv);
  return exit_code;
}
