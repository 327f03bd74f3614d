// The workloads of `burrow bench`: the baselines Burrow is measured against, and Burrow's own.
//
// Every workload writes the same records: a 16-byte big-endian key (producer index, then the
// producer's record counter) where the store has keys, and a 200-byte value of fixed
// pseudo-random bytes (RecordValue()), so compression flatters none of them. All of them are
// durable: an operation returns only after its records are fsynced.
#pragma once

#include <cstdint>
#include <string>

#include "tools/bench/harness.h"

namespace burrow::bench {

inline constexpr size_t kKeyBytes = 16;
inline constexpr size_t kValueBytes = 200;
inline constexpr size_t kRawRecordBytes = 256;  // the fdatasync floor's record
inline constexpr int kRecordsPerBatch = 128;    // raw batched RocksDB's WriteBatch

// The 200-byte value every keyed workload writes (the same bytes on every call).
const std::string& RecordValue();
// The 16-byte big-endian key of `producer`'s record number `counter`.
std::string RecordKey(uint64_t producer, uint64_t counter);

// "fdatasync": each producer appends 256-byte records to its own file, with fdatasync after
// each. The device floor: no durable store does better with one flush per record.
WorkloadSpec FdatasyncFloor();

// "naive_rocksdb": one RocksDB Put with WriteOptions::sync per record, every producer on one
// shared DB (so with several producers RocksDB's own group commit shares fsyncs among them).
WorkloadSpec NaiveRocksDb();

// "raw_batched_rocksdb": one synced RocksDB WriteBatch of kRecordsPerBatch records per
// operation (throughput counts records; latency is per batch). What batching alone can reach.
WorkloadSpec RawBatchedRocksDb();

// "sqlite": SQLite in WAL mode with synchronous=FULL, one INSERT transaction per record, one
// connection per producer (busy_timeout 10 s, BEGIN IMMEDIATE) on one database file.
WorkloadSpec SqliteWal();

// "journal": Burrow's journal (journal::Journal, Durability::kSync), one Append of a batch of
// one 200-byte record per operation, on stream "s<producer>"; concurrent producers rely on the
// journal's group commit.
WorkloadSpec BurrowJournal();

// "journal_async": the same records through Journal::AppendAsync. Each producer keeps one append
// in flight and starts its next from the previous one's completion, so P producers are P
// appends in flight driven from one thread, not P threads (the shape of an event loop's load).
WorkloadSpec BurrowJournalAsync();

// "burrow": the full engine. A host::Host over a journal with Durability::kSync and the host's
// default options (snapshots every 1,000 records of a session, checkpoints every 100,000 records,
// both taken as in production). Producer i owns session SessionId(i), registered (untimed) when
// the producer is made; one operation is one host command deciding one transition (StartRun and
// FinishRun alternately: decide -> journal -> publish -> effects), i.e. one record durable
// before the command returns. One thread per session; concurrent sessions share fsyncs through
// the journal's group commit.
WorkloadSpec BurrowHost();

// "burrow_async": the same sessions and commands through host::Host::Submit. Each producer (one
// session) keeps one command in flight and submits the next from the previous one's completion,
// all driven from one thread; the host runs submitted commands in groups whose steps share one
// journal batch.
WorkloadSpec BurrowHostAsync();

}  // namespace burrow::bench
