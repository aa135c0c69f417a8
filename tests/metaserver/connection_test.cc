// The metaserver's PostgreSQL sessions notice a dead or cut-off peer within
// seconds (metaserver/store/connection.{h,cc}; docs/metadata.md,
// "PostgreSQL session limits"): libpq's keepalives and tcp_user_timeout on
// the metaserver's side, the server's tcp_keepalives_* on PostgreSQL's.

#include <string>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "metaserver/store/connection.h"
#include "pg_instance.h"

namespace ddbfs::meta::store {
namespace {

TEST(ConnectionTest, UrlsGetLivenessParametersUnlessTheySetThem) {
  EXPECT_EQ(WithLivenessParams("postgresql://u@h:5432/db"),
            "postgresql://u@h:5432/db?connect_timeout=5&keepalives=1&keepalives_idle=5"
            "&keepalives_interval=2&keepalives_count=3&tcp_user_timeout=10000");
  // The URL's own values stay.
  const std::string own = WithLivenessParams(
      "postgresql://u@h/db?keepalives_idle=30&tcp_user_timeout=60000&connect_timeout=9");
  EXPECT_NE(own.find("keepalives_idle=30"), std::string::npos) << own;
  EXPECT_EQ(own.find("keepalives_idle=5"), std::string::npos) << own;
  EXPECT_EQ(own.find("tcp_user_timeout=10000"), std::string::npos) << own;
  EXPECT_EQ(own.find("connect_timeout=5"), std::string::npos) << own;
  EXPECT_NE(own.find("&keepalives_count=3"), std::string::npos) << own;
  // key=value strings too.
  EXPECT_EQ(WithLivenessParams("host=h dbname=db keepalives=0"),
            "host=h dbname=db keepalives=0 connect_timeout=5 keepalives_idle=5 "
            "keepalives_interval=2 keepalives_count=3 tcp_user_timeout=10000");
}

TEST(ConnectionTest, EverySessionSetsThePeerChecksOfItsServerSideToSeconds) {
  const std::string url = ddbfs::testing::PgInstance::Shared().NewDatabaseUrl();  // over TCP
  auto conn = Connection::Open(url, SessionLimits());
  ASSERT_TRUE(conn.ok()) << conn.status();
  pqxx::nontransaction txn((*conn)->raw());
  auto show = [&](const std::string& name) {
    return txn.exec1("SHOW " + name)[0].as<std::string>();
  };
  EXPECT_EQ(show("tcp_keepalives_idle"), "5");
  EXPECT_EQ(show("tcp_keepalives_interval"), "2");
  EXPECT_EQ(show("tcp_keepalives_count"), "3");
  EXPECT_EQ(show("tcp_user_timeout"), "10000");
  EXPECT_EQ(show("client_connection_check_interval"), "2s");
}

}  // namespace
}  // namespace ddbfs::meta::store
