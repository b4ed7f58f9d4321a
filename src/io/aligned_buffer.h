// AlignedBuffer: a page-aligned, page-multiple byte buffer, the only kind of memory handed to
// the kernel for O_DIRECT. Alignment is part of the type's contract: data() is always
// kPageSize-aligned and capacity() a multiple of kPageSize.
//
// Lifecycle: allocated at start-up (pools) or, rarely, for an oversized record; moved, never
// copied. Not thread-safe; owned by one shard.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <utility>

#include "tidemark/assert.h"
#include "tidemark/format.h"

namespace tidemark::io {

class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  explicit AlignedBuffer(size_t capacity) : capacity_(format::AlignUp(capacity)) {
    data_ = static_cast<uint8_t*>(std::aligned_alloc(format::kPageSize, capacity_));
    if (data_ == nullptr) throw std::bad_alloc();  // start-up only: fail loudly
  }
  ~AlignedBuffer() { std::free(data_); }
  AlignedBuffer(AlignedBuffer&& o) noexcept
      : data_(std::exchange(o.data_, nullptr)), capacity_(std::exchange(o.capacity_, 0)) {}
  AlignedBuffer& operator=(AlignedBuffer&& o) noexcept {
    if (this != &o) {
      std::free(data_);
      data_ = std::exchange(o.data_, nullptr);
      capacity_ = std::exchange(o.capacity_, 0);
    }
    return *this;
  }
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;

  uint8_t* data() { return data_; }
  const uint8_t* data() const { return data_; }
  size_t capacity() const { return capacity_; }
  bool empty() const { return data_ == nullptr; }

 private:
  uint8_t* data_ = nullptr;
  size_t capacity_ = 0;
};

}  // namespace tidemark::io
