// The canonical encoding of a State and its digest. The byte layout and the hash are specified
// in engine/machine/DIGEST.md; machine_test pins the document's worked examples to this code.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "engine/machine/machine.h"

namespace burrow::machine {
namespace {

// Appends fields in the DIGEST.md layout: enums and bools as one byte, u32 and u64 little
// endian, strings as a u32 length and the bytes, optionals as a presence byte and the value.
// `Sink` receives the bytes: a string for CanonicalEncoding, the hash itself for Digest (which
// runs on every record replayed, so it must not allocate).
template <typename Sink>
class Encoder {
 public:
  explicit Encoder(Sink& sink) : sink_(sink) {}

  void Put(bool b) { Byte(b ? 1 : 0); }
  template <typename E>
  requires std::is_enum_v<E>
  void Put(E e) {
    static_assert(sizeof(E) == 1, "enums are encoded as one byte");
    Byte(static_cast<uint8_t>(e));
  }
  void Put(uint64_t v) { LittleEndian(v, 8); }
  void Put(std::string_view s) {
    LittleEndian(static_cast<uint32_t>(s.size()), 4);
    sink_.Append(s.data(), s.size());
  }
  template <typename T>
  void Put(const std::optional<T>& v) {
    Put(v.has_value());
    if (v.has_value()) Put(*v);
  }

 private:
  void Byte(uint8_t b) {
    const char c = static_cast<char>(b);
    sink_.Append(&c, 1);
  }
  void LittleEndian(uint64_t v, int bytes) {
    char buf[8];
    for (int i = 0; i < bytes; ++i) buf[i] = static_cast<char>(static_cast<uint8_t>(v >> (8 * i)));
    sink_.Append(buf, static_cast<size_t>(bytes));
  }

  Sink& sink_;
};

struct StringSink {
  std::string out;
  void Append(const char* p, size_t n) { out.append(p, n); }
};

// FNV-1a, 64-bit: offset basis 0xcbf29ce484222325, prime 0x100000001b3.
struct FnvSink {
  uint64_t hash = 0xcbf29ce484222325ULL;
  void Append(const char* p, size_t n) {
    for (size_t i = 0; i < n; ++i) {
      hash ^= static_cast<uint8_t>(p[i]);
      hash *= 0x100000001b3ULL;
    }
  }
};

template <typename Sink>
void Encode(const State& s, Sink& sink) {
  Encoder<Sink> e(sink);
  e.Put(s.phase);
  e.Put(s.session_id);
  e.Put(s.runtime_id);
  e.Put(s.epoch_id);
  e.Put(s.fence_token);
  e.Put(s.generation);
  e.Put(s.current_run_id);
  e.Put(s.pre_run_phase);
  e.Put(s.stop_deferred);
  e.Put(s.registration_phase);
  e.Put(s.unregister_runtime_loop_pending);
  e.Put(s.unregister_comms_drain_pending);
  e.Put(s.unregister_waiters_pending);
  e.Put(s.unregister_retains_snapshot);
  e.Put(s.runtime_loop_forced_abort);
  e.Put(s.comms_drain_forced_abort);
  e.Put(s.drain_phase);
  e.Put(s.drain_mode);
  e.Put(s.ingress_owner);
  e.Put(s.ingress_transport_id);
  e.Put(s.ingress_mob_id);
  e.Put(s.keep_alive);
}

}  // namespace

std::string CanonicalEncoding(const State& s) {
  StringSink sink;
  sink.out.reserve(128);  // a typical state encodes to well under 128 bytes
  Encode(s, sink);
  return std::move(sink.out);
}

// Hashes the canonical encoding as it is produced, without materialising it (same bytes, same
// hash: machine_test pins DIGEST.md's worked examples).
uint64_t Digest(const State& state) {
  FnvSink sink;
  Encode(state, sink);
  return sink.hash;
}

}  // namespace burrow::machine
