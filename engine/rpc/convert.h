// Conversions between host:: values and their wire form (schema/host.capnp). Private to
// engine/rpc.
#pragma once

#include <capnp/blob.h>

#include <optional>
#include <string>
#include <string_view>

#include "engine/host/host.h"
#include "schema/host.capnp.h"

namespace burrow::rpc {

inline std::string Str(capnp::Text::Reader text) { return std::string(text.cStr(), text.size()); }
inline std::string Str(capnp::Data::Reader data) {
  return std::string(reinterpret_cast<const char*>(data.begin()), data.size());
}
inline capnp::Text::Reader Text(std::string_view s) {
  return capnp::Text::Reader(s.data(), s.size());
}
inline capnp::Data::Reader Data(std::string_view s) {
  return capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(s.data()), s.size());
}

std::optional<std::string> FromWire(wire::OptionalText::Reader v);
std::optional<uint64_t> FromWire(wire::OptionalU64::Reader v);
void ToWire(const std::optional<std::string>& v, wire::OptionalText::Builder out);
void ToWire(const std::optional<uint64_t>& v, wire::OptionalU64::Builder out);

machine::RunOutcome FromWire(wire::RunOutcome v);
machine::DrainMode FromWire(wire::DrainMode v);
machine::DrainExitReason FromWire(wire::DrainExitReason v);
wire::RunOutcome ToWire(machine::RunOutcome v);
wire::DrainMode ToWire(machine::DrainMode v);
wire::DrainExitReason ToWire(machine::DrainExitReason v);

// Enum values beyond what this build knows (a newer peer) are refused by the caller through
// these checks: true when the value is one this build knows.
bool Known(wire::RunOutcome v);
bool Known(wire::DrainMode v);
bool Known(wire::DrainExitReason v);

void ToWire(const host::Error& error, wire::Error::Builder out);
host::Error FromWire(wire::Error::Reader error);

void ToWire(const machine::State& state, wire::State::Builder out);
machine::State FromWire(wire::State::Reader state);
void ToWire(const host::SessionView& view, wire::SessionView::Builder out);
host::SessionView FromWire(wire::SessionView::Reader view);
void ToWire(const host::Message& message, wire::Message::Builder out);
host::Message FromWire(wire::Message::Reader message);

}  // namespace burrow::rpc
