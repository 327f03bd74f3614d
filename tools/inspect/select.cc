// Filters, Select (for `show` and `export`) and Follow (for `follow`).
#include <fmt/format.h>

#include <algorithm>
#include <deque>
#include <thread>

#include "schema/codec.h"
#include "tools/inspect/inspect.h"

namespace burrow::inspect {

bool Filter::HasContentCriteria() const {
  return !sessions.empty() || !kinds.empty() || !inputs.empty() || since_us || until_us;
}

bool Matches(const Filter& filter, const schema::RecordEnvelope& record) {
  if (record.seq < filter.from_seq || record.seq > filter.to_seq) return false;
  if (!filter.sessions.empty() && std::find(filter.sessions.begin(), filter.sessions.end(),
                                            record.session_id) == filter.sessions.end()) {
    return false;
  }
  if (!filter.kinds.empty() &&
      std::find(filter.kinds.begin(), filter.kinds.end(),
                schema::PayloadKindName(record.payload)) == filter.kinds.end()) {
    return false;
  }
  if (!filter.inputs.empty()) {
    auto* transition = std::get_if<schema::TransitionRecord>(&record.payload);
    if (transition == nullptr ||
        std::find(filter.inputs.begin(), filter.inputs.end(), machine::KindOf(transition->input)) ==
            filter.inputs.end()) {
      return false;
    }
  }
  if (filter.since_us && record.wall_time_us < *filter.since_us) return false;
  if (filter.until_us && record.wall_time_us > *filter.until_us) return false;
  return true;
}

namespace {

// Whether `entry` is to be shown under `filter` (damaged entries: see Filter).
bool Selected(const Filter& filter, const Entry& entry) {
  if (entry.seq < filter.from_seq || entry.seq > filter.to_seq) return false;
  if (!entry.envelope) return !filter.HasContentCriteria();
  return Matches(filter, *entry.envelope);
}

}  // namespace

Result<SelectSummary> Select(const journal::Journal& journal, const SelectOptions& options,
                             const std::function<void(const Entry&)>& visit) {
  SelectSummary summary;
  // Reversed with a limit keeps only the newest `limit` matches in memory.
  std::deque<Entry> kept;
  const auto emit = [&](const Entry& entry) {
    ++summary.shown;
    if (!entry.envelope) ++summary.damaged;
    visit(entry);
  };
  const auto take = [&](Entry entry) {
    if (options.reverse) {
      kept.push_back(std::move(entry));
      if (options.limit != 0 && kept.size() > options.limit) kept.pop_front();
      return true;
    }
    emit(entry);
    return options.limit == 0 || summary.shown < options.limit;
  };
  // Missing records are shown as one damaged entry per gap (when damage is shown at all).
  const bool show_damage = !options.filter.HasContentCriteria();
  const uint64_t end = std::min(options.filter.to_seq, journal.LastSequence());
  uint64_t expected = std::max(options.filter.from_seq, journal.FirstSequence());
  const auto gap_before = [&](uint64_t found) {
    Entry gap;
    gap.seq = expected;
    gap.damage = found == expected + 1
                     ? fmt::format("missing (gap: expected {}, found {})", expected, found)
                     : fmt::format("records {}..{} are missing (gap: expected {}, found {})",
                                   expected, found - 1, expected, found);
    return gap;
  };
  Status scanned = journal.ScanStored(
      options.filter.from_seq, options.filter.to_seq, [&](const journal::StoredRecord& stored) {
        if (show_damage && stored.seq > expected && !take(gap_before(stored.seq))) return false;
        expected = std::max(expected, stored.seq + 1);
        Entry entry = ToEntry(stored);
        if (!Selected(options.filter, entry)) return true;
        return take(std::move(entry));
      });
  if (scanned.ok() && show_damage && expected <= end &&
      (options.limit == 0 || options.reverse || summary.shown < options.limit)) {
    take(gap_before(end + 1));
  }
  BURROW_RETURN_IF_ERROR(scanned);
  for (auto it = kept.rbegin(); it != kept.rend(); ++it) emit(*it);
  return summary;
}

Result<uint64_t> Follow(journal::Journal& journal, const Filter& filter, uint64_t after,
                        size_t limit, const std::function<bool()>& stop,
                        const std::function<void(const Entry&)>& visit,
                        std::chrono::milliseconds poll) {
  size_t shown = 0;
  while (!stop()) {
    // Waits up to `poll` for a record after `after` (a follower catches up with the writer
    // while it waits); the records themselves are read below, damage included.
    auto waited = journal.Follow(after, poll, /*limit=*/0);
    if (!waited.ok()) return waited.status();
    const uint64_t last = journal.LastSequence();
    if (last <= after) continue;
    bool done = false;
    BURROW_RETURN_IF_ERROR(
        journal.ScanStored(after + 1, last, [&](const journal::StoredRecord& stored) {
          Entry entry = ToEntry(stored);
          after = std::max(after, entry.seq);
          if (!Selected(filter, entry)) return true;
          visit(entry);
          ++shown;
          done = limit != 0 && shown >= limit;
          return !done;
        }));
    after = std::max(after, done ? after : last);
    if (done) break;
  }
  return after;
}

}  // namespace burrow::inspect
