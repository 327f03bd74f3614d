// Snapshots and checkpoints: what keeps recovery time independent of total history (SPEC §5).
//
// Recovery needs, for every live session, its newest valid snapshot and every record after it;
// if the newest is damaged it falls back to the older one, so records after the OLDER of the two
// kept snapshots must stay. A checkpoint gives every session a new snapshot covering the
// checkpoint's sequence (an idle session's state at that sequence is its state at its last
// record), so after two checkpoints every session has two generations and the journal can be
// truncated below the older ones. Sessions with fewer than two generations pin the journal at
// the oldest record of their life.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "engine/host/host_impl.h"
#include "journal/journal.h"
#include "schema/codec.h"

namespace burrow::host {
namespace {

// Snapshots written per journal call: one fsync each, bounded memory.
constexpr size_t kSnapshotsPerWrite = 4096;

}  // namespace

schema::AuthoritySnapshot HostImpl::SnapshotOfSession(const Session& s) {
  return SnapshotOf(s.image.Load(s.id));
}

uint64_t HostImpl::TruncationPin(const Session& s) const {
  if (s.snapshots.size() >= 2) return s.snapshots[1] + 1;
  if (s.first_seq != 0) return s.first_seq;
  // One snapshot and the start of the life unknown (recovered from that snapshot): keep all.
  return journal_->FirstSequence();
}

Reply<CheckpointReport> HostImpl::Checkpoint() {
  std::lock_guard<std::mutex> one_at_a_time(checkpoint_mu_);
  const uint64_t upto = journal_->LastSequence();
  CheckpointReport report;

  std::vector<std::string> ids;
  {
    std::shared_lock<std::shared_mutex> registry(registry_mu_);
    for (const auto& s : sessions_) {
      if (s->created && !s->removed) ids.push_back(s->id);
    }
  }
  std::vector<std::pair<std::shared_ptr<Session>, journal::Snapshot>> pending;
  auto flush = [&]() -> Status {
    if (pending.empty()) return OkStatus();
    std::vector<journal::Snapshot> batch;
    batch.reserve(pending.size());
    for (auto& [s, snapshot] : pending) batch.push_back(snapshot);
    BURROW_RETURN_IF_ERROR(journal_->WriteSnapshots(std::move(batch)));
    for (auto& [s, snapshot] : pending) {
      std::lock_guard<std::timed_mutex> lock(s->mu);
      s->snapshots.Note(snapshot.covered_seq);  // the journal keeps the two newest; mirror it
    }
    report.snapshots_written += pending.size();
    pending.clear();
    return OkStatus();
  };
  for (const std::string& id : ids) {
    auto locked = AcquireAny(id);
    if (!locked.ok()) continue;
    Session& s = *locked.value().session;
    schema::AuthoritySnapshot snapshot = SnapshotOfSession(s);
    snapshot.covered_seq = std::max(s.image.last_seq, upto);
    pending.emplace_back(
        locked.value().session,
        journal::Snapshot{s.id, snapshot.covered_seq, schema::EncodeSnapshot(snapshot)});
    locked.value().lock.unlock();
    if (pending.size() >= kSnapshotsPerWrite) {
      Status written = flush();
      if (!written.ok()) return Error{ErrorCode::kUnavailable, written.ToString(), {}};
    }
  }
  Status written = flush();
  if (!written.ok()) return Error{ErrorCode::kUnavailable, written.ToString(), {}};

  // Snapshots of sessions that no longer exist (or of an earlier life of a re-registered id)
  // would resurrect them once their UnregisterSession record is truncated. Holding the registry
  // shared keeps a new session of the same id from being created (and snapshotted) while its
  // old snapshots are deleted.
  std::vector<std::pair<std::string, uint64_t>> heads;
  Status scanned = journal_->ScanSnapshotHeads([&](std::string_view stream, uint64_t covered) {
    heads.emplace_back(stream, covered);
    return true;
  });
  if (!scanned.ok()) return Error{ErrorCode::kUnavailable, scanned.ToString(), {}};
  {
    std::shared_lock<std::shared_mutex> registry(registry_mu_);
    for (const auto& [stream, covered] : heads) {
      auto it = sessions_.find(stream);
      if (it != sessions_.end() && !(*it)->removed) {
        uint64_t first = (*it)->created ? (*it)->first_seq.load() : 0;
        bool earlier_life = first != 0 && covered < first;
        if (!earlier_life) continue;
      }
      Status deleted = journal_->DeleteSnapshots(stream);
      if (!deleted.ok()) return Error{ErrorCode::kUnavailable, deleted.ToString(), {}};
    }
  }

  // Truncate below what every session present at the start of this checkpoint still needs.
  // A session created since has only records after `upto`, so the bound covers it too.
  uint64_t below = upto + 1;
  for (const std::string& id : ids) {
    auto locked = AcquireAny(id);
    if (!locked.ok()) continue;
    below = std::min(below, TruncationPin(*locked.value().session));
  }
  if (below > journal_->FirstSequence()) {
    Status truncated = journal_->Truncate(below);
    if (!truncated.ok()) return Error{ErrorCode::kUnavailable, truncated.ToString(), {}};
  }
  report.truncated_below = journal_->FirstSequence();
  last_checkpoint_seq_ = upto;
  log_->info("checkpoint at {}: {} snapshots, journal starts at {}", upto, report.snapshots_written,
             report.truncated_below);
  return report;
}

void HostImpl::CheckpointLoop() {
  std::unique_lock<std::mutex> lock(checkpointer_mu_);
  for (;;) {
    checkpointer_cv_.wait(lock, [&] { return checkpoint_wanted_ || checkpointer_stop_; });
    if (checkpointer_stop_) return;
    checkpoint_wanted_ = false;
    lock.unlock();
    auto checkpoint = Checkpoint();
    if (!checkpoint.ok()) log_->warn("checkpoint failed: {}", checkpoint.error().reason);
    lock.lock();
  }
}

}  // namespace burrow::host
