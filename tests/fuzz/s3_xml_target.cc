// Fuzz target: the parsing of the S3 store's XML answers (src/s3/client.h: XmlField, XmlText,
// XmlAll, ParseListPage), which reads whatever an object store, or something posing as one,
// sends back.
//
// The first input byte picks the mode:
//   even: the rest is an answer body, parsed as every request of the client parses it (list
//         pages, errors, multipart starts and completions);
//   odd:  the rest is a list of object keys (one per line); a ListObjectsV2 page listing them,
//         escaped as S3 escapes XML text, must parse back to exactly those keys and sizes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_util.h"
#include "s3/client.h"

using namespace tidemark;

namespace {

std::string Escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

void ParseAnswer(const std::string& body) {
  s3::Listing listing;
  const std::string token = s3::ParseListPage(body, &listing);
  if (!token.empty() && s3::XmlField(body, "IsTruncated") != "true")
    fuzz::Fail("a continuation token from a page that is not truncated");
  for (const char* tag : {"Code", "Message", "UploadId", "ETag", "RequestId"})
    s3::XmlText(s3::XmlField(body, tag));
  for (const std::string& part : s3::XmlAll(body, "Part")) s3::XmlField(part, "ETag");
}

void RoundTrip(const std::string& text) {
  std::vector<std::string> keys;
  size_t from = 0;
  while (from <= text.size() && keys.size() < 64) {
    const size_t nl = text.find('\n', from);
    keys.push_back(text.substr(from, nl == std::string::npos ? std::string::npos : nl - from));
    if (nl == std::string::npos) break;
    from = nl + 1;
  }
  std::string body =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult "
      "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>bucket</Name><Prefix></Prefix>"
      "<KeyCount>" +
      std::to_string(keys.size()) + "</KeyCount><IsTruncated>true</IsTruncated>";
  for (size_t i = 0; i < keys.size(); ++i) {
    body += "<Contents><Key>" + Escape(keys[i]) + "</Key><LastModified>2026-11-20T14:03:00.000Z" +
            "</LastModified><ETag>&quot;9f86d081884c7d65&quot;</ETag><Size>" + std::to_string(i) +
            "</Size><StorageClass>STANDARD</StorageClass></Contents>";
  }
  const std::string next = keys.empty() ? "t" : keys.back() + "/next";
  body += "<NextContinuationToken>" + Escape(next) + "</NextContinuationToken></ListBucketResult>";
  s3::Listing listing;
  const std::string token = s3::ParseListPage(body, &listing);
  if (token != next) fuzz::Fail("continuation token '" + token + "' is not '" + next + "'");
  if (listing.objects.size() != keys.size())
    fuzz::Fail(std::to_string(listing.objects.size()) + " objects parsed, " +
               std::to_string(keys.size()) + " listed");
  for (size_t i = 0; i < keys.size(); ++i) {
    if (listing.objects[i].first != keys[i] || listing.objects[i].second != i)
      fuzz::Fail("key '" + keys[i] + "' parsed as '" + listing.objects[i].first + "'");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string rest(reinterpret_cast<const char*>(data + 1), size - 1);
  if (data[0] % 2 == 0)
    ParseAnswer(rest);
  else
    RoundTrip(rest);
  return 0;
}
