// The S3 client against a real S3 implementation (tests/s3_gateway.h): byte-exact objects,
// range reads, multipart with abort, and the errors an operator meets.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "s3/client.h"
#include "s3_gateway.h"

namespace tidemark {
namespace {

// One gateway for the whole program (every s3 test file uses it).
::testing::Environment* const kGateway =
    ::testing::AddGlobalTestEnvironment(new testing::GatewayEnvironment);

using testing::S3Test;

TEST_F(S3Test, PutGetHeadAndRangeReadsAreByteExact) {
  auto c = Make(gw().secret);
  ASSERT_TRUE(c->CreateBucket("roundtrip").ok());
  ASSERT_TRUE(c->CreateBucket("roundtrip").ok()) << "creating an owned bucket again is fine";
  std::string data(3 * 1024 * 1024 + 17, '\0');
  std::mt19937_64 rng(3);
  for (auto& ch : data) ch = static_cast<char>(rng());
  const std::string key = "site-a/prod/topics/orders/0/00000000000000000000.tmseg";
  Status put = c->PutObject(
      "roundtrip", key,
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(data.data()), data.size()));
  ASSERT_TRUE(put.ok()) << put.message();
  auto head = c->HeadObject("roundtrip", key);
  ASSERT_TRUE(head.ok()) << head.status().message();
  EXPECT_EQ(head->size, data.size());
  auto all = c->GetObject("roundtrip", key);
  ASSERT_TRUE(all.ok()) << all.status().message();
  EXPECT_TRUE(*all == data) << "the object read back differs";
  auto part = c->GetObject("roundtrip", key, 1 << 20, 4097);
  ASSERT_TRUE(part.ok()) << part.status().message();
  EXPECT_TRUE(*part == data.substr(1 << 20, 4097));
  auto tail = c->GetObject("roundtrip", key, data.size() - 10);
  ASSERT_TRUE(tail.ok()) << tail.status().message();
  EXPECT_TRUE(*tail == data.substr(data.size() - 10));

  auto missing = c->GetObject("roundtrip", "no/such/object");
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(missing.status().Is(Errc::kNotFound)) << missing.status().message();
}

TEST_F(S3Test, MultipartUploadsAreByteExactAndAbortsLeaveNothing) {
  auto c = Make(gw().secret);
  ASSERT_TRUE(c->CreateBucket("multipart").ok());
  // Three parts: 5 MiB, 5 MiB and the rest (S3's minimum part size is 5 MiB but for the last).
  std::string data(10 * 1024 * 1024 + 12345, '\0');
  std::mt19937_64 rng(9);
  for (auto& ch : data) ch = static_cast<char>(rng());
  const auto bytes =
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(data.data()), data.size());
  Status st = c->PutObjectMultipart("multipart", "big.tmseg", bytes, 5 * 1024 * 1024);
  ASSERT_TRUE(st.ok()) << st.message();
  auto head = c->HeadObject("multipart", "big.tmseg");
  ASSERT_TRUE(head.ok()) << head.status().message();
  EXPECT_EQ(head->size, data.size());
  EXPECT_NE(head->etag.find("-3"), std::string::npos) << head->etag;
  auto back = c->GetObject("multipart", "big.tmseg");
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_TRUE(*back == data) << "the object read back differs";

  // An aborted upload: its id is gone, and the object never appears.
  auto id = c->CreateMultipartUpload("multipart", "aborted");
  ASSERT_TRUE(id.ok()) << id.status().message();
  ASSERT_TRUE(c->UploadPart("multipart", "aborted", *id, 1, bytes.subspan(0, 1 << 20)).ok());
  ASSERT_TRUE(c->AbortMultipartUpload("multipart", "aborted", *id).ok());
  auto late = c->UploadPart("multipart", "aborted", *id, 2, bytes.subspan(0, 1 << 20));
  EXPECT_FALSE(late.ok());
  auto gone = c->HeadObject("multipart", "aborted");
  ASSERT_FALSE(gone.ok());
  EXPECT_TRUE(gone.status().Is(Errc::kNotFound)) << gone.status().message();
}

TEST_F(S3Test, AWrongSecretIsAClear403ThatNeverShowsASecret) {
  const std::string wrong = "0123456789abcdef0123456789abcdef01234567";
  auto c = Make(wrong);
  Status st = c->CreateBucket("denied");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("secret key does not match access key " + gw().key),
            std::string::npos)
      << st.message();
  EXPECT_NE(st.message().find("403"), std::string::npos) << st.message();
  EXPECT_EQ(st.message().find(wrong), std::string::npos) << st.message();
  EXPECT_EQ(st.message().find(gw().secret), std::string::npos) << st.message();
}

TEST_F(S3Test, AMissingBucketIsNamed) {
  auto c = Make(gw().secret);
  Status st = c->PutObject("no-such-bucket", "k", {});
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(st.Is(Errc::kNotFound)) << st.message();
  EXPECT_NE(st.message().find("bucket 'no-such-bucket' does not exist"), std::string::npos)
      << st.message();
}

TEST_F(S3Test, AnUnreachableEndpointIsRetriedThenNamed) {
  auto c = Make(gw().secret, "http://127.0.0.1:1");
  auto r = c->GetObject("b", "k");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("http://127.0.0.1:1/b/k"), std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find("after 2 attempts"), std::string::npos)
      << r.status().message();

  s3::ClientOptions bad;
  bad.endpoint = "127.0.0.1:9000";
  auto m = s3::Client::Make(bad, {"k", "s"});
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("must start with http:// or https://"), std::string::npos);
}

}  // namespace
}  // namespace tidemark
