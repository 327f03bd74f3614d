// A check of RocksDB's write-ahead log files before the journal opens them (private to
// journal/).
//
// Why: the journal opens RocksDB with point-in-time WAL recovery, which stops replaying at the
// first damaged WAL record and silently drops everything after it. That is right for a torn tail
// (the batch being written at a crash, never acknowledged) and wrong for damage in the middle of
// the log, where the records after the damage were acknowledged. This check tells the two apart
// before RocksDB replays anything: a damaged physical record followed by an intact one (later in
// the same file, or in a later WAL file) is damage, and the open is refused naming the file and
// offset. A damaged or incomplete record with nothing intact after it is a tail; it is reported
// (RocksDB discards it), because it is also what damage to the very last batch looks like.
//
// The format is RocksDB's log format (db/log_format.h, stable since leveldb): 32 KiB blocks of
// physical records, each a 7-byte header — masked crc32c of type + payload (u32 LE), payload
// length (u16 LE), type (u8) — and the payload; a block's last < 7 bytes are zero padding.
#pragma once

#include <optional>
#include <string>

#include "base/status.h"
#include "journal/journal.h"

namespace rocksdb {
class Env;
}

namespace burrow::journal {

struct WalCheck {
  // A damaged or incomplete last record (torn write, or damage to the last batch): RocksDB
  // discards it. Damage::seq is 0; key_hex names the file and offset.
  std::optional<Damage> discarded_tail;
};

// Errors: DataLoss (a damaged record with intact records after it; the message names the file,
// the offset and the first intact record after it), Unavailable (cannot list or read the files).
Result<WalCheck> CheckWalFiles(rocksdb::Env* env, const std::string& dir);

}  // namespace burrow::journal
