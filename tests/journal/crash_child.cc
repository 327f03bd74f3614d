// A writer for the kill -9 test (journal_test.cc, KilledWriterLosesNoAcknowledgedBatch).
//
// usage: journal_crash_child DIR THREADS
// Opens the journal in DIR (kSync) and appends batches from THREADS threads until killed. Batch
// i of thread t has 1 + (i % 4) records with payload "t<t>/b<i>/r<j>/<n>" and one state put
// "t<t>" = "<i>". After each acknowledged Append it writes one line to stdout,
//   ack <first_seq> <n> t<t> b<i>
// with a single write(2) of fewer than PIPE_BUF bytes, so a line is never torn. Every line the
// parent reads therefore describes a batch that the journal acknowledged as durable.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "journal/journal.h"

namespace {

void WriteLine(const std::string& line) {
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    const ssize_t n = write(STDOUT_FILENO, p, left);
    if (n < 0) std::_Exit(3);
    p += n;
    left -= static_cast<size_t>(n);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s DIR THREADS\n", argv[0]);
    return 2;
  }
  burrow::journal::Options options;
  options.durability = burrow::journal::Durability::kSync;
  auto journal = burrow::journal::Journal::Open(argv[1], options);
  if (!journal.ok()) {
    std::fprintf(stderr, "open: %s\n", journal.status().ToString().c_str());
    return 1;
  }
  WriteLine("open\n");
  const int threads = std::atoi(argv[2]);
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (int i = 0;; ++i) {
        burrow::journal::Batch batch;
        const int n = 1 + i % 4;
        for (int j = 0; j < n; ++j) {
          batch.records.push_back(
              {"t" + std::to_string(t), "t" + std::to_string(t) + "/b" + std::to_string(i) + "/r" +
                                            std::to_string(j) + "/" + std::to_string(n)});
        }
        batch.state_puts.push_back({"t" + std::to_string(t), std::to_string(i)});
        auto first = (*journal)->Append(std::move(batch));
        if (!first.ok()) {
          std::fprintf(stderr, "append: %s\n", first.status().ToString().c_str());
          std::_Exit(1);
        }
        WriteLine("ack " + std::to_string(*first) + " " + std::to_string(n) + " t" +
                  std::to_string(t) + " b" + std::to_string(i) + "\n");
      }
    });
  }
  for (auto& w : workers) w.join();
  return 0;
}
