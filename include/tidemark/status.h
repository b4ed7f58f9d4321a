// Status and Result: the error types of the whole code base.
//
// No exceptions on the data path: functions that can fail return a [[nodiscard]] Status or
// Result<T>. A Status carries a std::error_code (errno values use std::generic_category, our
// own conditions use tidemark's category) plus a human message that says what went wrong and,
// where we know it, what to do about it.
#pragma once

#include <cerrno>
#include <string>
#include <system_error>
#include <utility>
#include <variant>

namespace tidemark {

// Conditions that are not an errno. Each maps to an exit code (see ExitCodeFor).
enum class Errc {
  kOk = 0,
  kCorrupt,          // data on disk fails a checksum or a structural check
  kInvalidArgument,  // a caller passed something impossible (programming or usage error)
  kConfig,           // bad configuration or command line: exit 2
  kNotFound,         // a named thing (backup, topic, file) does not exist
  kKafka,            // the broker said no, or could not be reached
  kAborted,          // the operation was stopped (signal, another shard failed)
  kUnsupported,      // the platform or the broker lacks a feature we need
  kIncomplete,       // a snapshot could not reach its end offsets
};

const std::error_category& tidemark_category() noexcept;
std::error_code make_error_code(Errc e) noexcept;

}  // namespace tidemark

template <>
struct std::is_error_code_enum<tidemark::Errc> : std::true_type {};

namespace tidemark {

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(std::error_code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  // An errno failure: "<context>: <strerror(err)>".
  static Status Errno(int err, const std::string& context);
  static Status Corrupt(std::string m) { return Status(Errc::kCorrupt, std::move(m)); }
  static Status Config(std::string m) { return Status(Errc::kConfig, std::move(m)); }
  static Status NotFound(std::string m) { return Status(Errc::kNotFound, std::move(m)); }
  static Status Kafka(std::string m) { return Status(Errc::kKafka, std::move(m)); }
  static Status Invalid(std::string m) { return Status(Errc::kInvalidArgument, std::move(m)); }
  static Status Aborted(std::string m) { return Status(Errc::kAborted, std::move(m)); }
  static Status Unsupported(std::string m) { return Status(Errc::kUnsupported, std::move(m)); }
  static Status Incomplete(std::string m) { return Status(Errc::kIncomplete, std::move(m)); }

  bool ok() const { return !code_; }
  explicit operator bool() const { return ok(); }
  const std::error_code& code() const { return code_; }
  const std::string& message() const { return message_; }
  bool Is(Errc e) const { return code_ == make_error_code(e); }
  bool IsErrno(int err) const { return code_ == std::error_code(err, std::generic_category()); }

  // Returns a copy whose message is "<context>: <message>".
  Status WithContext(const std::string& context) const;

  // Deliberately ignore a status (documented at the call site).
  void IgnoreError() const {}

 private:
  std::error_code code_;
  std::string message_;
};

// Process exit code for a status, as PRODUCT.md says: 0 success, 2 usage or configuration,
// 1 everything else (operational failure, damage found).
int ExitCodeFor(const Status& s);

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}         // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace tidemark

#define TM_CONCAT_INNER(a, b) a##b
#define TM_CONCAT(a, b) TM_CONCAT_INNER(a, b)

// Propagate a failed Status.
#define TM_RETURN_IF_ERROR(expr)             \
  do {                                       \
    ::tidemark::Status tm_status_ = (expr);  \
    if (!tm_status_.ok()) return tm_status_; \
  } while (0)

#define TM_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp.ok()) return tmp.status();            \
  lhs = std::move(tmp).value()

// `TM_ASSIGN_OR_RETURN(auto x, Foo());` unwraps a Result or returns its Status.
#define TM_ASSIGN_OR_RETURN(lhs, expr) \
  TM_ASSIGN_OR_RETURN_IMPL(TM_CONCAT(tm_result_, __LINE__), lhs, expr)
