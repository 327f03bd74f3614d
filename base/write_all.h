// Writing a whole buffer to a file descriptor (pipes and sockets write partially).
#pragma once

#include <string_view>

namespace burrow {

// Writes all of `data` to `fd`, retrying partial writes and EINTR. False on any other error
// (errno says which); then an unknown prefix of `data` has been written.
bool WriteAll(int fd, std::string_view data);

}  // namespace burrow
