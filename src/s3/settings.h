// Where backups live in object storage, and how to reach it: `s3://bucket/prefix` locations,
// and the client settings resolved from the AWS environment (AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ENDPOINT_URL, AWS_SHARED_CREDENTIALS_FILE, AWS_PROFILE)
// overridden by the [upload] section. The secret key is only ever handed to the client.
#pragma once

#include <string>

#include "config/config.h"
#include "s3/client.h"
#include "tidemark/status.h"

namespace tidemark::s3 {

struct Location {
  std::string bucket;
  std::string prefix;  // without leading or trailing '/'; "" for the bucket's root

  // The object key of `rel` (a path relative to the prefix).
  std::string Key(const std::string& rel) const {
    return prefix.empty() ? rel : prefix + "/" + rel;
  }
  std::string Url() const { return "s3://" + bucket + (prefix.empty() ? "" : "/" + prefix); }
};

bool IsS3Url(const std::string& path);
// "s3://bucket[/prefix]"; the bucket must be a valid S3 bucket name.
Result<Location> ParseS3Url(const std::string& url);

struct Settings {
  ClientOptions client;
  Credentials credentials;
  Location location;  // from [upload] bucket/prefix (empty bucket when not set)
};

// Resolves endpoint, region, addressing, CA file and credentials. Fails (exit 2) naming what is
// missing; an endpoint is required unless the region makes it AWS
// (https://s3.REGION.amazonaws.com).
Result<Settings> ResolveSettings(const config::UploadConfig& u);

}  // namespace tidemark::s3
