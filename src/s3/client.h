// An S3 client for the object-storage tier: libcurl with its built-in AWS SigV4 signing (no
// hand-written signing), path-style or virtual-hosted addressing, TLS with the system CA store or
// a CA file. Every body goes with Content-MD5 and x-amz-content-sha256, so the server checks what
// it received; a PUT's ETag is checked against the MD5 too. 5xx answers, timeouts and connection
// errors are retried with exponential back-off and jitter. Errors name the operation, the bucket
// and key, and what to do; the secret key never appears in a message or a log line.
//
// Thread contract: one Client per thread (it owns its curl handle).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "tidemark/status.h"

namespace tidemark::s3 {

struct Credentials {
  std::string access_key;
  std::string secret_key;
};

struct ClientOptions {
  std::string endpoint;  // http(s)://host[:port]
  std::string region = "us-east-1";
  bool path_style = true;  // false: virtual-hosted (https://bucket.host/key)
  std::string ca_file;     // "": the system CA store
  int timeout_ms = 30000;
  int retries = 4;       // after the first attempt
  int backoff_ms = 200;  // first back-off; doubled per retry, with jitter
  // When set and true, requests in flight stop at once and no retry starts: the request fails
  // with kAborted ("cancelled"). For a quick stop while the store hangs.
  const std::atomic<bool>* cancel = nullptr;
};

struct ObjectInfo {
  uint64_t size = 0;
  std::string etag;
};

struct Listing {
  std::vector<std::pair<std::string, uint64_t>> objects;  // key, size
  std::vector<std::string> prefixes;                      // "directories" (with a delimiter)
};

// The parsing of the store's XML answers (here rather than private to client.cc so that the fuzz
// target tests/fuzz/s3_xml_target.cc runs exactly what the client runs).
// The text of the first <tag>...</tag> in `xml`, or "".
std::string XmlField(const std::string& xml, const std::string& tag);
// XML text with its five predefined entities replaced.
std::string XmlText(std::string s);
// Every <tag>...</tag> in `xml`, in order.
std::vector<std::string> XmlAll(const std::string& xml, const std::string& tag);
// Adds the objects and common prefixes of one ListObjectsV2 page to *out; returns the
// continuation token, "" when this was the last page.
std::string ParseListPage(const std::string& body, Listing* out);

class Client {
 public:
  static Result<std::unique_ptr<Client>> Make(ClientOptions o, Credentials c);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  Status CreateBucket(const std::string& bucket);
  // That the bucket exists and these credentials may list it (one small request).
  Status CheckBucket(const std::string& bucket);
  Status PutObject(const std::string& bucket, const std::string& key,
                   std::span<const uint8_t> data);
  // The whole object, or `length` bytes from `offset` (a range read).
  Result<std::string> GetObject(const std::string& bucket, const std::string& key,
                                uint64_t offset = 0, std::optional<uint64_t> length = {});
  Result<ObjectInfo> HeadObject(const std::string& bucket, const std::string& key);
  Status DeleteObject(const std::string& bucket, const std::string& key);
  // Every object under `prefix` (ListObjectsV2, page by page); with a delimiter, the common
  // prefixes up to it as well.
  Result<Listing> List(const std::string& bucket, const std::string& prefix,
                       const std::string& delimiter = "");

  // Multipart upload. Every part but the last must be at least 5 MiB (S3's rule); each part goes
  // with its MD5 and its ETag is checked, and the completed object's ETag is checked against the
  // MD5 of the parts' MD5s.
  Result<std::string> CreateMultipartUpload(const std::string& bucket, const std::string& key);
  // Returns the part's ETag (for Complete).
  Result<std::string> UploadPart(const std::string& bucket, const std::string& key,
                                 const std::string& upload_id, int part_number,
                                 std::span<const uint8_t> data);
  Status CompleteMultipartUpload(const std::string& bucket, const std::string& key,
                                 const std::string& upload_id,
                                 const std::vector<std::string>& part_etags);
  Status AbortMultipartUpload(const std::string& bucket, const std::string& key,
                              const std::string& upload_id);
  // `data` in parts of `part_bytes`, one after another; a failed upload is aborted, so no parts
  // are left behind on the store.
  Status PutObjectMultipart(const std::string& bucket, const std::string& key,
                            std::span<const uint8_t> data, size_t part_bytes);

 private:
  struct Response;
  Client(ClientOptions o, Credentials c, void* curl);
  Result<Response> Send(const char* method, const std::string& bucket, const std::string& key,
                        std::span<const uint8_t> body, const std::string& range,
                        const std::string& query = "");
  Result<Response> Once(const char* method, const std::string& url, std::span<const uint8_t> body,
                        const std::string& range);
  Status Failure(const char* op, const std::string& bucket, const std::string& key,
                 const Response& r) const;
  std::string Url(const std::string& bucket, const std::string& key) const;

  ClientOptions opts_;
  Credentials creds_;
  void* curl_;  // CURL*
};

}  // namespace tidemark::s3
