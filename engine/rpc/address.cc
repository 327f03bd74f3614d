// Addresses and token files (rpc.h).
#include <fmt/format.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>

#include "engine/rpc/rpc.h"

namespace burrow::rpc {

std::string Address::ToString() const {
  if (kind == Kind::kUnix) return "unix:" + path;
  if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

bool Address::IsLoopback() const {
  if (kind != Kind::kTcp) return false;
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

Result<Address> ParseAddress(std::string_view text) {
  Address address;
  if (text.rfind("unix:", 0) == 0) {
    address.kind = Address::Kind::kUnix;
    address.path = std::string(text.substr(5));
    if (address.path.empty()) return InvalidArgumentError("unix: address without a path");
    // sockaddr_un's sun_path holds 108 bytes including the terminating NUL.
    if (address.path.size() > 107) {
      return InvalidArgumentError(fmt::format(
          "unix socket path of {} bytes exceeds the limit of 107", address.path.size()));
    }
    return address;
  }
  address.kind = Address::Kind::kTcp;
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return InvalidArgumentError(fmt::format("'{}' is not [IPV6]:PORT", text));
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return InvalidArgumentError(fmt::format("'{}' is neither unix:PATH nor HOST:PORT", text));
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return InvalidArgumentError(fmt::format("'{}': write an IPv6 address as [ADDR]:PORT", text));
    }
  }
  address.host = host.empty() ? "127.0.0.1" : std::string(host);
  unsigned value = 0;
  auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || error != std::errc() || end != port.data() + port.size() || value > 65535) {
    return InvalidArgumentError(fmt::format("'{}': port must be a number from 0 to 65535", text));
  }
  address.port = static_cast<uint16_t>(value);
  return address;
}

Result<std::string> ReadTokenFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return UnavailableError(
        fmt::format("cannot read token file {}: {}", path, std::strerror(errno)));
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string token = buffer.str();
  if (!token.empty() && token.back() == '\n') token.pop_back();
  if (!token.empty() && token.back() == '\r') token.pop_back();
  if (token.size() < kMinTokenBytes) {
    return InvalidArgumentError(fmt::format("token in {} is {} bytes; at least {} are required",
                                            path, token.size(), kMinTokenBytes));
  }
  return token;
}

}  // namespace burrow::rpc
