#include "engine/rpc/convert.h"

#include <type_traits>

namespace burrow::rpc {
namespace {

// The wire enums mirror the C++ ones value for value (schema/host.capnp's compatibility rules).
template <typename A, typename B>
constexpr bool Same(A a, B b) {
  return static_cast<int>(a) == static_cast<int>(b);
}
static_assert(Same(wire::Phase::DESTROYED, machine::Phase::kDestroyed));
static_assert(Same(wire::Phase::INITIALIZING, machine::Phase::kInitializing));
static_assert(Same(wire::RegistrationPhase::DRAINING, machine::RegistrationPhase::kDraining));
static_assert(Same(wire::DrainPhase::EXITED_RESPAWNABLE, machine::DrainPhase::kExitedRespawnable));
static_assert(Same(wire::DrainMode::PERSISTENT_HOST, machine::DrainMode::kPersistentHost));
static_assert(Same(wire::DrainMode::ATTACHED_SESSION, machine::DrainMode::kAttachedSession));
static_assert(Same(wire::IngressOwner::MOB_OWNED, machine::IngressOwner::kMobOwned));
static_assert(Same(wire::RunOutcome::CANCELLED, machine::RunOutcome::kCancelled));
static_assert(Same(wire::DrainExitReason::SESSION_SHUTDOWN,
                   machine::DrainExitReason::kSessionShutdown));
static_assert(Same(wire::ErrorCode::NOT_READY, host::ErrorCode::kNotReady));
static_assert(Same(wire::ErrorCode::INTERNAL, host::ErrorCode::kInternal));
static_assert(Same(wire::ErrorCode::UNAVAILABLE, host::ErrorCode::kUnavailable));

template <typename To, typename From>
To Cast(From v) {
  return static_cast<To>(static_cast<std::underlying_type_t<To>>(v));
}

}  // namespace

std::optional<std::string> FromWire(wire::OptionalText::Reader v) {
  if (!v.isValue()) return std::nullopt;
  return Str(v.getValue());
}
std::optional<uint64_t> FromWire(wire::OptionalU64::Reader v) {
  if (!v.isValue()) return std::nullopt;
  return v.getValue();
}
void ToWire(const std::optional<std::string>& v, wire::OptionalText::Builder out) {
  if (v.has_value()) {
    out.setValue(Text(*v));
  } else {
    out.setNone();
  }
}
void ToWire(const std::optional<uint64_t>& v, wire::OptionalU64::Builder out) {
  if (v.has_value()) {
    out.setValue(*v);
  } else {
    out.setNone();
  }
}

machine::RunOutcome FromWire(wire::RunOutcome v) { return Cast<machine::RunOutcome>(v); }
machine::DrainMode FromWire(wire::DrainMode v) { return Cast<machine::DrainMode>(v); }
machine::DrainExitReason FromWire(wire::DrainExitReason v) {
  return Cast<machine::DrainExitReason>(v);
}
wire::RunOutcome ToWire(machine::RunOutcome v) { return Cast<wire::RunOutcome>(v); }
wire::DrainMode ToWire(machine::DrainMode v) { return Cast<wire::DrainMode>(v); }
wire::DrainExitReason ToWire(machine::DrainExitReason v) { return Cast<wire::DrainExitReason>(v); }

bool Known(wire::RunOutcome v) {
  return static_cast<int>(v) <= static_cast<int>(wire::RunOutcome::CANCELLED);
}
bool Known(wire::DrainMode v) {
  return static_cast<int>(v) <= static_cast<int>(wire::DrainMode::PERSISTENT_HOST);
}
bool Known(wire::DrainExitReason v) {
  return static_cast<int>(v) <= static_cast<int>(wire::DrainExitReason::SESSION_SHUTDOWN);
}

void ToWire(const host::Error& error, wire::Error::Builder out) {
  out.setCode(Cast<wire::ErrorCode>(error.code));
  out.setReason(Text(error.reason));
  out.setState(Text(error.state));
}

host::Error FromWire(wire::Error::Reader error) {
  host::ErrorCode code = Cast<host::ErrorCode>(error.getCode());
  if (static_cast<int>(error.getCode()) > static_cast<int>(wire::ErrorCode::INTERNAL)) {
    code = host::ErrorCode::kInternal;  // a newer server's code: not one this build can name
  }
  return host::Error{code, Str(error.getReason()), Str(error.getState())};
}

void ToWire(const machine::State& s, wire::State::Builder out) {
  out.setPhase(Cast<wire::Phase>(s.phase));
  ToWire(s.session_id, out.initSessionId());
  ToWire(s.runtime_id, out.initRuntimeId());
  ToWire(s.epoch_id, out.initEpochId());
  ToWire(s.fence_token, out.initFenceToken());
  ToWire(s.generation, out.initGeneration());
  ToWire(s.current_run_id, out.initCurrentRunId());
  if (s.pre_run_phase.has_value()) {
    out.getPreRunPhase().setValue(Cast<wire::Phase>(*s.pre_run_phase));
  } else {
    out.getPreRunPhase().setNone();
  }
  out.setStopDeferred(s.stop_deferred);
  out.setRegistrationPhase(Cast<wire::RegistrationPhase>(s.registration_phase));
  out.setUnregisterRuntimeLoopPending(s.unregister_runtime_loop_pending);
  out.setUnregisterCommsDrainPending(s.unregister_comms_drain_pending);
  out.setUnregisterWaitersPending(s.unregister_waiters_pending);
  out.setUnregisterRetainsSnapshot(s.unregister_retains_snapshot);
  out.setRuntimeLoopForcedAbort(s.runtime_loop_forced_abort);
  out.setCommsDrainForcedAbort(s.comms_drain_forced_abort);
  out.setDrainPhase(Cast<wire::DrainPhase>(s.drain_phase));
  if (s.drain_mode.has_value()) {
    out.getDrainMode().setValue(Cast<wire::DrainMode>(*s.drain_mode));
  } else {
    out.getDrainMode().setNone();
  }
  out.setIngressOwner(Cast<wire::IngressOwner>(s.ingress_owner));
  ToWire(s.ingress_transport_id, out.initIngressTransportId());
  ToWire(s.ingress_mob_id, out.initIngressMobId());
  out.setKeepAlive(s.keep_alive);
}

machine::State FromWire(wire::State::Reader in) {
  machine::State s;
  s.phase = Cast<machine::Phase>(in.getPhase());
  s.session_id = FromWire(in.getSessionId());
  s.runtime_id = FromWire(in.getRuntimeId());
  s.epoch_id = FromWire(in.getEpochId());
  s.fence_token = FromWire(in.getFenceToken());
  s.generation = FromWire(in.getGeneration());
  s.current_run_id = FromWire(in.getCurrentRunId());
  if (in.getPreRunPhase().isValue()) {
    s.pre_run_phase = Cast<machine::Phase>(in.getPreRunPhase().getValue());
  }
  s.stop_deferred = in.getStopDeferred();
  s.registration_phase = Cast<machine::RegistrationPhase>(in.getRegistrationPhase());
  s.unregister_runtime_loop_pending = in.getUnregisterRuntimeLoopPending();
  s.unregister_comms_drain_pending = in.getUnregisterCommsDrainPending();
  s.unregister_waiters_pending = in.getUnregisterWaitersPending();
  s.unregister_retains_snapshot = in.getUnregisterRetainsSnapshot();
  s.runtime_loop_forced_abort = in.getRuntimeLoopForcedAbort();
  s.comms_drain_forced_abort = in.getCommsDrainForcedAbort();
  s.drain_phase = Cast<machine::DrainPhase>(in.getDrainPhase());
  if (in.getDrainMode().isValue()) {
    s.drain_mode = Cast<machine::DrainMode>(in.getDrainMode().getValue());
  }
  s.ingress_owner = Cast<machine::IngressOwner>(in.getIngressOwner());
  s.ingress_transport_id = FromWire(in.getIngressTransportId());
  s.ingress_mob_id = FromWire(in.getIngressMobId());
  s.keep_alive = in.getKeepAlive();
  return s;
}

void ToWire(const host::SessionView& view, wire::SessionView::Builder out) {
  out.setSessionId(Text(view.session_id));
  ToWire(view.state, out.initState());
  out.setTaskRunning(view.task.running);
  out.setTaskIncarnation(view.task.incarnation);
  out.setInboxPending(view.inbox_pending);
  out.setDelivered(view.delivered);
}

host::SessionView FromWire(wire::SessionView::Reader in) {
  host::SessionView view;
  view.session_id = Str(in.getSessionId());
  view.state = FromWire(in.getState());
  view.task.running = in.getTaskRunning();
  view.task.incarnation = in.getTaskIncarnation();
  view.inbox_pending = in.getInboxPending();
  view.delivered = in.getDelivered();
  return view;
}

void ToWire(const host::Message& message, wire::Message::Builder out) {
  out.setMessageId(Text(message.message_id));
  out.setFrom(Text(message.from));
  out.setBody(Data(message.body));
}

host::Message FromWire(wire::Message::Reader in) {
  return host::Message{Str(in.getMessageId()), Str(in.getFrom()), Str(in.getBody())};
}

}  // namespace burrow::rpc
