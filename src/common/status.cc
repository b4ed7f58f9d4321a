#include "tidemark/status.h"

#include <cstring>

namespace tidemark {
namespace {

class TidemarkCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "tidemark"; }
  std::string message(int ev) const override {
    switch (static_cast<Errc>(ev)) {
      case Errc::kOk:
        return "ok";
      case Errc::kCorrupt:
        return "corrupt data";
      case Errc::kInvalidArgument:
        return "invalid argument";
      case Errc::kConfig:
        return "configuration error";
      case Errc::kNotFound:
        return "not found";
      case Errc::kKafka:
        return "kafka error";
      case Errc::kAborted:
        return "aborted";
      case Errc::kUnsupported:
        return "unsupported";
      case Errc::kIncomplete:
        return "incomplete";
    }
    return "unknown";
  }
};

}  // namespace

const std::error_category& tidemark_category() noexcept {
  static const TidemarkCategory category;
  return category;
}

std::error_code make_error_code(Errc e) noexcept {
  return {static_cast<int>(e), tidemark_category()};
}

Status Status::Errno(int err, const std::string& context) {
  return Status(std::error_code(err, std::generic_category()), context + ": " + std::strerror(err));
}

Status Status::WithContext(const std::string& context) const {
  if (ok()) return *this;
  return Status(code_, context + ": " + message_);
}

int ExitCodeFor(const Status& s) {
  if (s.ok()) return 0;
  if (s.Is(Errc::kConfig) || s.Is(Errc::kInvalidArgument)) return 2;
  return 1;
}

}  // namespace tidemark
