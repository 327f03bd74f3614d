// Cap'n Proto <-> schema/records.h.
//
// Exceptions: Cap'n Proto reports a malformed message by throwing kj::Exception (it validates
// lazily, inside each getter). STYLE.md keeps exceptions inside engine/rpc, where kj throws
// anyway; the codec is the one other place kj runs, so it catches kj::Exception at its
// boundary (DecodeRecord / DecodeSnapshot) and turns it into DataLoss. Nothing thrown leaves
// this file. Problems Cap'n Proto cannot see (an enumerant or union member this build does not
// know, a newer version) are collected by a Decoder and reported the same way.
#include "schema/codec.h"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <fmt/format.h>
#include <kj/array.h>
#include <kj/exception.h>

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "schema/journal.capnp.h"

namespace burrow::schema {
namespace {

namespace m = ::burrow::machine;

// ---------------------------------------------------------------------------------------------
// Ordinals: every wire enumerant equals its C++ value, and every Input discriminant equals the
// InputKind (and the Input variant index) of its struct. A mismatch does not compile.

#define BURROW_SAME_ORDINAL(wire_value, cpp_value)                                     \
  static_assert(static_cast<unsigned>(wire_value) == static_cast<unsigned>(cpp_value), \
                #wire_value " != " #cpp_value)

BURROW_SAME_ORDINAL(wire::Phase::INITIALIZING, m::Phase::kInitializing);
BURROW_SAME_ORDINAL(wire::Phase::IDLE, m::Phase::kIdle);
BURROW_SAME_ORDINAL(wire::Phase::ATTACHED, m::Phase::kAttached);
BURROW_SAME_ORDINAL(wire::Phase::RUNNING, m::Phase::kRunning);
BURROW_SAME_ORDINAL(wire::Phase::RETIRED, m::Phase::kRetired);
BURROW_SAME_ORDINAL(wire::Phase::STOPPED, m::Phase::kStopped);
BURROW_SAME_ORDINAL(wire::Phase::DESTROYED, m::Phase::kDestroyed);
static_assert(m::kPhaseCount == 7, "a new Phase needs a wire enumerant");

BURROW_SAME_ORDINAL(wire::RegistrationPhase::QUEUING, m::RegistrationPhase::kQueuing);
BURROW_SAME_ORDINAL(wire::RegistrationPhase::ACTIVE, m::RegistrationPhase::kActive);
BURROW_SAME_ORDINAL(wire::RegistrationPhase::DRAINING, m::RegistrationPhase::kDraining);

BURROW_SAME_ORDINAL(wire::DrainPhase::INACTIVE, m::DrainPhase::kInactive);
BURROW_SAME_ORDINAL(wire::DrainPhase::RUNNING, m::DrainPhase::kRunning);
BURROW_SAME_ORDINAL(wire::DrainPhase::STOPPED, m::DrainPhase::kStopped);
BURROW_SAME_ORDINAL(wire::DrainPhase::EXITED_RESPAWNABLE, m::DrainPhase::kExitedRespawnable);

BURROW_SAME_ORDINAL(wire::DrainMode::TIMED, m::DrainMode::kTimed);
BURROW_SAME_ORDINAL(wire::DrainMode::ATTACHED_SESSION, m::DrainMode::kAttachedSession);
BURROW_SAME_ORDINAL(wire::DrainMode::PERSISTENT_HOST, m::DrainMode::kPersistentHost);

BURROW_SAME_ORDINAL(wire::IngressOwner::UNATTACHED, m::IngressOwner::kUnattached);
BURROW_SAME_ORDINAL(wire::IngressOwner::SESSION_OWNED, m::IngressOwner::kSessionOwned);
BURROW_SAME_ORDINAL(wire::IngressOwner::MOB_OWNED, m::IngressOwner::kMobOwned);

BURROW_SAME_ORDINAL(wire::RunOutcome::COMMITTED, m::RunOutcome::kCommitted);
BURROW_SAME_ORDINAL(wire::RunOutcome::FAILED, m::RunOutcome::kFailed);
BURROW_SAME_ORDINAL(wire::RunOutcome::CANCELLED, m::RunOutcome::kCancelled);

BURROW_SAME_ORDINAL(wire::DrainExitReason::IDLE_TIMEOUT, m::DrainExitReason::kIdleTimeout);
BURROW_SAME_ORDINAL(wire::DrainExitReason::DISMISSED, m::DrainExitReason::kDismissed);
BURROW_SAME_ORDINAL(wire::DrainExitReason::FAILED, m::DrainExitReason::kFailed);
BURROW_SAME_ORDINAL(wire::DrainExitReason::ABORTED, m::DrainExitReason::kAborted);
BURROW_SAME_ORDINAL(wire::DrainExitReason::SESSION_SHUTDOWN, m::DrainExitReason::kSessionShutdown);

BURROW_SAME_ORDINAL(wire::Effect::RUNTIME_BOUND, m::Effect::kRuntimeBound);
BURROW_SAME_ORDINAL(wire::Effect::RUN_STARTED, m::Effect::kRunStarted);
BURROW_SAME_ORDINAL(wire::Effect::RUN_FINISHED, m::Effect::kRunFinished);
BURROW_SAME_ORDINAL(wire::Effect::RUNTIME_RETIRED, m::Effect::kRuntimeRetired);
BURROW_SAME_ORDINAL(wire::Effect::STOP_RUNTIME, m::Effect::kStopRuntime);
BURROW_SAME_ORDINAL(wire::Effect::RUNTIME_DESTROYED, m::Effect::kRuntimeDestroyed);
BURROW_SAME_ORDINAL(wire::Effect::STOP_DRAIN_TASK, m::Effect::kStopDrainTask);
BURROW_SAME_ORDINAL(wire::Effect::REQUEST_RUNTIME_LOOP_STOP, m::Effect::kRequestRuntimeLoopStop);
BURROW_SAME_ORDINAL(wire::Effect::REQUEST_COMMS_DRAIN_EXIT, m::Effect::kRequestCommsDrainExit);
BURROW_SAME_ORDINAL(wire::Effect::REQUEST_WAITER_RESOLUTION, m::Effect::kRequestWaiterResolution);
BURROW_SAME_ORDINAL(wire::Effect::SPAWN_DRAIN_TASK, m::Effect::kSpawnDrainTask);
static_assert(m::kEffectCount == 11, "a new Effect needs a wire enumerant");

BURROW_SAME_ORDINAL(wire::TaskCause::COMMAND, TaskCause::kCommand);
BURROW_SAME_ORDINAL(wire::TaskCause::RECOVERY, TaskCause::kRecovery);
BURROW_SAME_ORDINAL(wire::TaskCause::RESPAWN, TaskCause::kRespawn);
BURROW_SAME_ORDINAL(wire::TaskCause::REPLACED, TaskCause::kReplaced);
BURROW_SAME_ORDINAL(wire::TaskCause::IDLE_TIMEOUT, TaskCause::kIdleTimeout);
BURROW_SAME_ORDINAL(wire::TaskCause::FAILED, TaskCause::kFailed);
BURROW_SAME_ORDINAL(wire::TaskCause::CANCELLED, TaskCause::kCancelled);
BURROW_SAME_ORDINAL(wire::TaskCause::ABANDONED, TaskCause::kAbandoned);

template <typename T, typename Variant, size_t I = 0>
constexpr size_t VariantIndexOf() {
  static_assert(I < std::variant_size_v<Variant>, "type is not an alternative");
  if constexpr (std::is_same_v<std::variant_alternative_t<I, Variant>, T>) {
    return I;
  } else {
    return VariantIndexOf<T, Variant, I + 1>();
  }
}

#define BURROW_INPUT_KIND(Type, WHICH)                                                          \
  BURROW_SAME_ORDINAL(wire::Input::WHICH, m::InputKind::k##Type);                               \
  static_assert(VariantIndexOf<m::Type, m::Input>() == static_cast<size_t>(wire::Input::WHICH), \
                "Input variant order != wire discriminant for " #Type)

BURROW_INPUT_KIND(Initialize, INITIALIZE);
BURROW_INPUT_KIND(RegisterSession, REGISTER_SESSION);
BURROW_INPUT_KIND(PrepareBindings, PREPARE_BINDINGS);
BURROW_INPUT_KIND(EnsureSessionWithExecutor, ENSURE_SESSION_WITH_EXECUTOR);
BURROW_INPUT_KIND(StartRun, START_RUN);
BURROW_INPUT_KIND(FinishRun, FINISH_RUN);
BURROW_INPUT_KIND(Retire, RETIRE);
BURROW_INPUT_KIND(Reset, RESET);
BURROW_INPUT_KIND(StopRuntimeExecutor, STOP_RUNTIME_EXECUTOR);
BURROW_INPUT_KIND(RuntimeExecutorExited, RUNTIME_EXECUTOR_EXITED);
BURROW_INPUT_KIND(Destroy, DESTROY);
BURROW_INPUT_KIND(BeginUnregisterSession, BEGIN_UNREGISTER_SESSION);
BURROW_INPUT_KIND(RuntimeLoopStoppedForUnregister, RUNTIME_LOOP_STOPPED_FOR_UNREGISTER);
BURROW_INPUT_KIND(CommsDrainExitedForUnregister, COMMS_DRAIN_EXITED_FOR_UNREGISTER);
BURROW_INPUT_KIND(CompletionWaitersResolvedForUnregister,
                  COMPLETION_WAITERS_RESOLVED_FOR_UNREGISTER);
BURROW_INPUT_KIND(UnregisterSession, UNREGISTER_SESSION);
BURROW_INPUT_KIND(SetPeerIngressContext, SET_PEER_INGRESS_CONTEXT);
BURROW_INPUT_KIND(AttachSessionIngress, ATTACH_SESSION_INGRESS);
BURROW_INPUT_KIND(AttachMobIngress, ATTACH_MOB_INGRESS);
BURROW_INPUT_KIND(DetachIngress, DETACH_INGRESS);
BURROW_INPUT_KIND(SpawnDrain, SPAWN_DRAIN);
BURROW_INPUT_KIND(StopDrain, STOP_DRAIN);
BURROW_INPUT_KIND(NotifyDrainExited, NOTIFY_DRAIN_EXITED);
static_assert(m::kInputKindCount == 23, "a new input kind needs a wire struct and union member");

#undef BURROW_INPUT_KIND
#undef BURROW_SAME_ORDINAL

// The last valid value of each C++ enum, for validating what the wire holds.
template <typename E>
struct EnumInfo;
template <>
struct EnumInfo<m::Phase> {
  static constexpr m::Phase kLast = m::Phase::kDestroyed;
  static constexpr std::string_view kName = "Phase";
};
template <>
struct EnumInfo<m::RegistrationPhase> {
  static constexpr m::RegistrationPhase kLast = m::RegistrationPhase::kDraining;
  static constexpr std::string_view kName = "RegistrationPhase";
};
template <>
struct EnumInfo<m::DrainPhase> {
  static constexpr m::DrainPhase kLast = m::DrainPhase::kExitedRespawnable;
  static constexpr std::string_view kName = "DrainPhase";
};
template <>
struct EnumInfo<m::DrainMode> {
  static constexpr m::DrainMode kLast = m::DrainMode::kPersistentHost;
  static constexpr std::string_view kName = "DrainMode";
};
template <>
struct EnumInfo<m::IngressOwner> {
  static constexpr m::IngressOwner kLast = m::IngressOwner::kMobOwned;
  static constexpr std::string_view kName = "IngressOwner";
};
template <>
struct EnumInfo<m::RunOutcome> {
  static constexpr m::RunOutcome kLast = m::RunOutcome::kCancelled;
  static constexpr std::string_view kName = "RunOutcome";
};
template <>
struct EnumInfo<m::DrainExitReason> {
  static constexpr m::DrainExitReason kLast = m::DrainExitReason::kSessionShutdown;
  static constexpr std::string_view kName = "DrainExitReason";
};
template <>
struct EnumInfo<m::Effect> {
  static constexpr m::Effect kLast = m::Effect::kSpawnDrainTask;
  static constexpr std::string_view kName = "Effect";
};
template <>
struct EnumInfo<TaskCause> {
  static constexpr TaskCause kLast = TaskCause::kAbandoned;
  static constexpr std::string_view kName = "TaskCause";
};

// ---------------------------------------------------------------------------------------------
// Writing.

// std::string guarantees a NUL after data()[size()], which capnp::Text::Reader requires.
capnp::Text::Reader Txt(const std::string& s) { return capnp::Text::Reader(s.c_str(), s.size()); }

template <typename Wire, typename Cpp>
Wire ToWire(Cpp value) {
  return static_cast<Wire>(static_cast<uint16_t>(value));
}

// `group` is a named union { none, value } builder.
template <typename Group>
void SetOptional(Group group, const std::optional<std::string>& value) {
  if (value) {
    group.setValue(Txt(*value));
  } else {
    group.setNone();
  }
}
template <typename Group>
void SetOptional(Group group, const std::optional<uint64_t>& value) {
  if (value) {
    group.setValue(*value);
  } else {
    group.setNone();
  }
}
template <typename Wire, typename Group, typename Cpp>
void SetOptionalEnum(Group group, const std::optional<Cpp>& value) {
  if (value) {
    group.setValue(ToWire<Wire>(*value));
  } else {
    group.setNone();
  }
}

void WriteBinding(wire::BindingObservation::Builder b, const m::BindingObservation& v) {
  SetOptional(b.getRuntimeId(), v.runtime_id);
  SetOptional(b.getFenceToken(), v.fence_token);
  SetOptional(b.getGeneration(), v.generation);
  SetOptional(b.getEpochId(), v.epoch_id);
}

void WriteState(wire::State::Builder b, const m::State& s) {
  b.setPhase(ToWire<wire::Phase>(s.phase));
  SetOptional(b.getSessionId(), s.session_id);
  SetOptional(b.getRuntimeId(), s.runtime_id);
  SetOptional(b.getEpochId(), s.epoch_id);
  SetOptional(b.getFenceToken(), s.fence_token);
  SetOptional(b.getGeneration(), s.generation);
  SetOptional(b.getCurrentRunId(), s.current_run_id);
  SetOptionalEnum<wire::Phase>(b.getPreRunPhase(), s.pre_run_phase);
  b.setStopDeferred(s.stop_deferred);
  b.setRegistrationPhase(ToWire<wire::RegistrationPhase>(s.registration_phase));
  b.setUnregisterRuntimeLoopPending(s.unregister_runtime_loop_pending);
  b.setUnregisterCommsDrainPending(s.unregister_comms_drain_pending);
  b.setUnregisterWaitersPending(s.unregister_waiters_pending);
  b.setUnregisterRetainsSnapshot(s.unregister_retains_snapshot);
  b.setRuntimeLoopForcedAbort(s.runtime_loop_forced_abort);
  b.setCommsDrainForcedAbort(s.comms_drain_forced_abort);
  b.setDrainPhase(ToWire<wire::DrainPhase>(s.drain_phase));
  SetOptionalEnum<wire::DrainMode>(b.getDrainMode(), s.drain_mode);
  b.setIngressOwner(ToWire<wire::IngressOwner>(s.ingress_owner));
  SetOptional(b.getIngressTransportId(), s.ingress_transport_id);
  SetOptional(b.getIngressMobId(), s.ingress_mob_id);
  b.setKeepAlive(s.keep_alive);
}

// One overload per input kind; std::visit fails to compile when a kind is missing.
struct InputWriter {
  wire::Input::Builder b;

  void operator()(const m::Initialize&) { b.initInitialize(); }
  void operator()(const m::RegisterSession& v) {
    b.initRegisterSession().setSessionId(Txt(v.session_id));
  }
  void operator()(const m::PrepareBindings& v) {
    auto w = b.initPrepareBindings();
    w.setSessionId(Txt(v.session_id));
    w.setRuntimeId(Txt(v.runtime_id));
    w.setFenceToken(v.fence_token);
    SetOptional(w.getGeneration(), v.generation);
    SetOptional(w.getEpochId(), v.epoch_id);
  }
  void operator()(const m::EnsureSessionWithExecutor& v) {
    b.initEnsureSessionWithExecutor().setSessionId(Txt(v.session_id));
  }
  void operator()(const m::StartRun& v) { b.initStartRun().setRunId(Txt(v.run_id)); }
  void operator()(const m::FinishRun& v) {
    auto w = b.initFinishRun();
    w.setRunId(Txt(v.run_id));
    w.setOutcome(ToWire<wire::RunOutcome>(v.outcome));
  }
  void operator()(const m::Retire&) { b.initRetire(); }
  void operator()(const m::Reset&) { b.initReset(); }
  void operator()(const m::StopRuntimeExecutor& v) {
    b.initStopRuntimeExecutor().setReason(Txt(v.reason));
  }
  void operator()(const m::RuntimeExecutorExited&) { b.initRuntimeExecutorExited(); }
  void operator()(const m::Destroy&) { b.initDestroy(); }
  void operator()(const m::BeginUnregisterSession& v) {
    auto w = b.initBeginUnregisterSession();
    w.setSessionId(Txt(v.session_id));
    WriteBinding(w.initBinding(), v.binding);
  }
  void operator()(const m::RuntimeLoopStoppedForUnregister& v) {
    auto w = b.initRuntimeLoopStoppedForUnregister();
    w.setSessionId(Txt(v.session_id));
    w.setForcedAbort(v.forced_abort);
  }
  void operator()(const m::CommsDrainExitedForUnregister& v) {
    auto w = b.initCommsDrainExitedForUnregister();
    w.setSessionId(Txt(v.session_id));
    w.setForcedAbort(v.forced_abort);
  }
  void operator()(const m::CompletionWaitersResolvedForUnregister& v) {
    b.initCompletionWaitersResolvedForUnregister().setSessionId(Txt(v.session_id));
  }
  void operator()(const m::UnregisterSession& v) {
    auto w = b.initUnregisterSession();
    w.setSessionId(Txt(v.session_id));
    WriteBinding(w.initBinding(), v.binding);
  }
  void operator()(const m::SetPeerIngressContext& v) {
    b.initSetPeerIngressContext().setKeepAlive(v.keep_alive);
  }
  void operator()(const m::AttachSessionIngress& v) {
    b.initAttachSessionIngress().setTransportId(Txt(v.transport_id));
  }
  void operator()(const m::AttachMobIngress& v) {
    auto w = b.initAttachMobIngress();
    w.setTransportId(Txt(v.transport_id));
    w.setMobId(Txt(v.mob_id));
  }
  void operator()(const m::DetachIngress&) { b.initDetachIngress(); }
  void operator()(const m::SpawnDrain& v) {
    b.initSpawnDrain().setMode(ToWire<wire::DrainMode>(v.mode));
  }
  void operator()(const m::StopDrain&) { b.initStopDrain(); }
  void operator()(const m::NotifyDrainExited& v) {
    b.initNotifyDrainExited().setReason(ToWire<wire::DrainExitReason>(v.reason));
  }
};

struct PayloadWriter {
  wire::RecordEnvelope::Payload::Builder b;

  void operator()(const TransitionRecord& v) {
    auto w = b.initTransition();
    std::visit(InputWriter{w.initInput()}, v.input);
    w.setTransition(Txt(v.transition));
    auto effects = w.initEffects(static_cast<unsigned>(v.effects.size()));
    for (unsigned i = 0; i < v.effects.size(); ++i) {
      effects.set(i, ToWire<wire::Effect>(v.effects[i]));
    }
    w.setStateDigest(v.state_digest);
  }
  void operator()(const InboxAppended& v) {
    auto w = b.initInboxAppended();
    w.setMessageId(Txt(v.message_id));
    w.setFrom(Txt(v.from));
    w.setBody(Txt(v.body));
    w.setInboxIndex(v.inbox_index);
  }
  void operator()(const MessageDelivered& v) {
    auto w = b.initMessageDelivered();
    w.setMessageId(Txt(v.message_id));
    w.setInboxIndex(v.inbox_index);
    w.setIncarnation(v.incarnation);
  }
  void operator()(const DrainTaskStarted& v) {
    auto w = b.initDrainTaskStarted();
    w.setIncarnation(v.incarnation);
    w.setCause(ToWire<wire::TaskCause>(v.cause));
    w.setTransportId(Txt(v.transport_id));
  }
  void operator()(const DrainTaskEnded& v) {
    auto w = b.initDrainTaskEnded();
    w.setIncarnation(v.incarnation);
    w.setCause(ToWire<wire::TaskCause>(v.cause));
  }
  void operator()(const RecoveryMarker& v) {
    auto w = b.initRecoveryMarker();
    w.setSessionsRebuilt(v.sessions_rebuilt);
    w.setDrainsRespawned(v.drains_respawned);
    w.setRecordsReplayed(v.records_replayed);
    w.setUnregistersFinished(v.unregisters_finished);
    w.setDurationUs(v.duration_us);
  }
};

// A first segment large enough for the whole message, so that even a 1 MiB inbox body is
// encoded as one segment: fixed-size parts (< 64 words for every struct here) plus each
// string's words with its terminating NUL.
unsigned WordsFor(const std::string& s) { return static_cast<unsigned>(s.size() / 8 + 1); }

unsigned EstimateWords(const RecordEnvelope& record) {
  unsigned words = 96 + WordsFor(record.session_id);
  if (const auto* t = std::get_if<TransitionRecord>(&record.payload)) {
    words += WordsFor(t->transition) + static_cast<unsigned>(t->effects.size() / 4 + 1) + 32;
  } else if (const auto* a = std::get_if<InboxAppended>(&record.payload)) {
    words += WordsFor(a->message_id) + WordsFor(a->from) + WordsFor(a->body);
  } else if (const auto* d = std::get_if<MessageDelivered>(&record.payload)) {
    words += WordsFor(d->message_id);
  } else if (const auto* s = std::get_if<DrainTaskStarted>(&record.payload)) {
    words += WordsFor(s->transport_id);
  }
  return words;
}

std::string ToBytes(capnp::MessageBuilder& message) {
  kj::Array<capnp::word> words = capnp::messageToFlatArray(message);
  kj::ArrayPtr<const kj::byte> bytes = words.asBytes();
  return std::string(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
}

// ---------------------------------------------------------------------------------------------
// Reading.

// Collects the first problem Cap'n Proto cannot detect itself (unknown enumerant or union
// member); the caller turns it into DataLoss once the whole message has been read.
class Decoder {
 public:
  void Fail(std::string what) {
    if (error_.empty()) error_ = std::move(what);
  }
  const std::string& error() const { return error_; }

  template <typename Cpp, typename Wire>
  Cpp Enum(Wire value) {
    const auto raw = static_cast<uint16_t>(value);
    if (raw > static_cast<uint16_t>(EnumInfo<Cpp>::kLast)) {
      Fail(fmt::format("unknown {} value {}", EnumInfo<Cpp>::kName, raw));
      return Cpp{};
    }
    return static_cast<Cpp>(raw);
  }

  // `group` is a named union { none, value } reader; `field` names it in the error.
  template <typename Group>
  std::optional<std::string> OptionalText(Group group, std::string_view field) {
    if (group.isValue()) return Str(group.getValue());
    if (!group.isNone()) UnknownPresence(static_cast<unsigned>(group.which()), field);
    return std::nullopt;
  }
  template <typename Group>
  std::optional<uint64_t> OptionalU64(Group group, std::string_view field) {
    if (group.isValue()) return group.getValue();
    if (!group.isNone()) UnknownPresence(static_cast<unsigned>(group.which()), field);
    return std::nullopt;
  }
  template <typename Cpp, typename Group>
  std::optional<Cpp> OptionalEnum(Group group, std::string_view field) {
    if (group.isValue()) return Enum<Cpp>(group.getValue());
    if (!group.isNone()) UnknownPresence(static_cast<unsigned>(group.which()), field);
    return std::nullopt;
  }

  static std::string Str(capnp::Text::Reader text) { return std::string(text.cStr(), text.size()); }

 private:
  void UnknownPresence(unsigned which, std::string_view field) {
    Fail(fmt::format("unknown presence discriminant {} of {}", which, field));
  }

  std::string error_;
};

m::BindingObservation ReadBinding(wire::BindingObservation::Reader r, Decoder& d) {
  m::BindingObservation v;
  v.runtime_id = d.OptionalText(r.getRuntimeId(), "binding.runtimeId");
  v.fence_token = d.OptionalU64(r.getFenceToken(), "binding.fenceToken");
  v.generation = d.OptionalU64(r.getGeneration(), "binding.generation");
  v.epoch_id = d.OptionalText(r.getEpochId(), "binding.epochId");
  return v;
}

m::State ReadState(wire::State::Reader r, Decoder& d) {
  m::State s;
  s.phase = d.Enum<m::Phase>(r.getPhase());
  s.session_id = d.OptionalText(r.getSessionId(), "state.sessionId");
  s.runtime_id = d.OptionalText(r.getRuntimeId(), "state.runtimeId");
  s.epoch_id = d.OptionalText(r.getEpochId(), "state.epochId");
  s.fence_token = d.OptionalU64(r.getFenceToken(), "state.fenceToken");
  s.generation = d.OptionalU64(r.getGeneration(), "state.generation");
  s.current_run_id = d.OptionalText(r.getCurrentRunId(), "state.currentRunId");
  s.pre_run_phase = d.OptionalEnum<m::Phase>(r.getPreRunPhase(), "state.preRunPhase");
  s.stop_deferred = r.getStopDeferred();
  s.registration_phase = d.Enum<m::RegistrationPhase>(r.getRegistrationPhase());
  s.unregister_runtime_loop_pending = r.getUnregisterRuntimeLoopPending();
  s.unregister_comms_drain_pending = r.getUnregisterCommsDrainPending();
  s.unregister_waiters_pending = r.getUnregisterWaitersPending();
  s.unregister_retains_snapshot = r.getUnregisterRetainsSnapshot();
  s.runtime_loop_forced_abort = r.getRuntimeLoopForcedAbort();
  s.comms_drain_forced_abort = r.getCommsDrainForcedAbort();
  s.drain_phase = d.Enum<m::DrainPhase>(r.getDrainPhase());
  s.drain_mode = d.OptionalEnum<m::DrainMode>(r.getDrainMode(), "state.drainMode");
  s.ingress_owner = d.Enum<m::IngressOwner>(r.getIngressOwner());
  s.ingress_transport_id = d.OptionalText(r.getIngressTransportId(), "state.ingressTransportId");
  s.ingress_mob_id = d.OptionalText(r.getIngressMobId(), "state.ingressMobId");
  s.keep_alive = r.getKeepAlive();
  return s;
}

m::Input ReadInput(wire::Input::Reader r, Decoder& d) {
  using S = Decoder;
  switch (r.which()) {
    case wire::Input::INITIALIZE:
      return m::Initialize{};
    case wire::Input::REGISTER_SESSION:
      return m::RegisterSession{S::Str(r.getRegisterSession().getSessionId())};
    case wire::Input::PREPARE_BINDINGS: {
      auto w = r.getPrepareBindings();
      m::PrepareBindings v;
      v.session_id = S::Str(w.getSessionId());
      v.runtime_id = S::Str(w.getRuntimeId());
      v.fence_token = w.getFenceToken();
      v.generation = d.OptionalU64(w.getGeneration(), "prepareBindings.generation");
      v.epoch_id = d.OptionalText(w.getEpochId(), "prepareBindings.epochId");
      return v;
    }
    case wire::Input::ENSURE_SESSION_WITH_EXECUTOR:
      return m::EnsureSessionWithExecutor{S::Str(r.getEnsureSessionWithExecutor().getSessionId())};
    case wire::Input::START_RUN:
      return m::StartRun{S::Str(r.getStartRun().getRunId())};
    case wire::Input::FINISH_RUN: {
      auto w = r.getFinishRun();
      return m::FinishRun{S::Str(w.getRunId()), d.Enum<m::RunOutcome>(w.getOutcome())};
    }
    case wire::Input::RETIRE:
      return m::Retire{};
    case wire::Input::RESET:
      return m::Reset{};
    case wire::Input::STOP_RUNTIME_EXECUTOR:
      return m::StopRuntimeExecutor{S::Str(r.getStopRuntimeExecutor().getReason())};
    case wire::Input::RUNTIME_EXECUTOR_EXITED:
      return m::RuntimeExecutorExited{};
    case wire::Input::DESTROY:
      return m::Destroy{};
    case wire::Input::BEGIN_UNREGISTER_SESSION: {
      auto w = r.getBeginUnregisterSession();
      return m::BeginUnregisterSession{S::Str(w.getSessionId()), ReadBinding(w.getBinding(), d)};
    }
    case wire::Input::RUNTIME_LOOP_STOPPED_FOR_UNREGISTER: {
      auto w = r.getRuntimeLoopStoppedForUnregister();
      return m::RuntimeLoopStoppedForUnregister{S::Str(w.getSessionId()), w.getForcedAbort()};
    }
    case wire::Input::COMMS_DRAIN_EXITED_FOR_UNREGISTER: {
      auto w = r.getCommsDrainExitedForUnregister();
      return m::CommsDrainExitedForUnregister{S::Str(w.getSessionId()), w.getForcedAbort()};
    }
    case wire::Input::COMPLETION_WAITERS_RESOLVED_FOR_UNREGISTER:
      return m::CompletionWaitersResolvedForUnregister{
          S::Str(r.getCompletionWaitersResolvedForUnregister().getSessionId())};
    case wire::Input::UNREGISTER_SESSION: {
      auto w = r.getUnregisterSession();
      return m::UnregisterSession{S::Str(w.getSessionId()), ReadBinding(w.getBinding(), d)};
    }
    case wire::Input::SET_PEER_INGRESS_CONTEXT:
      return m::SetPeerIngressContext{r.getSetPeerIngressContext().getKeepAlive()};
    case wire::Input::ATTACH_SESSION_INGRESS:
      return m::AttachSessionIngress{S::Str(r.getAttachSessionIngress().getTransportId())};
    case wire::Input::ATTACH_MOB_INGRESS: {
      auto w = r.getAttachMobIngress();
      return m::AttachMobIngress{S::Str(w.getTransportId()), S::Str(w.getMobId())};
    }
    case wire::Input::DETACH_INGRESS:
      return m::DetachIngress{};
    case wire::Input::SPAWN_DRAIN:
      return m::SpawnDrain{d.Enum<m::DrainMode>(r.getSpawnDrain().getMode())};
    case wire::Input::STOP_DRAIN:
      return m::StopDrain{};
    case wire::Input::NOTIFY_DRAIN_EXITED:
      return m::NotifyDrainExited{d.Enum<m::DrainExitReason>(r.getNotifyDrainExited().getReason())};
  }
  d.Fail(fmt::format("unknown input kind {}", static_cast<unsigned>(r.which())));
  return m::Initialize{};
}

// Fills `v` in place, so a reused TransitionRecord keeps the capacity of its strings and
// vector (replay decodes millions of them in a row).
void ReadTransitionInto(wire::TransitionRecord::Reader w, Decoder& d, TransitionRecord& v) {
  v.input = ReadInput(w.getInput(), d);
  auto transition = w.getTransition();
  v.transition.assign(transition.cStr(), transition.size());
  auto effects = w.getEffects();
  v.effects.clear();
  v.effects.reserve(effects.size());
  for (auto effect : effects) v.effects.push_back(d.Enum<m::Effect>(effect));
  v.state_digest = w.getStateDigest();
}

Payload ReadPayload(wire::RecordEnvelope::Payload::Reader r, Decoder& d) {
  switch (r.which()) {
    case wire::RecordEnvelope::Payload::TRANSITION: {
      TransitionRecord v;
      ReadTransitionInto(r.getTransition(), d, v);
      return v;
    }
    case wire::RecordEnvelope::Payload::INBOX_APPENDED: {
      auto w = r.getInboxAppended();
      return InboxAppended{Decoder::Str(w.getMessageId()), Decoder::Str(w.getFrom()),
                           Decoder::Str(w.getBody()), w.getInboxIndex()};
    }
    case wire::RecordEnvelope::Payload::MESSAGE_DELIVERED: {
      auto w = r.getMessageDelivered();
      return MessageDelivered{Decoder::Str(w.getMessageId()), w.getInboxIndex(),
                              w.getIncarnation()};
    }
    case wire::RecordEnvelope::Payload::DRAIN_TASK_STARTED: {
      auto w = r.getDrainTaskStarted();
      return DrainTaskStarted{w.getIncarnation(), d.Enum<TaskCause>(w.getCause()),
                              Decoder::Str(w.getTransportId())};
    }
    case wire::RecordEnvelope::Payload::DRAIN_TASK_ENDED: {
      auto w = r.getDrainTaskEnded();
      return DrainTaskEnded{w.getIncarnation(), d.Enum<TaskCause>(w.getCause())};
    }
    case wire::RecordEnvelope::Payload::RECOVERY_MARKER: {
      auto w = r.getRecoveryMarker();
      return RecoveryMarker{w.getSessionsRebuilt(), w.getDrainsRespawned(), w.getRecordsReplayed(),
                            w.getUnregistersFinished(), w.getDurationUs()};
    }
  }
  d.Fail(fmt::format("unknown payload kind {}", static_cast<unsigned>(r.which())));
  return RecoveryMarker{};
}

Status CheckVersion(uint32_t version) {
  if (version == 0 || version > kRecordVersion) {
    return DataLossError(fmt::format("unsupported record version {} (this build reads 1..{})",
                                     version, kRecordVersion));
  }
  return OkStatus();
}

// Copies `bytes` into word-aligned memory (RocksDB values carry no alignment guarantee).
Result<kj::Array<capnp::word>> AlignedCopy(std::string_view bytes) {
  if (bytes.empty() || bytes.size() % sizeof(capnp::word) != 0) {
    return DataLossError(
        fmt::format("{} bytes is not a whole, non-zero number of 8-byte words", bytes.size()));
  }
  kj::Array<capnp::word> words = kj::heapArray<capnp::word>(bytes.size() / sizeof(capnp::word));
  std::memcpy(words.begin(), bytes.data(), bytes.size());
  return words;
}

// Cap'n Proto's defaults (64 MiB traversal, nesting 64) are far above anything Burrow writes
// (inbox bodies are at most 1 MiB) and still bound the work a damaged message can cause.
capnp::ReaderOptions ReaderOptionsForJournal() { return capnp::ReaderOptions(); }

// Parses `words` as one flat message with root T and hands its reader to `read` (which
// returns Result<V>), converting every way the bytes can be wrong into DataLoss.
template <typename T, typename V, typename Fn>
Result<V> DecodeWith(kj::ArrayPtr<const capnp::word> words, Fn&& read) {
  try {
    capnp::FlatArrayMessageReader reader(words, ReaderOptionsForJournal());
    if (reader.getEnd() != words.end()) {
      return DataLossError(fmt::format("{} trailing bytes after the message",
                                       (words.end() - reader.getEnd()) * sizeof(capnp::word)));
    }
    Decoder decoder;
    Result<V> value = read(reader.getRoot<T>(), decoder);
    if (value.ok() && !decoder.error().empty()) return DataLossError(decoder.error());
    return value;
  } catch (const kj::Exception& e) {
    return DataLossError(
        fmt::format("malformed Cap'n Proto message: {}", e.getDescription().cStr()));
  }
}

}  // namespace

std::string EncodeRecord(const RecordEnvelope& record) {
  capnp::MallocMessageBuilder message(EstimateWords(record));
  auto root = message.initRoot<wire::RecordEnvelope>();
  root.setVersion(kRecordVersion);
  root.setSessionId(Txt(record.session_id));
  root.setSessionSeq(record.session_seq);
  root.setIncarnation(record.incarnation);
  root.setWallTimeUs(record.wall_time_us);
  std::visit(PayloadWriter{root.getPayload()}, record.payload);
  return ToBytes(message);
}

Result<RecordEnvelope> DecodeRecord(uint64_t seq, std::string_view bytes) {
  RecordEnvelope v;
  RecordDecoder decoder;
  BURROW_RETURN_IF_ERROR(decoder.Decode(seq, bytes, v));
  return v;
}

Status RecordDecoder::Decode(uint64_t seq, std::string_view bytes, RecordEnvelope& v) {
  if (bytes.empty() || bytes.size() % sizeof(capnp::word) != 0) {
    return DataLossError(fmt::format("{} bytes is not a whole, non-zero number of 8-byte words",
                                     bytes.size()))
        .WithContext(fmt::format("record {}", seq));
  }
  const size_t word_count = bytes.size() / sizeof(capnp::word);
  static_assert(sizeof(capnp::word) == sizeof(uint64_t));
  const void* aligned = bytes.data();
  if (reinterpret_cast<uintptr_t>(aligned) % alignof(capnp::word) != 0) {
    if (words_.size() < word_count) words_.resize(word_count);
    std::memcpy(words_.data(), bytes.data(), bytes.size());
    aligned = words_.data();
  }
  const kj::ArrayPtr<const capnp::word> words(static_cast<const capnp::word*>(aligned), word_count);
  auto result = DecodeWith<wire::RecordEnvelope, bool>(
      words, [&](wire::RecordEnvelope::Reader r, Decoder& d) -> Result<bool> {
        BURROW_RETURN_IF_ERROR(CheckVersion(r.getVersion()));
        v.version = r.getVersion();
        v.seq = seq;
        auto session_id = r.getSessionId();
        v.session_id.assign(session_id.cStr(), session_id.size());
        v.session_seq = r.getSessionSeq();
        v.incarnation = r.getIncarnation();
        v.wall_time_us = r.getWallTimeUs();
        auto payload = r.getPayload();
        if (payload.isTransition()) {
          if (!std::holds_alternative<TransitionRecord>(v.payload)) v.payload = TransitionRecord{};
          ReadTransitionInto(payload.getTransition(), d, std::get<TransitionRecord>(v.payload));
        } else {
          v.payload = ReadPayload(payload, d);
        }
        return true;
      });
  if (!result.ok()) return result.status().WithContext(fmt::format("record {}", seq));
  return OkStatus();
}

std::string EncodeSnapshot(const AuthoritySnapshot& snapshot) {
  const auto string_words = WordsFor(snapshot.session_id) +
                            WordsFor(snapshot.state.session_id.value_or("")) +
                            WordsFor(snapshot.state.runtime_id.value_or("")) +
                            WordsFor(snapshot.state.epoch_id.value_or("")) +
                            WordsFor(snapshot.state.current_run_id.value_or("")) +
                            WordsFor(snapshot.state.ingress_transport_id.value_or("")) +
                            WordsFor(snapshot.state.ingress_mob_id.value_or(""));
  capnp::MallocMessageBuilder message(64 + string_words);
  auto root = message.initRoot<wire::AuthoritySnapshot>();
  root.setVersion(kRecordVersion);
  root.setSessionId(Txt(snapshot.session_id));
  root.setCoveredSeq(snapshot.covered_seq);
  root.setSessionSeq(snapshot.session_seq);
  WriteState(root.initState(), snapshot.state);
  root.setIncarnation(snapshot.incarnation);
  root.setInboxCount(snapshot.inbox_count);
  root.setDeliveredCount(snapshot.delivered_count);
  return ToBytes(message);
}

Result<AuthoritySnapshot> DecodeSnapshot(std::string_view bytes) {
  auto words = AlignedCopy(bytes);
  if (!words.ok()) return words.status().WithContext("snapshot");
  auto result = DecodeWith<wire::AuthoritySnapshot, AuthoritySnapshot>(
      *words, [](wire::AuthoritySnapshot::Reader r, Decoder& d) -> Result<AuthoritySnapshot> {
        BURROW_RETURN_IF_ERROR(CheckVersion(r.getVersion()));
        AuthoritySnapshot v;
        v.session_id = Decoder::Str(r.getSessionId());
        v.covered_seq = r.getCoveredSeq();
        v.session_seq = r.getSessionSeq();
        v.state = ReadState(r.getState(), d);
        v.incarnation = r.getIncarnation();
        v.inbox_count = r.getInboxCount();
        v.delivered_count = r.getDeliveredCount();
        return v;
      });
  if (!result.ok()) return result.status().WithContext("snapshot");
  return result;
}

std::string_view PayloadKindName(const Payload& payload) {
  struct Namer {
    std::string_view operator()(const TransitionRecord&) const { return "Transition"; }
    std::string_view operator()(const InboxAppended&) const { return "InboxAppended"; }
    std::string_view operator()(const MessageDelivered&) const { return "MessageDelivered"; }
    std::string_view operator()(const DrainTaskStarted&) const { return "DrainTaskStarted"; }
    std::string_view operator()(const DrainTaskEnded&) const { return "DrainTaskEnded"; }
    std::string_view operator()(const RecoveryMarker&) const { return "RecoveryMarker"; }
  };
  return std::visit(Namer{}, payload);
}

}  // namespace burrow::schema
