# Burrow's journal records and authority snapshots, as Cap'n Proto messages.
#
# This is the wire form of schema/records.h; schema/codec.cc converts between the two, and
# journal/FORMAT.md describes how the bytes sit inside the RocksDB journal.
#
# Compatibility rules (the journal is forever):
#   * Never renumber, retype or remove a field; add new fields with new ordinals at the end.
#   * Enum ordinals equal the numeric values of the C++ enums (engine/machine/types.h,
#     schema/records.h); codec.cc static_asserts it. Append new enumerants at the end.
#   * The Input union's discriminants equal machine::InputKind (the Input variant's order).
#   * Optional values have explicit presence: a named union { none, value }, whose default
#     (discriminant 0) is `none`.
# A reader meets a newer writer's additions as an unknown union member or enumerant, or a
# larger `version`; it refuses the record (DataLoss) rather than guess.

@0xcbaebf1c692262cd;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("burrow::schema::wire");

# ---------------------------------------------------------------------------------------------
# Enumerations (machine::*, schema::TaskCause).

enum Phase {
  initializing @0;
  idle @1;
  attached @2;
  running @3;
  retired @4;
  stopped @5;
  destroyed @6;
}

enum RegistrationPhase {
  queuing @0;
  active @1;
  draining @2;
}

enum DrainPhase {
  inactive @0;
  running @1;
  stopped @2;
  exitedRespawnable @3;
}

enum DrainMode {
  timed @0;
  attachedSession @1;
  persistentHost @2;
}

enum IngressOwner {
  unattached @0;
  sessionOwned @1;
  mobOwned @2;
}

enum RunOutcome {
  committed @0;
  failed @1;
  cancelled @2;
}

enum DrainExitReason {
  idleTimeout @0;
  dismissed @1;
  failed @2;
  aborted @3;
  sessionShutdown @4;
}

enum Effect {
  runtimeBound @0;
  runStarted @1;
  runFinished @2;
  runtimeRetired @3;
  stopRuntime @4;
  runtimeDestroyed @5;
  stopDrainTask @6;
  requestRuntimeLoopStop @7;
  requestCommsDrainExit @8;
  requestWaiterResolution @9;
  spawnDrainTask @10;
}

enum TaskCause {
  command @0;
  recovery @1;
  respawn @2;
  replaced @3;
  idleTimeout @4;
  failed @5;
  cancelled @6;
  abandoned @7;
}

# ---------------------------------------------------------------------------------------------
# The authority state (machine::State, SPEC §2.2), every field.

struct State {
  phase @0 :Phase;
  sessionId :union {
    none @1 :Void;
    value @2 :Text;
  }
  runtimeId :union {
    none @3 :Void;
    value @4 :Text;
  }
  epochId :union {
    none @5 :Void;
    value @6 :Text;
  }
  fenceToken :union {
    none @7 :Void;
    value @8 :UInt64;
  }
  generation :union {
    none @9 :Void;
    value @10 :UInt64;
  }
  currentRunId :union {
    none @11 :Void;
    value @12 :Text;
  }
  preRunPhase :union {
    none @13 :Void;
    value @14 :Phase;
  }
  stopDeferred @15 :Bool;
  registrationPhase @16 :RegistrationPhase;
  unregisterRuntimeLoopPending @17 :Bool;
  unregisterCommsDrainPending @18 :Bool;
  unregisterWaitersPending @19 :Bool;
  unregisterRetainsSnapshot @20 :Bool;
  runtimeLoopForcedAbort @21 :Bool;
  commsDrainForcedAbort @22 :Bool;
  drainPhase @23 :DrainPhase;
  drainMode :union {
    none @24 :Void;
    value @25 :DrainMode;
  }
  ingressOwner @26 :IngressOwner;
  ingressTransportId :union {
    none @27 :Void;
    value @28 :Text;
  }
  ingressMobId :union {
    none @29 :Void;
    value @30 :Text;
  }
  keepAlive @31 :Bool;
}

# ---------------------------------------------------------------------------------------------
# Inputs (machine::Input, SPEC §2.3): one struct per kind, every field.

struct BindingObservation {
  runtimeId :union {
    none @0 :Void;
    value @1 :Text;
  }
  fenceToken :union {
    none @2 :Void;
    value @3 :UInt64;
  }
  generation :union {
    none @4 :Void;
    value @5 :UInt64;
  }
  epochId :union {
    none @6 :Void;
    value @7 :Text;
  }
}

struct Initialize {}
struct RegisterSession {
  sessionId @0 :Text;
}
struct PrepareBindings {
  sessionId @0 :Text;
  runtimeId @1 :Text;
  fenceToken @2 :UInt64;
  generation :union {
    none @3 :Void;
    value @4 :UInt64;
  }
  epochId :union {
    none @5 :Void;
    value @6 :Text;
  }
}
struct EnsureSessionWithExecutor {
  sessionId @0 :Text;
}
struct StartRun {
  runId @0 :Text;
}
struct FinishRun {
  runId @0 :Text;
  outcome @1 :RunOutcome;
}
struct Retire {}
struct Reset {}
struct StopRuntimeExecutor {
  reason @0 :Text;
}
struct RuntimeExecutorExited {}
struct Destroy {}
struct BeginUnregisterSession {
  sessionId @0 :Text;
  binding @1 :BindingObservation;
}
struct RuntimeLoopStoppedForUnregister {
  sessionId @0 :Text;
  forcedAbort @1 :Bool;
}
struct CommsDrainExitedForUnregister {
  sessionId @0 :Text;
  forcedAbort @1 :Bool;
}
struct CompletionWaitersResolvedForUnregister {
  sessionId @0 :Text;
}
struct UnregisterSession {
  sessionId @0 :Text;
  binding @1 :BindingObservation;
}
struct SetPeerIngressContext {
  keepAlive @0 :Bool;
}
struct AttachSessionIngress {
  transportId @0 :Text;
}
struct AttachMobIngress {
  transportId @0 :Text;
  mobId @1 :Text;
}
struct DetachIngress {}
struct SpawnDrain {
  mode @0 :DrainMode;
}
struct StopDrain {}
struct NotifyDrainExited {
  reason @0 :DrainExitReason;
}

# Discriminants 0..22 equal machine::InputKind.
struct Input {
  union {
    initialize @0 :Initialize;
    registerSession @1 :RegisterSession;
    prepareBindings @2 :PrepareBindings;
    ensureSessionWithExecutor @3 :EnsureSessionWithExecutor;
    startRun @4 :StartRun;
    finishRun @5 :FinishRun;
    retire @6 :Retire;
    reset @7 :Reset;
    stopRuntimeExecutor @8 :StopRuntimeExecutor;
    runtimeExecutorExited @9 :RuntimeExecutorExited;
    destroy @10 :Destroy;
    beginUnregisterSession @11 :BeginUnregisterSession;
    runtimeLoopStoppedForUnregister @12 :RuntimeLoopStoppedForUnregister;
    commsDrainExitedForUnregister @13 :CommsDrainExitedForUnregister;
    completionWaitersResolvedForUnregister @14 :CompletionWaitersResolvedForUnregister;
    unregisterSession @15 :UnregisterSession;
    setPeerIngressContext @16 :SetPeerIngressContext;
    attachSessionIngress @17 :AttachSessionIngress;
    attachMobIngress @18 :AttachMobIngress;
    detachIngress @19 :DetachIngress;
    spawnDrain @20 :SpawnDrain;
    stopDrain @21 :StopDrain;
    notifyDrainExited @22 :NotifyDrainExited;
  }
}

# ---------------------------------------------------------------------------------------------
# Record payloads (schema/records.h).

struct TransitionRecord {
  input @0 :Input;
  transition @1 :Text;         # the accepted declaration's name
  effects @2 :List(Effect);    # in declaration order
  stateDigest @3 :UInt64;      # machine::Digest of the state after the transition
}

struct InboxAppended {
  messageId @0 :Text;
  from @1 :Text;
  body @2 :Text;
  inboxIndex @3 :UInt64;
}

struct MessageDelivered {
  messageId @0 :Text;
  inboxIndex @1 :UInt64;
  incarnation @2 :UInt64;
}

struct DrainTaskStarted {
  incarnation @0 :UInt64;
  cause @1 :TaskCause;
  transportId @2 :Text;
}

struct DrainTaskEnded {
  incarnation @0 :UInt64;
  cause @1 :TaskCause;
}

struct RecoveryMarker {
  sessionsRebuilt @0 :UInt64;
  drainsRespawned @1 :UInt64;
  recordsReplayed @2 :UInt64;
  unregistersFinished @3 :UInt64;
  durationUs @4 :UInt64;
}

# One journal record's payload bytes. The global sequence is not here: it is the RocksDB key,
# and the journal's checksum binds the value to it (FORMAT.md).
struct RecordEnvelope {
  version @0 :UInt32;       # schema::kRecordVersion when written; readers refuse a newer one
  sessionId @1 :Text;       # empty for host-wide records (the recovery marker)
  sessionSeq @2 :UInt64;    # 1, 2, 3 ... per session, gap-free
  incarnation @3 :UInt64;   # the session's current drain task incarnation when written
  wallTimeUs @4 :Int64;     # microseconds since the Unix epoch; for people, never for logic
  payload :union {
    transition @5 :TransitionRecord;
    inboxAppended @6 :InboxAppended;
    messageDelivered @7 :MessageDelivered;
    drainTaskStarted @8 :DrainTaskStarted;
    drainTaskEnded @9 :DrainTaskEnded;
    recoveryMarker @10 :RecoveryMarker;
  }
}

# ---------------------------------------------------------------------------------------------
# Snapshots (schema::AuthoritySnapshot): one authority plus the host-side cursors.

struct AuthoritySnapshot {
  version @0 :UInt32;       # schema::kRecordVersion when written; readers refuse a newer one
  sessionId @1 :Text;
  coveredSeq @2 :UInt64;    # global sequence of the last record reflected
  sessionSeq @3 :UInt64;    # per-session sequence of that record
  state @4 :State;
  incarnation @5 :UInt64;   # newest drain task incarnation
  inboxCount @6 :UInt64;    # messages appended so far
  deliveredCount @7 :UInt64;  # messages delivered so far
}
