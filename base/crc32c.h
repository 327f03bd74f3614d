// CRC-32C (Castagnoli, polynomial 0x1EDC6F41, reflected), as used by iSCSI, ext4 and RocksDB.
// Check value: Value("123456789") == 0xE3069283.
//
// Uses the SSE4.2 crc32 instruction when the CPU has it, a slicing-by-8 table otherwise; both
// give identical results. Safe for concurrent use.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace burrow::crc32c {

// Returns the crc32c of concat(A, data[0, n)) where init_crc is the crc32c of A.
uint32_t Extend(uint32_t init_crc, const void* data, size_t n);

inline uint32_t Value(const void* data, size_t n) { return Extend(0, data, n); }
inline uint32_t Value(std::string_view bytes) { return Extend(0, bytes.data(), bytes.size()); }

// Stored checksums are masked (as leveldb does) so that a crc computed over bytes that
// themselves embed crcs does not degenerate.
inline constexpr uint32_t kMaskDelta = 0xa282ead8u;
inline uint32_t Mask(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + kMaskDelta; }
inline uint32_t Unmask(uint32_t masked) {
  uint32_t rot = masked - kMaskDelta;
  return (rot >> 17) | (rot << 15);
}

namespace internal {
// The table-driven path, exposed so tests can check it against the hardware path.
uint32_t ExtendPortable(uint32_t init_crc, const void* data, size_t n);
}  // namespace internal

}  // namespace burrow::crc32c
