// Burrow's full engine (host::Host commands) as a workload of the harness.
#include "engine/host/host.h"
#include "journal/journal.h"
#include "tools/bench/host_driver.h"
#include "tools/bench/workloads.h"

namespace burrow::bench {
namespace {

class HostProducer : public Producer {
 public:
  HostProducer(host::Host* host, std::string session) : driver_(host, std::move(session)) {}
  Status Op() override { return driver_.Next(); }

 private:
  SessionDriver driver_;
};

class HostWorkload : public Workload {
 public:
  ~HostWorkload() override {
    host_.reset();  // clean shutdown (with its checkpoint) before the journal goes
    journal_.reset();
  }

  Status Open(const std::string& dir, int /*producers*/) override {
    journal::Options options;
    options.durability = journal::Durability::kSync;
    BURROW_ASSIGN_OR_RETURN(journal_, journal::Journal::Open(dir + "/journal", options));
    host_ = host::Host::Create(journal_.get(), host::HostOptions{});
    auto started = host_->Start();
    if (!started.ok()) return FromHostError(started.error(), "start");
    return OkStatus();
  }

  Result<std::unique_ptr<Producer>> NewProducer(int index) override {
    std::string session = SessionId(static_cast<uint64_t>(index));
    auto registered = host_->Register(session);
    if (!registered.ok()) return FromHostError(registered.error(), "register " + session);
    return std::unique_ptr<Producer>(new HostProducer(host_.get(), std::move(session)));
  }

 private:
  std::unique_ptr<journal::Journal> journal_;
  std::unique_ptr<host::Host> host_;
};

}  // namespace

WorkloadSpec BurrowHost() {
  return {"burrow", [] { return std::make_unique<HostWorkload>(); }};
}

}  // namespace burrow::bench
