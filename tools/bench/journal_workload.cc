// Burrow's own journal as a workload of the harness.
#include <fmt/format.h>

#include "journal/journal.h"
#include "tools/bench/workloads.h"

namespace burrow::bench {
namespace {

class JournalProducer : public Producer {
 public:
  JournalProducer(journal::Journal* journal, int index)
      : journal_(journal), stream_(fmt::format("s{}", index)) {}

  Status Op() override {
    journal::Batch batch;
    batch.records.push_back({.stream = stream_, .payload = RecordValue()});
    return journal_->Append(std::move(batch)).status();
  }

 private:
  journal::Journal* const journal_;
  const std::string stream_;
};

class AsyncJournalProducer : public AsyncProducer {
 public:
  AsyncJournalProducer(journal::Journal* journal, int index)
      : journal_(journal), stream_(fmt::format("s{}", index)) {}

  Status StartOp(std::function<void(Status)> done) override {
    journal::Batch batch;
    batch.records.push_back({.stream = stream_, .payload = RecordValue()});
    return journal_->AppendAsync(
        std::move(batch), [done = std::move(done)](Result<uint64_t> seq) { done(seq.status()); });
  }

 private:
  journal::Journal* const journal_;
  const std::string stream_;
};

class JournalWorkload : public Workload {
 public:
  Status Open(const std::string& dir, int /*producers*/) override {
    journal::Options options;
    options.durability = journal::Durability::kSync;
    BURROW_ASSIGN_OR_RETURN(journal_, journal::Journal::Open(dir + "/journal", options));
    return OkStatus();
  }
  Result<std::unique_ptr<Producer>> NewProducer(int index) override {
    return std::unique_ptr<Producer>(new JournalProducer(journal_.get(), index));
  }
  Result<std::unique_ptr<AsyncProducer>> NewAsyncProducer(int index) override {
    return std::unique_ptr<AsyncProducer>(new AsyncJournalProducer(journal_.get(), index));
  }

 private:
  std::unique_ptr<journal::Journal> journal_;
};

}  // namespace

WorkloadSpec BurrowJournal() {
  return {"journal", [] { return std::make_unique<JournalWorkload>(); }};
}

WorkloadSpec BurrowJournalAsync() {
  return {.name = "journal_async",
          .make = [] { return std::make_unique<JournalWorkload>(); },
          .asynchronous = true};
}

}  // namespace burrow::bench
