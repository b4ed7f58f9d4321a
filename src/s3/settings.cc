#include "s3/settings.h"

#include <cctype>
#include <cstdlib>
#include <fstream>

namespace tidemark::s3 {

namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

std::string Trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t a = 0;
  while (a < s.size() && std::isspace(static_cast<unsigned char>(s[a]))) ++a;
  return s.substr(a);
}

// Reads aws_access_key_id / aws_secret_access_key of `profile` from an AWS shared-credentials
// file ("[profile]" sections of "key = value" lines).
Status ReadCredentialsFile(const std::string& path, const std::string& profile, Credentials* c) {
  std::ifstream in(path);
  if (!in) return Status::Config("cannot read the S3 credentials file " + path);
  std::string line, section;
  bool found = false;
  while (std::getline(in, line)) {
    line = Trim(line);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[' && line.back() == ']') {
      section = Trim(line.substr(1, line.size() - 2));
      continue;
    }
    if (section != profile) continue;
    const size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    const std::string k = Trim(line.substr(0, eq)), v = Trim(line.substr(eq + 1));
    if (k == "aws_access_key_id") c->access_key = v, found = true;
    if (k == "aws_secret_access_key") c->secret_key = v, found = true;
  }
  if (!found || c->access_key.empty() || c->secret_key.empty()) {
    return Status::Config("the S3 credentials file " + path + " has no aws_access_key_id and " +
                          "aws_secret_access_key in section [" + profile + "]");
  }
  return Status::Ok();
}

bool ValidBucket(const std::string& b) {
  if (b.size() < 3 || b.size() > 63) return false;
  for (char ch : b) {
    if (!(std::islower(static_cast<unsigned char>(ch)) ||
          std::isdigit(static_cast<unsigned char>(ch)) || ch == '-' || ch == '.'))
      return false;
  }
  return std::isalnum(static_cast<unsigned char>(b.front())) &&
         std::isalnum(static_cast<unsigned char>(b.back()));
}

}  // namespace

bool IsS3Url(const std::string& path) { return path.rfind("s3://", 0) == 0; }

Result<Location> ParseS3Url(const std::string& url) {
  if (!IsS3Url(url)) return Status::Config("'" + url + "' is not an s3://bucket/prefix location");
  std::string rest = url.substr(5);
  Location l;
  const size_t slash = rest.find('/');
  l.bucket = rest.substr(0, slash);
  if (slash != std::string::npos) l.prefix = rest.substr(slash + 1);
  while (!l.prefix.empty() && l.prefix.back() == '/') l.prefix.pop_back();
  if (!ValidBucket(l.bucket)) {
    return Status::Config("'" + url + "': '" + l.bucket +
                          "' is not a valid bucket name (3 to 63 lowercase letters, digits, '-' "
                          "and '.', starting and ending with a letter or digit)");
  }
  return l;
}

Result<Settings> ResolveSettings(const config::UploadConfig& u) {
  Settings s;
  ClientOptions& o = s.client;
  o.region = !u.region.empty()                    ? u.region
             : !Env("AWS_REGION").empty()         ? Env("AWS_REGION")
             : !Env("AWS_DEFAULT_REGION").empty() ? Env("AWS_DEFAULT_REGION")
                                                  : "us-east-1";
  o.endpoint = !u.endpoint.empty() ? u.endpoint : Env("AWS_ENDPOINT_URL");
  if (o.endpoint.empty()) {
    // No endpoint: AWS itself, where virtual-hosted addressing is the rule.
    o.endpoint = "https://s3." + o.region + ".amazonaws.com";
  }
  // The endpoint goes into messages and logs: it may not carry credentials (shown redacted).
  if (config::RedactUrl(o.endpoint) != o.endpoint) {
    return Status::Config("the S3 endpoint '" + config::RedactUrl(o.endpoint) +
                          "' holds credentials; give them in [upload] credentials_file or "
                          "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, not in the URL");
  }
  o.path_style = u.path_style;
  o.ca_file = u.ca_file;
  o.timeout_ms = static_cast<int>(u.timeout_ms);
  o.retries = u.retries;
  const std::string file =
      !u.credentials_file.empty() ? u.credentials_file : Env("AWS_SHARED_CREDENTIALS_FILE");
  if (!u.credentials_file.empty() || Env("AWS_ACCESS_KEY_ID").empty()) {
    if (file.empty()) {
      return Status::Config(
          "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or [upload] "
          "credentials_file (an AWS shared-credentials file)");
    }
    const std::string profile = !u.profile.empty()            ? u.profile
                                : !Env("AWS_PROFILE").empty() ? Env("AWS_PROFILE")
                                                              : "default";
    TM_RETURN_IF_ERROR(ReadCredentialsFile(file, profile, &s.credentials));
  } else {
    s.credentials = {Env("AWS_ACCESS_KEY_ID"), Env("AWS_SECRET_ACCESS_KEY")};
    if (s.credentials.secret_key.empty())
      return Status::Config("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");
  }
  if (!u.bucket.empty()) {
    TM_ASSIGN_OR_RETURN(s.location, ParseS3Url("s3://" + u.bucket));
    s.location.prefix = u.prefix;
  }
  return s;
}

}  // namespace tidemark::s3
