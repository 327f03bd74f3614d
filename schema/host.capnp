# The durable runtime host as a Cap'n Proto RPC service (`burrow serve`, SPEC §3 and §8).
#
# The bootstrap capability is a Gate; `authenticate` hands out the RuntimeHost. Every command of
# SPEC §3 is one method with typed arguments, and its outcome is DATA: a union of the ok result
# and an Error carrying the same codes as host::ErrorCode (engine/host/host.h). An RPC exception
# means the call itself failed (connection lost, malformed message, server shutting down), never
# a business outcome.
#
# Compatibility rules (clients and servers of different builds may meet):
#   * Never renumber, retype or remove a field or method; add new ones with new ordinals.
#   * Enum ordinals equal the numeric values of the C++ enums (engine/machine/types.h,
#     host::ErrorCode); engine/rpc/convert.cc static_asserts it.
#   * Optional values have explicit presence: a named union { none, value }, whose default
#     (discriminant 0) is `none`.

@0x9a1dd4f208febabe;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("burrow::rpc::wire");

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

# host::ErrorCode, SPEC §3.
enum ErrorCode {
  notReady @0;
  destroyed @1;
  validationFailed @2;
  invalidArgument @3;
  unavailable @4;
  internal @5;
}

struct Error {
  code @0 :ErrorCode;
  reason @1 :Text;  # empty for Destroyed
  state @2 :Text;   # NotReady only ("destroyed")
}

struct OptionalText {
  union {
    none @0 :Void;
    value @1 :Text;
  }
}

struct OptionalU64 {
  union {
    none @0 :Void;
    value @1 :UInt64;
  }
}

# The authority record (machine::State, SPEC §2.2), every field.
struct State {
  phase @0 :Phase;
  sessionId @1 :OptionalText;
  runtimeId @2 :OptionalText;
  epochId @3 :OptionalText;
  fenceToken @4 :OptionalU64;
  generation @5 :OptionalU64;
  currentRunId @6 :OptionalText;
  preRunPhase :union {
    none @7 :Void;
    value @8 :Phase;
  }
  stopDeferred @9 :Bool;
  registrationPhase @10 :RegistrationPhase;
  unregisterRuntimeLoopPending @11 :Bool;
  unregisterCommsDrainPending @12 :Bool;
  unregisterWaitersPending @13 :Bool;
  unregisterRetainsSnapshot @14 :Bool;
  runtimeLoopForcedAbort @15 :Bool;
  commsDrainForcedAbort @16 :Bool;
  drainPhase @17 :DrainPhase;
  drainMode :union {
    none @18 :Void;
    value @19 :DrainMode;
  }
  ingressOwner @20 :IngressOwner;
  ingressTransportId @21 :OptionalText;
  ingressMobId @22 :OptionalText;
  keepAlive @23 :Bool;
}

struct SessionView {
  sessionId @0 :Text;
  state @1 :State;
  taskRunning @2 :Bool;
  taskIncarnation @3 :UInt64;  # 0 before the session's first task
  inboxPending @4 :UInt64;
  delivered @5 :UInt64;
}

struct Message {
  messageId @0 :Text;
  from @1 :Text;
  body @2 :Data;  # bytes as posted (the eval surface posts UTF-8 text)
}

# Outcomes: the ok value or the Error.
struct Outcome {
  union {
    ok @0 :Void;
    error @1 :Error;
  }
}

struct BoolOutcome {
  union {
    ok @0 :Bool;
    error @1 :Error;
  }
}

struct CountOutcome {
  union {
    ok @0 :UInt64;
    error @1 :Error;
  }
}

struct PostOutcome {
  union {
    duplicate @0 :Bool;  # ok: whether this message_id was already in the inbox
    error @1 :Error;
  }
}

struct MessagesOutcome {
  union {
    ok @0 :List(Message);
    error @1 :Error;
  }
}

struct InspectOutcome {
  union {
    ok @0 :SessionView;
    error @1 :Error;
  }
}

# What a subscriber is told, per session in commit order.
interface SessionEvents {
  # A step of the session became durable; `state` is the authority after it. A state whose
  # sessionId is none means the session was unregistered: no further events follow.
  stateChanged @0 (state :State) -> ();
  # Messages became durable as delivered, in delivery order.
  delivered @1 (messages :List(Message)) -> ();
}

# Held by the subscriber; dropping it (or disconnecting) ends the subscription.
interface Subscription {}

interface RuntimeHost {
  # Lifecycle (SPEC §3). Unknown session → notReady, except registerSession.
  registerSession @0 (session :Text) -> (result :Outcome);
  attachRuntime @1 (session :Text, runtimeId :Text, fenceToken :UInt64,
                    generation :OptionalU64, epochId :OptionalText) -> (result :Outcome);
  ensureExecutor @2 (session :Text) -> (result :Outcome);
  startRun @3 (session :Text, runId :Text) -> (result :Outcome);
  finishRun @4 (session :Text, runId :Text, outcome :RunOutcome) -> (result :Outcome);
  retire @5 (session :Text) -> (result :Outcome);
  reset @6 (session :Text) -> (result :Outcome);
  stopRuntime @7 (session :Text, reason :Text) -> (result :Outcome);
  runtimeExited @8 (session :Text) -> (result :Outcome);
  destroy @9 (session :Text) -> (result :Outcome);
  unregister @10 (session :Text) -> (result :Outcome);

  # Peer ingress and drains (SPEC §3, §4). setPeerIngress's ok value: whether a task spawned.
  setPeerIngress @11 (session :Text, keepAlive :Bool, transportId :OptionalText,
                      mobId :OptionalText, mode :DrainMode = persistentHost)
      -> (result :BoolOutcome);
  notifyDrainExited @12 (session :Text, reason :DrainExitReason) -> (result :Outcome);
  abort @13 (session :Text) -> (result :Outcome);
  abortAll @14 () -> (result :Outcome);
  # ok value: whether the task ended. timeoutMs none = wait without a bound.
  wait @15 (session :Text, timeoutMs :OptionalU64) -> (result :BoolOutcome);

  # The durable inbox.
  post @16 (session :Text, messageId :Text, from :Text, body :Data) -> (result :PostOutcome);
  delivered @17 (session :Text) -> (result :MessagesOutcome);
  # ok value: the number delivered when `count` was reached or the timeout passed.
  awaitDelivered @18 (session :Text, count :UInt64, timeoutMs :UInt64)
      -> (result :CountOutcome);

  # Read-only views.
  inspect @19 (session :Text) -> (result :InspectOutcome);
  # `error` is set (and `sessions` empty) when the host refused, e.g. while it shuts down; an
  # empty list without it means the host has no sessions.
  sessions @20 () -> (sessions :List(Text), error :Error);

  # Events of a known session from now on (SPEC §4's delivered stream and the authority's
  # changes), through `events`, until the Subscription is dropped. Errors: notReady.
  subscribe @21 (session :Text, events :SessionEvents)
      -> (result :Outcome, subscription :Subscription);

  # Test hooks: invalidArgument unless the server runs with --enable-test-hooks.
  failNextInboxRead @22 (session :Text) -> (result :Outcome);
  failNextAppends @23 (count :UInt32) -> (result :Outcome);
}

# The bootstrap capability. A connection gets nothing else until it presents the server's
# token (any token when the server has none: a Unix socket guarded by its file mode 0600).
interface Gate {
  # A wrong token gets an exception and the connection is closed.
  authenticate @0 (token :Data) -> (host :RuntimeHost);
}
