// The five scenarios (private to tools/drill; drill.h is the front door).
#pragma once

#include "tools/drill/drill.h"

namespace burrow::drill {

void RunKill9(const Options& options, ScenarioReport& report);
void RunPowerloss(const Options& options, ScenarioReport& report);
void RunTornTail(const Options& options, ScenarioReport& report);
void RunIoErrors(const Options& options, ScenarioReport& report);
void RunCorruption(const Options& options, ScenarioReport& report);

// Per-scenario seeds derived from the run's seed, so each scenario of `--scenario all` replays
// alone with the same --seed.
uint64_t MixSeed(uint64_t seed, uint64_t salt);

}  // namespace burrow::drill
