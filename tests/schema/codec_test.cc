#include "schema/codec.h"

#include <capnp/any.h>
#include <capnp/message.h>
#include <capnp/schema.h>
#include <capnp/serialize.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <set>

#include "schema/journal.capnp.h"

namespace burrow::schema {
namespace {

namespace m = ::burrow::machine;
using ::testing::HasSubstr;

// One input of every kind, every field set to a non-default value.
std::vector<m::Input> EveryInputKind() {
  const m::BindingObservation full{"rt-1", 7, 9, "ep-3"};
  return {
      m::Initialize{},
      m::RegisterSession{"s-1"},
      m::PrepareBindings{"s-1", "rt-1", 42, 7, "ep-1"},
      m::EnsureSessionWithExecutor{"s-1"},
      m::StartRun{"run-1"},
      m::FinishRun{"run-1", m::RunOutcome::kCancelled},
      m::Retire{},
      m::Reset{},
      m::StopRuntimeExecutor{"operator asked"},
      m::RuntimeExecutorExited{},
      m::Destroy{},
      m::BeginUnregisterSession{"s-1", full},
      m::RuntimeLoopStoppedForUnregister{"s-1", true},
      m::CommsDrainExitedForUnregister{"s-1", true},
      m::CompletionWaitersResolvedForUnregister{"s-1"},
      m::UnregisterSession{"s-1", full},
      m::SetPeerIngressContext{true},
      m::AttachSessionIngress{"tr-1"},
      m::AttachMobIngress{"tr-1", "mob-1"},
      m::DetachIngress{},
      m::SpawnDrain{m::DrainMode::kAttachedSession},
      m::StopDrain{},
      m::NotifyDrainExited{m::DrainExitReason::kSessionShutdown},
  };
}

std::vector<m::Effect> EveryEffect() {
  std::vector<m::Effect> effects;
  for (int i = 0; i < m::kEffectCount; ++i) effects.push_back(static_cast<m::Effect>(i));
  return effects;
}

RecordEnvelope Envelope(Payload payload) {
  RecordEnvelope record;
  record.session_id = "session-\xce\xbb";
  record.session_seq = 12;
  record.incarnation = 3;
  record.wall_time_us = -1'234'567;  // before the epoch: signedness survives
  record.payload = std::move(payload);
  return record;
}

RecordEnvelope RoundTrip(const RecordEnvelope& record, uint64_t seq = 77) {
  auto decoded = DecodeRecord(seq, EncodeRecord(record));
  EXPECT_TRUE(decoded.ok()) << decoded.status();
  return decoded.ok() ? *decoded : RecordEnvelope{};
}

m::State FullyPopulatedState() {
  m::State s;
  s.phase = m::Phase::kRunning;
  s.session_id = "s-1";
  s.runtime_id = "rt-1";
  s.epoch_id = "ep-1";
  s.fence_token = 0;  // present and zero is not absent
  s.generation = ~uint64_t{0};
  s.current_run_id = "run-1";
  s.pre_run_phase = m::Phase::kRetired;
  s.stop_deferred = true;
  s.registration_phase = m::RegistrationPhase::kDraining;
  s.unregister_runtime_loop_pending = true;
  s.unregister_comms_drain_pending = true;
  s.unregister_waiters_pending = true;
  s.unregister_retains_snapshot = true;
  s.runtime_loop_forced_abort = true;
  s.comms_drain_forced_abort = true;
  s.drain_phase = m::DrainPhase::kExitedRespawnable;
  s.drain_mode = m::DrainMode::kPersistentHost;
  s.ingress_owner = m::IngressOwner::kMobOwned;
  s.ingress_transport_id = "";  // present and empty is not absent
  s.ingress_mob_id = "mob-1";
  s.keep_alive = true;
  return s;
}

TEST(CodecTest, EveryInputKindRoundTripsInATransitionRecord) {
  const auto inputs = EveryInputKind();
  std::set<size_t> kinds;
  for (const auto& input : inputs) kinds.insert(input.index());
  ASSERT_EQ(kinds.size(), static_cast<size_t>(m::kInputKindCount)) << "a kind is missing";
  ASSERT_EQ(inputs.size(), static_cast<size_t>(m::kInputKindCount));

  for (const auto& input : inputs) {
    const auto record =
        Envelope(TransitionRecord{input, "SomeTransition", EveryEffect(), 0xfedcba9876543210ull});
    const auto decoded = RoundTrip(record);
    EXPECT_EQ(decoded,
              [&] {
                auto expected = record;
                expected.seq = 77;
                return expected;
              }())
        << "input kind " << input.index();
    EXPECT_EQ(std::get<TransitionRecord>(decoded.payload).input.index(), input.index());
  }
}

TEST(CodecTest, AbsentOptionalFieldsOfInputsStayAbsent) {
  const std::vector<m::Input> inputs = {
      m::PrepareBindings{"s-1", "rt-1", 0, std::nullopt, std::nullopt},
      m::PrepareBindings{"s-1", "rt-1", 1, 0, ""},
      m::BeginUnregisterSession{"s-1", m::BindingObservation{}},
      m::UnregisterSession{"", m::BindingObservation{"", 0, std::nullopt, ""}},
  };
  for (const auto& input : inputs) {
    const auto record = Envelope(TransitionRecord{input, "T", {}, 0});
    EXPECT_EQ(std::get<TransitionRecord>(RoundTrip(record).payload).input, input);
  }
}

TEST(CodecTest, EveryEnumerantOfInputsRoundTrips) {
  std::vector<m::Input> inputs;
  for (int i = 0; i <= 2; ++i) inputs.push_back(m::FinishRun{"r", static_cast<m::RunOutcome>(i)});
  for (int i = 0; i <= 2; ++i) inputs.push_back(m::SpawnDrain{static_cast<m::DrainMode>(i)});
  for (int i = 0; i <= 4; ++i) {
    inputs.push_back(m::NotifyDrainExited{static_cast<m::DrainExitReason>(i)});
  }
  for (const auto& input : inputs) {
    const auto record = Envelope(TransitionRecord{input, "T", {}, 0});
    EXPECT_EQ(std::get<TransitionRecord>(RoundTrip(record).payload).input, input);
  }
}

constexpr char kBinaryBody[] = "body with \0 inside and \xff";

TEST(CodecTest, EveryPayloadKindRoundTrips) {
  std::vector<Payload> payloads = {
      TransitionRecord{
          m::RegisterSession{"s-1"}, "RegisterSession", {m::Effect::kRuntimeBound}, 42},
      InboxAppended{"msg-1", "peer-a", std::string(kBinaryBody, sizeof(kBinaryBody) - 1), 5},
      MessageDelivered{"msg-1", 5, 9},
      DrainTaskEnded{9, TaskCause::kAbandoned},
      RecoveryMarker{1, 2, 3, 4, 5},
  };
  for (int i = 0; i <= static_cast<int>(TaskCause::kAbandoned); ++i) {
    payloads.push_back(DrainTaskStarted{static_cast<uint64_t>(i) + 1, static_cast<TaskCause>(i),
                                        "transport-" + std::to_string(i)});
    payloads.push_back(DrainTaskEnded{static_cast<uint64_t>(i) + 1, static_cast<TaskCause>(i)});
  }
  std::set<size_t> kinds;
  for (const auto& payload : payloads) {
    kinds.insert(payload.index());
    auto record = Envelope(payload);
    auto decoded = RoundTrip(record, 1);
    record.seq = 1;
    EXPECT_EQ(decoded, record) << PayloadKindName(payload);
  }
  EXPECT_EQ(kinds.size(), std::variant_size_v<Payload>);
}

// RecordDecoder reads word-aligned bytes where they are and copies other bytes first: both give
// the same record, and one decoder reused across records of different kinds (as replay reuses
// it) keeps nothing of the record before.
TEST(CodecTest, RecordDecoderReadsAlignedAndUnalignedBytesAlike) {
  const std::vector<RecordEnvelope> records = {
      Envelope(TransitionRecord{m::StartRun{"run-1"}, "StartRun", {}, 7}),
      Envelope(InboxAppended{"msg-1", "peer-a", "body", 0}),
      Envelope(TransitionRecord{
          m::RegisterSession{"s-1"}, "RegisterSession", {m::Effect::kRuntimeBound}, 42}),
  };
  RecordDecoder decoder;
  RecordEnvelope out;
  for (const RecordEnvelope& record : records) {
    const std::string bytes = EncodeRecord(record);
    std::vector<uint64_t> words(bytes.size() / sizeof(uint64_t));
    std::memcpy(words.data(), bytes.data(), bytes.size());
    const std::string shifted = "x" + bytes;
    const std::string_view aligned(reinterpret_cast<const char*>(words.data()), bytes.size());
    const std::string_view unaligned = std::string_view(shifted).substr(1);
    ASSERT_NE(reinterpret_cast<uintptr_t>(unaligned.data()) % alignof(uint64_t), 0u);
    RecordEnvelope expected = record;
    expected.seq = 9;
    for (std::string_view view : {aligned, unaligned, aligned}) {
      ASSERT_TRUE(decoder.Decode(9, view, out).ok());
      EXPECT_EQ(out, expected) << PayloadKindName(record.payload);
    }
  }
}

TEST(CodecTest, HostWideRecordWithEmptySessionRoundTrips) {
  RecordEnvelope record;
  record.payload = RecoveryMarker{};
  auto decoded = RoundTrip(record, 3);
  record.seq = 3;
  EXPECT_EQ(decoded, record);
  EXPECT_EQ(decoded.version, kRecordVersion);
}

TEST(CodecTest, LargeInboxBodyRoundTripsAsOneSegment) {
  const std::string body(1 << 20, 'x');
  const auto record = Envelope(InboxAppended{"m", "f", body, 0});
  const std::string bytes = EncodeRecord(record);
  uint32_t segments_minus_one = 0;
  std::memcpy(&segments_minus_one, bytes.data(), 4);
  EXPECT_EQ(segments_minus_one, 0u);
  EXPECT_EQ(std::get<InboxAppended>(RoundTrip(record).payload).body, body);
}

TEST(CodecTest, EncodeIgnoresSeqAndVersionFields) {
  auto record = Envelope(RecoveryMarker{});
  auto other = record;
  other.seq = 999;
  other.version = 7;
  EXPECT_EQ(EncodeRecord(record), EncodeRecord(other));
}

TEST(CodecTest, FullyPopulatedSnapshotRoundTrips) {
  AuthoritySnapshot snapshot;
  snapshot.session_id = "s-1";
  snapshot.covered_seq = 1000;
  snapshot.session_seq = 17;
  snapshot.state = FullyPopulatedState();
  snapshot.incarnation = 4;
  snapshot.inbox_count = 30;
  snapshot.delivered_count = 29;
  auto decoded = DecodeSnapshot(EncodeSnapshot(snapshot));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, snapshot);
}

TEST(CodecTest, InitialStateSnapshotRoundTrips) {
  AuthoritySnapshot snapshot;  // every optional absent, every enum at zero
  auto decoded = DecodeSnapshot(EncodeSnapshot(snapshot));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, snapshot);
}

TEST(CodecTest, EveryStateEnumerantRoundTrips) {
  for (int phase = 0; phase < m::kPhaseCount; ++phase) {
    for (int other = 0; other <= 3; ++other) {
      AuthoritySnapshot snapshot;
      snapshot.state.phase = static_cast<m::Phase>(phase);
      snapshot.state.pre_run_phase = static_cast<m::Phase>((phase + other) % m::kPhaseCount);
      snapshot.state.drain_phase = static_cast<m::DrainPhase>(other);
      snapshot.state.registration_phase = static_cast<m::RegistrationPhase>(other % 3);
      snapshot.state.drain_mode = static_cast<m::DrainMode>(other % 3);
      snapshot.state.ingress_owner = static_cast<m::IngressOwner>(other % 3);
      auto decoded = DecodeSnapshot(EncodeSnapshot(snapshot));
      ASSERT_TRUE(decoded.ok()) << decoded.status();
      EXPECT_EQ(*decoded, snapshot);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Malformed bytes are DataLoss.

void ExpectDataLoss(std::string_view bytes, std::string_view what_substring = "") {
  auto decoded = DecodeRecord(5, bytes);
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.status().code(), StatusCode::kDataLoss) << decoded.status();
  EXPECT_THAT(decoded.status().message(), HasSubstr("record 5"));
  EXPECT_THAT(decoded.status().message(), HasSubstr(std::string(what_substring)));
}

TEST(CodecTest, EmptyAndUnalignedBytesAreDataLoss) {
  ExpectDataLoss("", "whole");
  ExpectDataLoss("1234567", "whole");
  ExpectDataLoss(EncodeRecord(Envelope(RecoveryMarker{})) + "x", "whole");
  EXPECT_EQ(DecodeSnapshot("abc").status().code(), StatusCode::kDataLoss);
}

TEST(CodecTest, GarbageIsDataLoss) {
  ExpectDataLoss(std::string(64, '\xff'), "malformed");
  // Segment table: 1 segment of 1000 words, but only one word follows.
  std::string short_segment("\x00\x00\x00\x00\xe8\x03\x00\x00", 8);
  short_segment += std::string(8, '\0');
  ExpectDataLoss(short_segment, "malformed");
}

TEST(CodecTest, EveryTruncationIsDataLoss) {
  const std::string bytes = EncodeRecord(Envelope(TransitionRecord{
      m::BeginUnregisterSession{"s-1", {"rt", 1, 2, "ep"}}, "T", EveryEffect(), 1}));
  for (size_t n = 0; n < bytes.size(); ++n) {
    auto decoded = DecodeRecord(5, std::string_view(bytes).substr(0, n));
    ASSERT_FALSE(decoded.ok()) << "prefix of " << n << " bytes decoded";
    EXPECT_EQ(decoded.status().code(), StatusCode::kDataLoss) << decoded.status();
  }
}

TEST(CodecTest, TrailingWordsAreDataLoss) {
  ExpectDataLoss(EncodeRecord(Envelope(RecoveryMarker{})) + std::string(8, '\0'), "trailing");
}

TEST(CodecTest, FlippedBytesNeverCrashAndFailAsDataLoss) {
  const std::string bytes = EncodeRecord(Envelope(
      TransitionRecord{m::PrepareBindings{"s-1", "rt-1", 3, 4, "e"}, "T", EveryEffect(), 1}));
  int failures = 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (uint8_t mask : {0x01, 0x80, 0xff}) {
      std::string damaged = bytes;
      damaged[i] = static_cast<char>(damaged[i] ^ mask);
      auto decoded = DecodeRecord(5, damaged);
      if (!decoded.ok()) {
        EXPECT_EQ(decoded.status().code(), StatusCode::kDataLoss) << decoded.status();
        ++failures;
      }
    }
  }
  // Structural bytes (segment table, pointers, discriminants) are detected; the journal's
  // checksum catches the rest.
  EXPECT_GT(failures, 0);
}

// Writes `which` over the discriminant of the union that `Schema` declares, in `any`'s data
// section (Cap'n Proto stores discriminants as u16 at discriminantOffset * 2 bytes).
template <typename Schema, typename StructBuilder>
void SetDiscriminant(StructBuilder builder, uint16_t which) {
  capnp::AnyStruct::Builder any(kj::mv(builder));
  const auto offset =
      capnp::Schema::from<Schema>().getProto().getStruct().getDiscriminantOffset() * 2;
  auto data = any.getDataSection();
  ASSERT_LE(offset + 2, data.size());
  data[offset] = static_cast<kj::byte>(which & 0xff);
  data[offset + 1] = static_cast<kj::byte>(which >> 8);
}

std::string Bytes(capnp::MessageBuilder& message) {
  auto words = capnp::messageToFlatArray(message);
  auto bytes = words.asBytes();
  return std::string(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
}

TEST(CodecTest, UnknownPayloadKindIsDataLoss) {
  capnp::MallocMessageBuilder message;
  auto root = message.initRoot<wire::RecordEnvelope>();
  root.setVersion(kRecordVersion);
  root.getPayload().initRecoveryMarker();
  SetDiscriminant<wire::RecordEnvelope::Payload>(root, 99);
  ExpectDataLoss(Bytes(message), "unknown payload kind 99");
}

TEST(CodecTest, UnknownInputKindIsDataLoss) {
  capnp::MallocMessageBuilder message;
  auto root = message.initRoot<wire::RecordEnvelope>();
  root.setVersion(kRecordVersion);
  auto input = root.getPayload().initTransition().initInput();
  input.initStopDrain();
  SetDiscriminant<wire::Input>(input, 23);
  ExpectDataLoss(Bytes(message), "unknown input kind 23");
}

TEST(CodecTest, UnknownEnumerantIsDataLoss) {
  capnp::MallocMessageBuilder message;
  auto root = message.initRoot<wire::RecordEnvelope>();
  root.setVersion(kRecordVersion);
  auto effects = root.getPayload().initTransition().initEffects(2);
  effects.set(0, wire::Effect::SPAWN_DRAIN_TASK);
  effects.set(1, static_cast<wire::Effect>(11));
  ExpectDataLoss(Bytes(message), "unknown Effect value 11");

  capnp::MallocMessageBuilder snapshot_message;
  auto snapshot = snapshot_message.initRoot<wire::AuthoritySnapshot>();
  snapshot.setVersion(kRecordVersion);
  snapshot.initState().setPhase(static_cast<wire::Phase>(7));
  auto decoded = DecodeSnapshot(Bytes(snapshot_message));
  EXPECT_EQ(decoded.status().code(), StatusCode::kDataLoss);
  EXPECT_THAT(decoded.status().message(), HasSubstr("unknown Phase value 7"));
}

TEST(CodecTest, UnknownPresenceOfAnOptionalIsDataLoss) {
  capnp::MallocMessageBuilder message;
  auto snapshot = message.initRoot<wire::AuthoritySnapshot>();
  snapshot.setVersion(kRecordVersion);
  auto state = snapshot.initState();
  state.getDrainMode().setValue(wire::DrainMode::TIMED);
  SetDiscriminant<wire::State::DrainMode>(state, 2);
  auto decoded = DecodeSnapshot(Bytes(message));
  EXPECT_EQ(decoded.status().code(), StatusCode::kDataLoss);
  EXPECT_THAT(decoded.status().message(), HasSubstr("state.drainMode"));
}

TEST(CodecTest, NewerOrZeroVersionIsDataLoss) {
  for (uint32_t version : {kRecordVersion + 1, 0u}) {
    capnp::MallocMessageBuilder message;
    auto root = message.initRoot<wire::RecordEnvelope>();
    root.setVersion(version);
    root.getPayload().initRecoveryMarker();
    ExpectDataLoss(Bytes(message), "unsupported record version " + std::to_string(version));

    capnp::MallocMessageBuilder snapshot_message;
    snapshot_message.initRoot<wire::AuthoritySnapshot>().setVersion(version);
    EXPECT_EQ(DecodeSnapshot(Bytes(snapshot_message)).status().code(), StatusCode::kDataLoss);
  }
}

TEST(CodecTest, NamesAreSpelledForPeople) {
  EXPECT_EQ(Name(TaskCause::kCommand), "Command");
  EXPECT_EQ(Name(TaskCause::kRecovery), "Recovery");
  EXPECT_EQ(Name(TaskCause::kRespawn), "Respawn");
  EXPECT_EQ(Name(TaskCause::kReplaced), "Replaced");
  EXPECT_EQ(Name(TaskCause::kIdleTimeout), "IdleTimeout");
  EXPECT_EQ(Name(TaskCause::kFailed), "Failed");
  EXPECT_EQ(Name(TaskCause::kCancelled), "Cancelled");
  EXPECT_EQ(Name(TaskCause::kAbandoned), "Abandoned");

  EXPECT_EQ(PayloadKindName(TransitionRecord{}), "Transition");
  EXPECT_EQ(PayloadKindName(InboxAppended{}), "InboxAppended");
  EXPECT_EQ(PayloadKindName(MessageDelivered{}), "MessageDelivered");
  EXPECT_EQ(PayloadKindName(DrainTaskStarted{}), "DrainTaskStarted");
  EXPECT_EQ(PayloadKindName(DrainTaskEnded{}), "DrainTaskEnded");
  EXPECT_EQ(PayloadKindName(RecoveryMarker{}), "RecoveryMarker");
}

}  // namespace
}  // namespace burrow::schema
