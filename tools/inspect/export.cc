// `export` and `import`: a journal as JSON lines and back, losslessly (docs/JOURNAL.md).
#include <fmt/format.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>

#include "engine/host/session_image.h"
#include "engine/machine/machine.h"
#include "schema/codec.h"
#include "tools/inspect/inspect.h"

namespace burrow::inspect {
namespace {

constexpr size_t kRecordsPerBatch = 1024;

std::optional<std::string> Unhex(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  const auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::string out(hex.size() / 2, '\0');
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = nibble(hex[2 * i]);
    int lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = static_cast<char>(hi << 4 | lo);
  }
  return out;
}

// Whether `s` is well-formed UTF-8 (so that a JSON string carries it unchanged).
bool IsUtf8(std::string_view s) {
  static constexpr uint32_t kMask[] = {0x7f, 0x1f, 0x0f, 0x07};
  static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t extra;
    if (c < 0x80) {
      extra = 0;
    } else if ((c >> 5) == 6) {
      extra = 1;
    } else if ((c >> 4) == 14) {
      extra = 2;
    } else if ((c >> 3) == 30) {
      extra = 3;
    } else {
      return false;
    }
    if (s.size() - i <= extra) return false;
    uint32_t cp = c & kMask[extra];
    for (size_t k = 1; k <= extra; ++k) {
      const auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xc0) != 0x80) return false;
      cp = cp << 6 | (d & 0x3f);
    }
    if (cp < kMin[extra] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += extra + 1;
  }
  return true;
}

Json SnapshotJson(const schema::AuthoritySnapshot& s) {
  return Json{{"session_seq", s.session_seq},
              {"task_incarnation", s.incarnation},
              {"inbox_count", s.inbox_count},
              {"delivered_count", s.delivered_count},
              {"state", StateJson(s.state)},
              {"state_digest", fmt::format("{:016x}", machine::Digest(s.state))}};
}

Status WriteLine(std::ostream& out, const Json& json) {
  out << Dump(json) << '\n';
  if (!out) return UnavailableError("cannot write the export");
  return OkStatus();
}

}  // namespace

Result<ExportSummary> Export(const journal::Journal& journal, const ExportOptions& options,
                             std::ostream& out) {
  ExportSummary summary;
  const uint64_t first = std::max(options.from_seq, journal.FirstSequence());
  const uint64_t last = std::min(options.to_seq, journal.LastSequence());
  BURROW_RETURN_IF_ERROR(WriteLine(out, Json{{"type", "header"},
                                             {"export_version", kExportVersion},
                                             {"format_version", journal::kFormatVersion},
                                             {"record_version", schema::kRecordVersion},
                                             {"first_seq", first},
                                             {"last_seq", std::max(last, first - 1)},
                                             {"whole", options.whole()}}));
  Status written;
  journal::Damage damage;
  if (first <= last) {
    BURROW_RETURN_IF_ERROR(journal.Scan(
        first, last,
        [&](const journal::Record& record) {
          if (options.session && record.stream != *options.session) return true;
          auto decoded = schema::DecodeRecord(record.seq, record.payload);
          if (!decoded.ok()) {
            written = decoded.status();
            return false;
          }
          if (!IsUtf8(record.stream)) {
            written = InvalidArgumentError(
                fmt::format("record {}: stream {} is not UTF-8 and cannot be exported", record.seq,
                            Hex(record.stream)));
            return false;
          }
          written = WriteLine(out, Json{{"type", "record"},
                                        {"seq", record.seq},
                                        {"stream", record.stream},
                                        {"payload_hex", Hex(record.payload)},
                                        {"record", RecordJson(*decoded)}});
          ++summary.records;
          return written.ok();
        },
        &damage));
    BURROW_RETURN_IF_ERROR(written);
  }

  std::vector<std::string> streams;
  BURROW_RETURN_IF_ERROR(journal.ScanSnapshotHeads([&](std::string_view stream, uint64_t) {
    if (!options.session || stream == *options.session) streams.emplace_back(stream);
    return true;
  }));
  for (const std::string& stream : streams) {
    std::vector<journal::Damage> damaged;
    BURROW_ASSIGN_OR_RETURN(auto snapshots, journal.Snapshots(stream, &damaged));
    if (!damaged.empty()) {
      return DataLossError(
          fmt::format("snapshot of '{}' at {}: {}", stream, damaged[0].seq, damaged[0].what));
    }
    for (auto it = snapshots.rbegin(); it != snapshots.rend(); ++it) {
      if (!options.whole() && (it->covered_seq + 1 < first || it->covered_seq > last)) continue;
      BURROW_ASSIGN_OR_RETURN(schema::AuthoritySnapshot decoded,
                              schema::DecodeSnapshot(it->payload));
      if (!IsUtf8(stream)) {
        return InvalidArgumentError(
            fmt::format("snapshot stream {} is not UTF-8 and cannot be exported", Hex(stream)));
      }
      BURROW_RETURN_IF_ERROR(WriteLine(out, Json{{"type", "snapshot"},
                                                 {"stream", stream},
                                                 {"covered_seq", it->covered_seq},
                                                 {"payload_hex", Hex(it->payload)},
                                                 {"snapshot", SnapshotJson(decoded)}}));
      ++summary.snapshots;
    }
  }

  if (options.whole()) {
    BURROW_RETURN_IF_ERROR(journal.ScanState("", [&](std::string_view key, std::string_view value) {
      written =
          WriteLine(out, Json{{"type", "state"}, {"key_hex", Hex(key)}, {"value_hex", Hex(value)}});
      ++summary.state_entries;
      return written.ok();
    }));
    BURROW_RETURN_IF_ERROR(written);
  }
  BURROW_RETURN_IF_ERROR(WriteLine(out, Json{{"type", "end"},
                                             {"records", summary.records},
                                             {"snapshots", summary.snapshots},
                                             {"state_entries", summary.state_entries}}));
  out.flush();
  if (!out) return UnavailableError("cannot write the export");
  return summary;
}

namespace {

// Reads an export into a new journal (the directory must not exist yet).
class Importer {
 public:
  explicit Importer(journal::Journal& journal) : journal_(journal) {}

  Status Run(std::istream& in) {
    std::string line;
    while (std::getline(in, line)) {
      ++line_number_;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      if (ended_) return Bad("a line after the end line");
      Json json = Json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (json.is_discarded() || !json.is_object()) return Bad("not a JSON object");
      BURROW_RETURN_IF_ERROR(Line(json));
    }
    if (in.bad()) return UnavailableError("cannot read the export");
    if (!header_) return InvalidArgumentError("the export is empty (no header line)");
    if (!ended_) return InvalidArgumentError("the export has no end line: it was cut short");
    return OkStatus();
  }

  const ImportSummary& summary() const { return summary_; }

 private:
  Status Bad(std::string_view what) const {
    return InvalidArgumentError(fmt::format("line {}: {}", line_number_, what));
  }

  Result<std::string> String(const Json& json, const char* name) const {
    auto it = json.find(name);
    if (it == json.end() || !it->is_string())
      return Bad(fmt::format("\"{}\" must be a string", name));
    return it->get<std::string>();
  }
  Result<uint64_t> Number(const Json& json, const char* name) const {
    auto it = json.find(name);
    if (it == json.end() || !it->is_number_unsigned()) {
      return Bad(fmt::format("\"{}\" must be an unsigned integer", name));
    }
    return it->get<uint64_t>();
  }
  Result<std::string> Bytes(const Json& json, const char* name) const {
    BURROW_ASSIGN_OR_RETURN(std::string hex, String(json, name));
    auto bytes = Unhex(hex);
    if (!bytes) return Bad(fmt::format("\"{}\" is not lowercase hex", name));
    return std::move(bytes).value();
  }

  Status Line(const Json& json) {
    BURROW_ASSIGN_OR_RETURN(std::string type, String(json, "type"));
    if (!header_ && type != "header") return Bad("the first line must be the header");
    if (type == "header") return Header(json);
    if (type == "record") return RecordLine(json);
    if (type == "snapshot") return SnapshotLine(json);
    if (type == "state") return StateLine(json);
    if (type == "end") return End(json);
    return Bad(fmt::format("unknown line type \"{}\"", type));
  }

  Status Header(const Json& json) {
    if (header_) return Bad("a second header");
    BURROW_ASSIGN_OR_RETURN(uint64_t version, Number(json, "export_version"));
    if (version != kExportVersion) {
      return Bad(fmt::format("export version {} (this build reads {})", version, kExportVersion));
    }
    BURROW_ASSIGN_OR_RETURN(uint64_t format, Number(json, "format_version"));
    if (format != journal::kFormatVersion) {
      return Bad(fmt::format("journal format version {} (this build writes {})", format,
                             journal::kFormatVersion));
    }
    BURROW_ASSIGN_OR_RETURN(first_seq_, Number(json, "first_seq"));
    BURROW_ASSIGN_OR_RETURN(last_seq_, Number(json, "last_seq"));
    if (first_seq_ == 0 || last_seq_ + 1 < first_seq_)
      return Bad("first_seq/last_seq out of order");
    header_ = true;
    // The journal starts at first_seq: sequences below it are consumed and truncated, exactly
    // as in a journal that was truncated (sequences are never reused, so this is the only way).
    uint64_t placeholders = first_seq_ - 1;
    while (placeholders > 0) {
      journal::Batch batch;
      const uint64_t n = std::min<uint64_t>(placeholders, 64 * kRecordsPerBatch);
      batch.records.resize(n);
      BURROW_RETURN_IF_ERROR(journal_.Append(std::move(batch)).status());
      placeholders -= n;
    }
    if (first_seq_ > 1) BURROW_RETURN_IF_ERROR(journal_.Truncate(first_seq_));
    next_seq_ = first_seq_;
    return OkStatus();
  }

  Status RecordLine(const Json& json) {
    if (!snapshots_.empty() || !state_.state_puts.empty()) {
      return Bad("records must come before snapshots and state");
    }
    BURROW_ASSIGN_OR_RETURN(uint64_t seq, Number(json, "seq"));
    if (seq != next_seq_) {
      return Bad(fmt::format(
          "record {} where {} was next: an import needs every record from first_seq to "
          "last_seq in order (an export with --session holds only that session's records)",
          seq, next_seq_));
    }
    if (seq > last_seq_) return Bad(fmt::format("record {} is past last_seq {}", seq, last_seq_));
    BURROW_ASSIGN_OR_RETURN(std::string stream, String(json, "stream"));
    BURROW_ASSIGN_OR_RETURN(std::string payload, Bytes(json, "payload_hex"));
    auto decoded = schema::DecodeRecord(seq, payload);
    if (!decoded.ok()) {
      return DataLossError(fmt::format("line {}: {}", line_number_, decoded.status().message()));
    }
    if (decoded->session_id != stream) {
      return Bad(fmt::format("the payload names session '{}', the line stream '{}'",
                             decoded->session_id, stream));
    }
    if (auto it = json.find("record");
        it != json.end() && Dump(*it) != Dump(RecordJson(*decoded))) {
      return Bad(
          "\"record\" disagrees with \"payload_hex\" (the payload is what is imported; edit "
          "neither by hand, or drop \"record\")");
    }
    pending_.records.push_back({std::move(stream), std::move(payload)});
    ++next_seq_;
    ++summary_.records;
    if (pending_.records.size() >= kRecordsPerBatch) return FlushRecords();
    return OkStatus();
  }

  Status FlushRecords() {
    if (pending_.records.empty()) return OkStatus();
    BURROW_RETURN_IF_ERROR(journal_.Append(std::move(pending_)).status());
    pending_ = journal::Batch{};
    return OkStatus();
  }

  Status SnapshotLine(const Json& json) {
    BURROW_RETURN_IF_ERROR(FlushRecords());
    journal::Snapshot snapshot;
    BURROW_ASSIGN_OR_RETURN(snapshot.stream, String(json, "stream"));
    BURROW_ASSIGN_OR_RETURN(snapshot.covered_seq, Number(json, "covered_seq"));
    BURROW_ASSIGN_OR_RETURN(snapshot.payload, Bytes(json, "payload_hex"));
    auto decoded = schema::DecodeSnapshot(snapshot.payload);
    if (!decoded.ok()) {
      return DataLossError(fmt::format("line {}: {}", line_number_, decoded.status().message()));
    }
    if (auto it = json.find("snapshot");
        it != json.end() && Dump(*it) != Dump(SnapshotJson(*decoded))) {
      return Bad("\"snapshot\" disagrees with \"payload_hex\"");
    }
    snapshots_.push_back(std::move(snapshot));
    ++summary_.snapshots;
    return OkStatus();
  }

  Status StateLine(const Json& json) {
    BURROW_RETURN_IF_ERROR(FlushRecords());
    journal::StatePut put;
    BURROW_ASSIGN_OR_RETURN(put.key, Bytes(json, "key_hex"));
    BURROW_ASSIGN_OR_RETURN(put.value, Bytes(json, "value_hex"));
    if (put.key.empty()) return Bad("empty state key");
    state_.state_puts.push_back(std::move(put));
    ++summary_.state_entries;
    return OkStatus();
  }

  Status End(const Json& json) {
    BURROW_ASSIGN_OR_RETURN(uint64_t records, Number(json, "records"));
    BURROW_ASSIGN_OR_RETURN(uint64_t snapshots, Number(json, "snapshots"));
    BURROW_ASSIGN_OR_RETURN(uint64_t state_entries, Number(json, "state_entries"));
    if (records != summary_.records || snapshots != summary_.snapshots ||
        state_entries != summary_.state_entries) {
      return Bad(fmt::format(
          "the end line counts {} records, {} snapshots, {} state entries; the export holds "
          "{}, {}, {}",
          records, snapshots, state_entries, summary_.records, summary_.snapshots,
          summary_.state_entries));
    }
    if (next_seq_ != last_seq_ + 1) {
      return Bad(fmt::format("records end at {}, but the header says last_seq {}", next_seq_ - 1,
                             last_seq_));
    }
    BURROW_RETURN_IF_ERROR(FlushRecords());
    if (!snapshots_.empty()) BURROW_RETURN_IF_ERROR(journal_.WriteSnapshots(std::move(snapshots_)));
    if (!state_.empty()) BURROW_RETURN_IF_ERROR(journal_.Append(std::move(state_)).status());
    summary_.first_seq = first_seq_;
    summary_.last_seq = last_seq_;
    ended_ = true;
    return OkStatus();
  }

  journal::Journal& journal_;
  ImportSummary summary_;
  uint64_t line_number_ = 0;
  bool header_ = false;
  bool ended_ = false;
  uint64_t first_seq_ = 1;
  uint64_t last_seq_ = 0;
  uint64_t next_seq_ = 1;
  journal::Batch pending_;
  journal::Batch state_;
  std::vector<journal::Snapshot> snapshots_;
};

}  // namespace

Result<ImportSummary> Import(std::istream& in, const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path target = fs::absolute(dir, ec);
  if (ec) return InvalidArgumentError(fmt::format("bad directory {}: {}", dir, ec.message()));
  if (fs::exists(target, ec)) {
    if (!fs::is_directory(target, ec)) {
      return InvalidArgumentError(fmt::format("{} exists and is not a directory", dir));
    }
    if (!fs::is_empty(target, ec)) {
      return FailedPreconditionError(
          fmt::format("{} is not empty: import only creates a new journal", dir));
    }
  }
  const fs::path parent = target.parent_path();
  if (!fs::is_directory(parent, ec)) {
    return NotFoundError(fmt::format("no directory {} to import into", parent.string()));
  }
  std::string staging = (parent / ("." + target.filename().string() + ".import-XXXXXX")).string();
  if (mkdtemp(staging.data()) == nullptr) {
    return UnavailableError(fmt::format("cannot create a staging directory next to {}", dir));
  }
  ImportSummary summary;
  Status status = [&]() -> Status {
    journal::Options options;
    options.mode = journal::OpenMode::kWriter;
    options.durability = journal::Durability::kSync;
    BURROW_ASSIGN_OR_RETURN(std::unique_ptr<journal::Journal> journal,
                            journal::Journal::Open(staging, options));
    Importer importer(*journal);
    BURROW_RETURN_IF_ERROR(importer.Run(in));
    summary = importer.summary();
    return OkStatus();
  }();
  if (status.ok()) {
    // Re-read what was written (the writer flushed at close) as a reader will see it.
    auto reader = OpenReader(staging, /*follower=*/false);
    if (!reader.ok()) {
      status = reader.status();
    } else {
      summary.first_seq = (*reader)->FirstSequence();
      summary.last_seq = (*reader)->LastSequence();
    }
  }
  if (status.ok()) {
    fs::rename(staging, target, ec);
    if (ec) {
      status = UnavailableError(
          fmt::format("cannot move the imported journal into {}: {}", dir, ec.message()));
    }
  }
  if (!status.ok()) {
    fs::remove_all(staging, ec);
    return status;
  }
  return summary;
}

}  // namespace burrow::inspect
