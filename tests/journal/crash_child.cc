// A writer for the kill -9 test (journal_test.cc, KilledWriterTest).
//
// usage: journal_crash_child DIR PRODUCERS [sync|async]
// Opens the journal in DIR (kSync) and appends batches from PRODUCERS producers until killed:
// threads calling Append, or with `async`, chains of AppendAsync calls each started by the
// previous one's callback. Batch i of producer t has 1 + (i % 4) records with payload
// "t<t>/b<i>/r<j>/<n>" and one state put "t<t>" = "<i>". After each acknowledged append it
// writes one line to stdout,
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

burrow::journal::Batch MakeBatch(int t, int i) {
  burrow::journal::Batch batch;
  const int n = 1 + i % 4;
  for (int j = 0; j < n; ++j) {
    batch.records.push_back(
        {"t" + std::to_string(t), "t" + std::to_string(t) + "/b" + std::to_string(i) + "/r" +
                                      std::to_string(j) + "/" + std::to_string(n)});
  }
  batch.state_puts.push_back({"t" + std::to_string(t), std::to_string(i)});
  return batch;
}

void Acknowledge(const burrow::Result<uint64_t>& first, int t, int i) {
  if (!first.ok()) {
    std::fprintf(stderr, "append: %s\n", first.status().ToString().c_str());
    std::_Exit(1);
  }
  WriteLine("ack " + std::to_string(*first) + " " + std::to_string(1 + i % 4) + " t" +
            std::to_string(t) + " b" + std::to_string(i) + "\n");
}

// Producer t's batch i through AppendAsync; its callback starts batch i + 1.
void StartAsync(burrow::journal::Journal& journal, int t, int i) {
  const burrow::Status queued =
      journal.AppendAsync(MakeBatch(t, i), [&journal, t, i](burrow::Result<uint64_t> first) {
        Acknowledge(first, t, i);
        StartAsync(journal, t, i + 1);
      });
  if (!queued.ok()) {
    std::fprintf(stderr, "append: %s\n", queued.ToString().c_str());
    std::_Exit(1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const bool async = argc == 4 && std::string(argv[3]) == "async";
  if (argc != 3 && !async && !(argc == 4 && std::string(argv[3]) == "sync")) {
    std::fprintf(stderr, "usage: %s DIR PRODUCERS [sync|async]\n", argv[0]);
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
  const int producers = std::atoi(argv[2]);
  if (async) {
    for (int t = 0; t < producers; ++t) StartAsync(**journal, t, 0);
    for (;;) pause();  // the chains run on the journal's completion thread until the kill
  }
  std::vector<std::thread> workers;
  for (int t = 0; t < producers; ++t) {
    workers.emplace_back([&, t] {
      for (int i = 0;; ++i) Acknowledge((*journal)->Append(MakeBatch(t, i)), t, i);
    });
  }
  for (auto& w : workers) w.join();
  return 0;
}
