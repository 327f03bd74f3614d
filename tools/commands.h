// The subcommands of `burrow`. Each Add*Command registers one subcommand, with its options and
// its --help text, on `app`; the subcommand's callback sets `exit_code` when it runs.
#pragma once

#include <CLI/CLI.hpp>

namespace burrow::tools {

void AddMachineCommand(CLI::App& app, int& exit_code);
void AddBenchCommand(CLI::App& app, int& exit_code);
void AddEvalCommand(CLI::App& app, int& exit_code);
void AddJournalInspectionCommand(CLI::App& app, int& exit_code);
void AddServeCommand(CLI::App& app, int& exit_code);
// `burrow bench rpc`, `commit`, `recovery` and `memory`, registered by AddBenchCommand on its
// `bench` subcommand.
void AddBenchRpcCommand(CLI::App& bench, int& exit_code);
void AddBenchCommitCommand(CLI::App& bench, int& exit_code);
void AddBenchRecoveryCommand(CLI::App& bench, int& exit_code);
void AddBenchMemoryCommand(CLI::App& bench, int& exit_code);
void AddDrillCommand(CLI::App& app, int& exit_code);

}  // namespace burrow::tools
