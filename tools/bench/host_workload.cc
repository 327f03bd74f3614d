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

// One session's StartRun / FinishRun loop (as SessionDriver's) through Host::Submit.
class AsyncHostProducer : public AsyncProducer {
 public:
  AsyncHostProducer(host::Host* host, std::string session)
      : host_(host), session_(std::move(session)) {}

  Status StartOp(std::function<void(Status)> done) override {
    machine::Input input =
        running_ ? machine::Input(machine::FinishRun{"run", machine::RunOutcome::kCommitted})
                 : machine::Input(machine::StartRun{"run"});
    auto submitted = host_->Submit(session_, std::move(input),
                                   [this, done = std::move(done)](host::Reply<host::Done> reply) {
                                     if (!reply.ok()) {
                                       return done(FromHostError(reply.error(), "submit"));
                                     }
                                     running_ = !running_;
                                     done(OkStatus());
                                   });
    if (!submitted.ok()) return FromHostError(submitted.error(), "submit");
    return OkStatus();
  }

 private:
  host::Host* const host_;
  const std::string session_;
  bool running_ = false;  // touched by one operation at a time
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
    BURROW_ASSIGN_OR_RETURN(std::string session, RegisterSession(index));
    return std::unique_ptr<Producer>(new HostProducer(host_.get(), std::move(session)));
  }
  Result<std::unique_ptr<AsyncProducer>> NewAsyncProducer(int index) override {
    BURROW_ASSIGN_OR_RETURN(std::string session, RegisterSession(index));
    return std::unique_ptr<AsyncProducer>(new AsyncHostProducer(host_.get(), std::move(session)));
  }

 private:
  // Registers producer `index`'s session (untimed) and returns its id.
  Result<std::string> RegisterSession(int index) {
    std::string session = SessionId(static_cast<uint64_t>(index));
    auto registered = host_->Register(session);
    if (!registered.ok()) return FromHostError(registered.error(), "register " + session);
    return session;
  }

  std::unique_ptr<journal::Journal> journal_;
  std::unique_ptr<host::Host> host_;
};

}  // namespace

WorkloadSpec BurrowHost() {
  return {"burrow", [] { return std::make_unique<HostWorkload>(); }};
}

WorkloadSpec BurrowHostAsync() {
  return {.name = "burrow_async",
          .make = [] { return std::make_unique<HostWorkload>(); },
          .asynchronous = true};
}

}  // namespace burrow::bench
