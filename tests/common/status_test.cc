#include <cerrno>

#include <gtest/gtest.h>

#include "ddbfs/status.h"

namespace ddbfs {
namespace {

Result<int> Half(int x) {
  if (x % 2 != 0) return InvalidArgument(std::to_string(x) + " is odd");
  return x / 2;
}

Result<int> Quarter(int x) {
  ASSIGN_OR_RETURN(int h, Half(x));
  return Half(h);
}

TEST(StatusTest, OkAndErrorCarryCodeAndMessage) {
  EXPECT_TRUE(Status().ok());
  Status s = NotFound("/a/b");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), ErrorCode::kNotFound);
  EXPECT_EQ(s.ToString(), "/a/b");
  EXPECT_EQ(s.WithContext("ls").ToString(), "ls: /a/b");
}

TEST(StatusTest, ResultPropagatesThroughAssignOrReturn) {
  EXPECT_EQ(*Quarter(8), 2);
  Result<int> r = Quarter(6);  // 6/2 = 3 is odd
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(), "3 is odd");
}

TEST(StatusTest, ResultFromOkStatusIsAnInternalError) {
  Result<int> r{Status()};
  EXPECT_EQ(r.status().code(), ErrorCode::kInternal);
}

TEST(ErrorCodeTest, TableMapsToErrnoAndExitCodes) {
  EXPECT_EQ(ErrnoFor(ErrorCode::kOk), 0);
  EXPECT_EQ(ErrnoFor(ErrorCode::kNotFound), ENOENT);
  EXPECT_EQ(ErrnoFor(ErrorCode::kNotEmpty), ENOTEMPTY);
  EXPECT_EQ(ErrnoFor(ErrorCode::kNameTooLong), ENAMETOOLONG);
  EXPECT_EQ(ErrnoFor(ErrorCode::kNoSpace), ENOSPC);
  EXPECT_EQ(ExitCodeFor(ErrorCode::kOk), 0);
  EXPECT_NE(ExitCodeFor(ErrorCode::kUnavailable), 0);
  EXPECT_EQ(ErrorCodeFromInt(5), ErrorCode::kNotEmpty);
  EXPECT_EQ(ErrorCodeFromInt(9999), ErrorCode::kInternal);
  EXPECT_EQ(NameOf(ErrorCode::kExists), "kExists");
}

}  // namespace
}  // namespace ddbfs
