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
class Encoder {
 public:
  Encoder() { out_.reserve(128); }  // a typical state encodes to well under 128 bytes

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
    out_.append(s);
  }
  template <typename T>
  void Put(const std::optional<T>& v) {
    Put(v.has_value());
    if (v.has_value()) Put(*v);
  }

  std::string Take() { return std::move(out_); }

 private:
  void Byte(uint8_t b) { out_.push_back(static_cast<char>(b)); }
  void LittleEndian(uint64_t v, int bytes) {
    char buf[8];
    for (int i = 0; i < bytes; ++i) buf[i] = static_cast<char>(static_cast<uint8_t>(v >> (8 * i)));
    out_.append(buf, static_cast<size_t>(bytes));
  }

  std::string out_;
};

}  // namespace

std::string CanonicalEncoding(const State& s) {
  Encoder e;
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
  return e.Take();
}

// FNV-1a, 64-bit: offset basis 0xcbf29ce484222325, prime 0x100000001b3.
uint64_t Digest(const State& state) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (char c : CanonicalEncoding(state)) {
    hash ^= static_cast<uint8_t>(c);
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

}  // namespace burrow::machine
