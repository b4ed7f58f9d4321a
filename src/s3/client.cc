#include "s3/client.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <strings.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "common/log.h"

namespace tidemark::s3 {

namespace {

std::once_flag g_curl_init;

std::string Hex(const unsigned char* p, size_t n) {
  static const char* kDigits = "0123456789abcdef";
  std::string out(2 * n, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = kDigits[p[i] >> 4];
    out[2 * i + 1] = kDigits[p[i] & 15];
  }
  return out;
}

std::vector<unsigned char> Digest(const EVP_MD* md, std::span<const uint8_t> data) {
  std::vector<unsigned char> out(EVP_MAX_MD_SIZE);
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out.data(), &len, md, nullptr);
  out.resize(len);
  return out;
}

std::string Base64(const std::vector<unsigned char>& v) {
  std::string out(4 * ((v.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), v.data(),
                                static_cast<int>(v.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

// Percent-encoding of everything outside the unreserved set, as SigV4's canonical form wants
// it; an object key keeps its '/' (a query value does not).
std::string Encode(const std::string& v, bool keep_slash) {
  std::string out;
  char buf[4];
  for (unsigned char ch : v) {
    if (std::isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~' ||
        (keep_slash && ch == '/')) {
      out += static_cast<char>(ch);
    } else {
      std::snprintf(buf, sizeof(buf), "%%%02X", ch);
      out += buf;
    }
  }
  return out;
}

std::string Unquote(std::string etag) {
  if (etag.size() >= 2 && etag.front() == '"') etag = etag.substr(1, etag.size() - 2);
  return etag;
}

std::span<const uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

size_t OnBody(char* p, size_t size, size_t n, void* ctx) {
  static_cast<std::string*>(ctx)->append(p, size * n);
  return size * n;
}

// Progress callback: a non-zero return aborts the transfer (CURLE_ABORTED_BY_CALLBACK).
int OnProgress(void* ctx, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<const std::atomic<bool>*>(ctx)->load() ? 1 : 0;
}

bool Retriable(CURLcode c) {
  switch (c) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
      return true;
    default:
      return false;
  }
}

}  // namespace

// The text of <tag>...</tag> in an S3 XML answer, or "".
std::string XmlField(const std::string& xml, const std::string& tag) {
  const size_t a = xml.find("<" + tag + ">");
  if (a == std::string::npos) return "";
  const size_t from = a + tag.size() + 2;
  const size_t b = xml.find("</" + tag + ">", from);
  return b == std::string::npos ? "" : xml.substr(from, b - from);
}

// XML text with its five predefined entities replaced.
std::string XmlText(std::string s) {
  static const std::pair<const char*, char> kEntities[] = {
      {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}, {"&amp;", '&'}};
  for (const auto& [name, ch] : kEntities) {
    const std::string n(name);
    for (size_t at = s.find(n); at != std::string::npos; at = s.find(n, at + 1))
      s.replace(at, n.size(), 1, ch);
  }
  return s;
}

// Every <tag>...</tag> in `xml`, in order.
std::vector<std::string> XmlAll(const std::string& xml, const std::string& tag) {
  std::vector<std::string> out;
  const std::string open = "<" + tag + ">", close = "</" + tag + ">";
  for (size_t a = xml.find(open); a != std::string::npos; a = xml.find(open, a)) {
    const size_t b = xml.find(close, a + open.size());
    if (b == std::string::npos) break;
    out.push_back(xml.substr(a + open.size(), b - a - open.size()));
    a = b + close.size();
  }
  return out;
}

std::string ParseListPage(const std::string& body, Listing* out) {
  for (const std::string& c : XmlAll(body, "Contents")) {
    out->objects.emplace_back(XmlText(XmlField(c, "Key")),
                              std::strtoull(XmlField(c, "Size").c_str(), nullptr, 10));
  }
  for (const std::string& c : XmlAll(body, "CommonPrefixes"))
    out->prefixes.push_back(XmlText(XmlField(c, "Prefix")));
  if (XmlField(body, "IsTruncated") != "true") return "";
  return XmlText(XmlField(body, "NextContinuationToken"));
}

struct Client::Response {
  long status = 0;
  std::string body;
  std::string headers;  // raw header lines
  std::string Header(const std::string& name) const {
    // Case-insensitive "name: value" at a line start.
    size_t pos = 0;
    while (pos < headers.size()) {
      const size_t eol = headers.find("\r\n", pos);
      const std::string line =
          headers.substr(pos, eol == std::string::npos ? std::string::npos : eol - pos);
      if (line.size() > name.size() && line[name.size()] == ':' &&
          strncasecmp(line.c_str(), name.c_str(), name.size()) == 0) {
        size_t v = name.size() + 1;
        while (v < line.size() && line[v] == ' ') ++v;
        return line.substr(v);
      }
      if (eol == std::string::npos) break;
      pos = eol + 2;
    }
    return "";
  }
};

Result<std::unique_ptr<Client>> Client::Make(ClientOptions o, Credentials c) {
  if (o.endpoint.rfind("http://", 0) != 0 && o.endpoint.rfind("https://", 0) != 0) {
    return Status::Config("S3 endpoint '" + o.endpoint +
                          "' must start with http:// or https:// ([upload] endpoint or "
                          "AWS_ENDPOINT_URL)");
  }
  if (c.access_key.empty() || c.secret_key.empty()) {
    return Status::Config(
        "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or the [upload] "
        "credentials file)");
  }
  while (!o.endpoint.empty() && o.endpoint.back() == '/') o.endpoint.pop_back();
  std::call_once(g_curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return Status::Unsupported("curl_easy_init failed");
  return std::unique_ptr<Client>(new Client(std::move(o), std::move(c), curl));
}

Client::Client(ClientOptions o, Credentials c, void* curl)
    : opts_(std::move(o)), creds_(std::move(c)), curl_(curl) {}

Client::~Client() { curl_easy_cleanup(static_cast<CURL*>(curl_)); }

std::string Client::Url(const std::string& bucket, const std::string& key) const {
  std::string path = key.empty() ? "" : "/" + Encode(key, /*keep_slash=*/true);
  if (opts_.path_style) return opts_.endpoint + "/" + bucket + path;
  const size_t scheme = opts_.endpoint.find("://") + 3;
  return opts_.endpoint.substr(0, scheme) + bucket + "." + opts_.endpoint.substr(scheme) +
         (path.empty() ? "/" : path);
}

Result<Client::Response> Client::Once(const char* method, const std::string& url,
                                      std::span<const uint8_t> body, const std::string& range) {
  CURL* c = static_cast<CURL*>(curl_);
  curl_easy_reset(c);
  Response r;
  char err[CURL_ERROR_SIZE] = {0};
  const std::string sigv4 = "aws:amz:" + opts_.region + ":s3";
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
  curl_easy_setopt(c, CURLOPT_AWS_SIGV4, sigv4.c_str());
  curl_easy_setopt(c, CURLOPT_USERNAME, creds_.access_key.c_str());
  curl_easy_setopt(c, CURLOPT_PASSWORD, creds_.secret_key.c_str());
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(opts_.timeout_ms));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(std::min(opts_.timeout_ms, 10000)));
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, OnBody);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &r.headers);
  if (!opts_.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, opts_.ca_file.c_str());
  if (opts_.cancel != nullptr) {
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, OnProgress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, const_cast<std::atomic<bool>*>(opts_.cancel));
  }
  struct curl_slist* hs = nullptr;
  // RGW and AWS check the payload hash that SigV4 signs; curl signs the value given here.
  const std::string sha = "x-amz-content-sha256: " + Hex(Digest(EVP_sha256(), body).data(), 32);
  hs = curl_slist_append(hs, sha.c_str());
  if (std::string(method) == "HEAD") {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else if (std::string(method) == "PUT" || std::string(method) == "POST") {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    const std::string md5 = "Content-MD5: " + Base64(Digest(EVP_md5(), body));
    hs = curl_slist_append(hs, md5.c_str());
    hs = curl_slist_append(hs, "Content-Type: application/octet-stream");
  } else if (std::string(method) != "GET") {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  }
  if (!range.empty()) hs = curl_slist_append(hs, ("Range: " + range).c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, hs);
  const CURLcode rc = curl_easy_perform(c);
  curl_slist_free_all(hs);
  // (kIncomplete only between Once and Send: Send reports a cancelled request as kAborted.)
  if (rc == CURLE_ABORTED_BY_CALLBACK) return Status::Incomplete("cancelled (stopping)");
  if (rc != CURLE_OK) {
    Status st = Status::Unsupported(std::string(curl_easy_strerror(rc)) +
                                    (err[0] ? std::string(": ") + err : ""));
    return Retriable(rc) ? Status::Aborted(st.message()) : st;
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  return r;
}

Result<Client::Response> Client::Send(const char* method, const std::string& bucket,
                                      const std::string& key, std::span<const uint8_t> body,
                                      const std::string& range, const std::string& query) {
  // (curl's SigV4 in 7.88 signs a bare "?uploads" wrongly; "uploads=" is the same query.)
  const std::string url = Url(bucket, key) + (query.empty() ? "" : "?" + query);
  std::mt19937 rng(std::random_device{}());
  int64_t backoff = opts_.backoff_ms;
  for (int attempt = 0;; ++attempt) {
    if (opts_.cancel != nullptr && opts_.cancel->load())
      return Status::Aborted(std::string(method) + " " + url + ": cancelled (stopping)");
    auto r = Once(method, url, body, range);
    if (!r.ok() && r.status().Is(Errc::kIncomplete))
      return Status::Aborted(std::string(method) + " " + url + ": cancelled (stopping)");
    const bool transient =
        (!r.ok() && r.status().Is(Errc::kAborted)) || (r.ok() && r->status >= 500);
    if (!transient || attempt >= opts_.retries) {
      if (!r.ok()) {
        return Status::Unsupported(
            std::string(method) + " " + url + ": " + r.status().message() +
            (transient ? " (after " + std::to_string(attempt + 1) + " attempts)" : "") +
            "; check [upload] endpoint / AWS_ENDPOINT_URL and that the "
            "store is reachable");
      }
      return r;
    }
    // Full jitter: a random wait up to the doubled back-off, so retries of many workers spread.
    const int64_t wait = std::uniform_int_distribution<int64_t>(backoff / 2, backoff)(rng);
    TM_LOG_DEBUG(
        "s3: %s %s: %s; retrying in %lld ms", method, url.c_str(),
        r.ok() ? ("HTTP " + std::to_string(r->status)).c_str() : r.status().message().c_str(),
        static_cast<long long>(wait));
    for (int64_t slept = 0; slept < wait; slept += 50) {
      if (opts_.cancel != nullptr && opts_.cancel->load()) break;  // the next turn returns
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min<int64_t>(50, wait - slept)));
    }
    backoff *= 2;
  }
}

Status Client::Failure(const char* op, const std::string& bucket, const std::string& key,
                       const Response& r) const {
  const std::string code = XmlField(r.body, "Code");
  const std::string what = std::string(op) + " " + bucket + (key.empty() ? "" : "/" + key) +
                           " at " + opts_.endpoint + ": ";
  if (code == "SignatureDoesNotMatch")
    return Status::Config(what + "the secret key does not match access key " + creds_.access_key +
                          " (HTTP 403; check AWS_SECRET_ACCESS_KEY or the [upload] credentials)");
  if (code == "InvalidAccessKeyId")
    return Status::Config(what + "access key " + creds_.access_key +
                          " is unknown to this store (HTTP 403; check AWS_ACCESS_KEY_ID)");
  if (code == "AccessDenied")
    return Status::Config(what + "access denied for access key " + creds_.access_key +
                          " (HTTP 403; the bucket's policy or the user's permissions)");
  if (code == "NoSuchBucket")
    return Status::NotFound(what + "bucket '" + bucket +
                            "' does not exist (create it, or fix [upload] bucket)");
  if (code == "NoSuchKey" || (r.status == 404 && code.empty()))
    return Status::NotFound(what + "no such object");
  if (code == "RequestTimeTooSkewed")
    return Status::Config(what +
                          "the store says this machine's clock is off "
                          "(RequestTimeTooSkewed); synchronise it (chrony, "
                          "systemd-timesyncd)");
  if (code == "AuthorizationHeaderMalformed" || code == "InvalidRegion")
    return Status::Config(what + "wrong region '" + opts_.region + "' (" + code + ": " +
                          XmlField(r.body, "Message") + "; check [upload] region / AWS_REGION)");
  return Status::Unsupported(
      what + "HTTP " + std::to_string(r.status) + (code.empty() ? "" : " " + code) +
      (XmlField(r.body, "Message").empty() ? "" : ": " + XmlField(r.body, "Message")));
}

Status Client::CreateBucket(const std::string& bucket) {
  TM_ASSIGN_OR_RETURN(Response r, Send("PUT", bucket, "", {}, ""));
  if (r.status == 200) return Status::Ok();
  if (XmlField(r.body, "Code") == "BucketAlreadyOwnedByYou") return Status::Ok();
  return Failure("create bucket", bucket, "", r);
}

Status Client::CheckBucket(const std::string& bucket) {
  TM_ASSIGN_OR_RETURN(Response r, Send("GET", bucket, "", {}, "", "list-type=2&max-keys=1"));
  if (r.status == 200) return Status::Ok();
  return Failure("list", bucket, "", r);
}

Status Client::PutObject(const std::string& bucket, const std::string& key,
                         std::span<const uint8_t> data) {
  TM_ASSIGN_OR_RETURN(Response r, Send("PUT", bucket, key, data, ""));
  if (r.status != 200) return Failure("put", bucket, key, r);
  // A single-part ETag is the MD5 of the body: what the store kept is what was sent.
  const std::string etag = Unquote(r.Header("ETag"));
  const std::string md5 = Hex(Digest(EVP_md5(), data).data(), 16);
  if (!etag.empty() && etag != md5) {
    return Status::Corrupt("put " + bucket + "/" + key + ": the store's ETag " + etag +
                           " is not the MD5 of what was sent (" + md5 + ")");
  }
  return Status::Ok();
}

Result<std::string> Client::GetObject(const std::string& bucket, const std::string& key,
                                      uint64_t offset, std::optional<uint64_t> length) {
  std::string range;
  if (offset > 0 || length) {
    range = "bytes=" + std::to_string(offset) + "-" +
            (length ? std::to_string(offset + *length - 1) : "");
  }
  TM_ASSIGN_OR_RETURN(Response r, Send("GET", bucket, key, {}, range));
  if (r.status != 200 && r.status != 206) return Failure("get", bucket, key, r);
  return std::move(r.body);
}

Result<ObjectInfo> Client::HeadObject(const std::string& bucket, const std::string& key) {
  TM_ASSIGN_OR_RETURN(Response r, Send("HEAD", bucket, key, {}, ""));
  if (r.status != 200) return Failure("head", bucket, key, r);
  ObjectInfo info;
  info.size = std::strtoull(r.Header("Content-Length").c_str(), nullptr, 10);
  info.etag = r.Header("ETag");
  return info;
}

Status Client::DeleteObject(const std::string& bucket, const std::string& key) {
  TM_ASSIGN_OR_RETURN(Response r, Send("DELETE", bucket, key, {}, ""));
  if (r.status != 204 && r.status != 200) return Failure("delete", bucket, key, r);
  return Status::Ok();
}

Result<Listing> Client::List(const std::string& bucket, const std::string& prefix,
                             const std::string& delimiter) {
  Listing out;
  std::string token;
  for (;;) {
    // Parameters in SigV4's canonical (sorted) order.
    std::string q;
    if (!token.empty()) q += "continuation-token=" + Encode(token, /*keep_slash=*/false) + "&";
    if (!delimiter.empty()) q += "delimiter=" + Encode(delimiter, /*keep_slash=*/false) + "&";
    q += "list-type=2&prefix=" + Encode(prefix, /*keep_slash=*/false);
    TM_ASSIGN_OR_RETURN(Response r, Send("GET", bucket, "", {}, "", q));
    if (r.status != 200) return Failure("list", bucket, prefix, r);
    token = ParseListPage(r.body, &out);
    if (token.empty()) break;
  }
  return out;
}

Result<std::string> Client::CreateMultipartUpload(const std::string& bucket,
                                                  const std::string& key) {
  TM_ASSIGN_OR_RETURN(Response r, Send("POST", bucket, key, {}, "", "uploads="));
  if (r.status != 200) return Failure("start multipart upload of", bucket, key, r);
  std::string id = XmlField(r.body, "UploadId");
  if (id.empty())
    return Status::Corrupt("start multipart upload of " + bucket + "/" + key + ": no UploadId");
  return id;
}

Result<std::string> Client::UploadPart(const std::string& bucket, const std::string& key,
                                       const std::string& upload_id, int part_number,
                                       std::span<const uint8_t> data) {
  TM_ASSIGN_OR_RETURN(Response r,
                      Send("PUT", bucket, key, data, "",
                           "partNumber=" + std::to_string(part_number) + "&uploadId=" + upload_id));
  if (r.status != 200) return Failure("upload a part of", bucket, key, r);
  const std::string etag = Unquote(r.Header("ETag"));
  const std::string md5 = Hex(Digest(EVP_md5(), data).data(), 16);
  if (etag != md5) {
    return Status::Corrupt("upload part " + std::to_string(part_number) + " of " + bucket + "/" +
                           key + ": the store's ETag '" + etag + "' is not the part's MD5 " + md5);
  }
  return etag;
}

Status Client::CompleteMultipartUpload(const std::string& bucket, const std::string& key,
                                       const std::string& upload_id,
                                       const std::vector<std::string>& part_etags) {
  std::string xml = "<CompleteMultipartUpload>";
  std::string md5s;  // the parts' binary MD5s: the object's ETag is their MD5, "-<parts>"
  for (size_t i = 0; i < part_etags.size(); ++i) {
    xml += "<Part><PartNumber>" + std::to_string(i + 1) + "</PartNumber><ETag>\"" + part_etags[i] +
           "\"</ETag></Part>";
    for (size_t k = 0; k + 1 < part_etags[i].size(); k += 2)
      md5s += static_cast<char>(std::stoi(part_etags[i].substr(k, 2), nullptr, 16));
  }
  xml += "</CompleteMultipartUpload>";
  TM_ASSIGN_OR_RETURN(Response r,
                      Send("POST", bucket, key, Bytes(xml), "", "uploadId=" + upload_id));
  // An error can also come inside a 200 (S3 streams the answer while it assembles the parts).
  if (r.status != 200 || !XmlField(r.body, "Code").empty())
    return Failure("complete multipart upload of", bucket, key, r);
  const std::string want =
      Hex(Digest(EVP_md5(), Bytes(md5s)).data(), 16) + "-" + std::to_string(part_etags.size());
  std::string got = XmlField(r.body, "ETag");  // quoted, as "..." or &quot;...&quot;
  for (const std::string q : {"&quot;", "\""}) {
    if (got.size() >= 2 * q.size() && got.compare(0, q.size(), q) == 0 &&
        got.compare(got.size() - q.size(), q.size(), q) == 0)
      got = got.substr(q.size(), got.size() - 2 * q.size());
  }
  if (got.empty()) {  // Ceph RGW (16.2) answers with an empty ETag: ask for the object's
    TM_ASSIGN_OR_RETURN(ObjectInfo info, HeadObject(bucket, key));
    got = Unquote(info.etag);
  }
  if (got != want) {
    return Status::Corrupt("complete multipart upload of " + bucket + "/" + key +
                           ": the store's ETag '" + got + "' is not the parts' checksum " + want);
  }
  return Status::Ok();
}

Status Client::AbortMultipartUpload(const std::string& bucket, const std::string& key,
                                    const std::string& upload_id) {
  TM_ASSIGN_OR_RETURN(Response r, Send("DELETE", bucket, key, {}, "", "uploadId=" + upload_id));
  if (r.status != 204 && r.status != 200)
    return Failure("abort multipart upload of", bucket, key, r);
  return Status::Ok();
}

Status Client::PutObjectMultipart(const std::string& bucket, const std::string& key,
                                  std::span<const uint8_t> data, size_t part_bytes) {
  TM_ASSIGN_OR_RETURN(std::string id, CreateMultipartUpload(bucket, key));
  std::vector<std::string> etags;
  Status st;
  for (size_t off = 0; st.ok() && (off < data.size() || etags.empty()); off += part_bytes) {
    auto etag = UploadPart(bucket, key, id, static_cast<int>(etags.size() + 1),
                           data.subspan(off, std::min(part_bytes, data.size() - off)));
    if (etag.ok())
      etags.push_back(*etag);
    else
      st = etag.status();
  }
  if (st.ok()) st = CompleteMultipartUpload(bucket, key, id, etags);
  if (!st.ok()) {
    if (Status a = AbortMultipartUpload(bucket, key, id); !a.ok())
      TM_LOG_WARN("%s (the incomplete upload %s may hold parts on the store)", a.message().c_str(),
                  id.c_str());
  }
  return st;
}

}  // namespace tidemark::s3
