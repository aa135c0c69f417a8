// What docs/deploy.md installs (scripts/deploy/): the systemd units pass
// `systemd-analyze verify` with no warning, `cmake --install` puts the units
// and the example configs in place, and every option of the example configs
// is one the programs have and accept: the metaserver and a chunk server are
// started from the examples (only addresses, paths and the database
// changed), a client reaches them through the example client.conf, and a
// mount takes the options of the example mount.env.

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "ddbfs/client.h"
#include "pg_instance.h"
#include "process.h"
#include "test_files.h"
#include "test_keys.h"

namespace ddbfs::testing {
namespace {

const std::string kDeploy = std::string(DDBFS_SOURCE_DIR) + "/scripts/deploy";
const std::string kBin = std::string(DDBFS_BINARY_DIR) + "/bin";

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void Spit(const std::string& path, const std::string& text, mode_t mode = 0644) {
  std::ofstream(path) << text;
  ::chmod(path.c_str(), mode);
}

std::string ReplaceAll(std::string s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
    s.replace(at, from.size(), to);
  }
  return s;
}

// `systemd-analyze verify` of one unit: its output (warnings included) and
// exit code. The unit files are in `dir`; `unit` may name an instance.
CommandResult Verify(const std::string& dir, const std::string& unit) {
  return RunCommand({"systemd-analyze", "verify", "--man=no", dir + "/" + unit}, "",
                    std::chrono::seconds(60));
}

// The units as installed, with the programs of this build.
std::string UnitsIn(const std::string& dir) {
  for (const char* unit :
       {"ddbfs-metaserver.service", "ddbfs-chunkserver@.service", "ddbfs-mount@.service"}) {
    std::string text = Slurp(kDeploy + "/" + unit + ".in");
    text = ReplaceAll(text, "@DDBFS_BINDIR@", kBin);
    text = ReplaceAll(text, "@DDBFS_EXAMPLES_DIR@", "/usr/share/doc/ddbfs/examples");
    Spit(dir + "/" + unit, text);
  }
  return dir;
}

TEST(DeployTest, SystemdUnitsPassSystemdAnalyzeVerify) {
  TempDir tmp("ddbfs-units");
  const std::string dir = UnitsIn(tmp.path());
  for (const char* unit : {"ddbfs-metaserver.service", "ddbfs-chunkserver@disk1.service",
                           "ddbfs-mount@media-ddbfs.service"}) {
    CommandResult r = Verify(dir, unit);
    EXPECT_EQ(r.exit_code, 0) << unit << ": " << r.out << r.err;
    EXPECT_EQ(r.out + r.err, "") << unit << " has warnings";
  }
  // The check itself catches a unit systemd would not take as written.
  std::string bad = Slurp(dir + "/ddbfs-metaserver.service");
  bad = ReplaceAll(bad, "Restart=always", "Restart=sometimes");
  Spit(dir + "/ddbfs-bad.service", bad);
  CommandResult r = Verify(dir, "ddbfs-bad.service");
  EXPECT_NE(r.out + r.err, "");
}

TEST(DeployTest, CmakeInstallPutsUnitsAndExamplesInPlace) {
  TempDir prefix("ddbfs-install");
  CommandResult r = RunCommand(
      {"cmake", "--install", DDBFS_BINARY_DIR, "--component", "deploy", "--prefix", prefix.path()},
      "", std::chrono::seconds(60));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const std::string units = prefix.path() + "/lib/systemd/system/";
  const std::string examples = prefix.path() + "/share/doc/ddbfs/examples/";
  EXPECT_NE(Slurp(units + "ddbfs-metaserver.service")
                .find("/bin/ddbfs-metaserver --config /etc/ddbfs/metaserver.conf"),
            std::string::npos);
  EXPECT_NE(Slurp(units + "ddbfs-chunkserver@.service")
                .find("/bin/ddbfs-chunkserver --config /etc/ddbfs/chunkserver-%i.conf"),
            std::string::npos);
  EXPECT_NE(Slurp(units + "ddbfs-mount@.service").find("/bin/ddbfs-mount %f"), std::string::npos);
  for (const char* f : {"metaserver.conf", "chunkserver.conf", "client.conf", "mount.env"}) {
    EXPECT_TRUE(std::filesystem::exists(examples + f)) << f;
  }
  // No placeholder left unconfigured.
  for (const auto& e : std::filesystem::directory_iterator(units)) {
    EXPECT_EQ(Slurp(e.path()).find('@' + std::string("DDBFS")), std::string::npos) << e.path();
  }
}

// The fstab lines of docs/deploy.md, as mount(8) hands them to mount.ddbfs
// (-f: say what would run).
TEST(DeployTest, FstabLinesOfTheGuideGiveTheMountItsOptions) {
  const std::vector<std::string> env = {"DDBFS_MOUNT_PROGRAM=" + kBin + "/ddbfs-mount"};
  CommandResult r = RunCommand(
      {kBin + "/mount.ddbfs", "ddbfs", "/media/ddbfs", "-f", "-o", "_netdev,allow_other,noatime"},
      "", std::chrono::seconds(30), env);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("ddbfs-mount /media/ddbfs -o allow_other,noatime"), std::string::npos)
      << r.out;
  r = RunCommand({kBin + "/mount.ddbfs", "10.0.0.1:9400,10.0.0.2:9400", "/media/ddbfs", "-f", "-o",
                  "_netdev,allow_other"},
                 "", std::chrono::seconds(30), env);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("--meta 10.0.0.1:9400,10.0.0.2:9400 /media/ddbfs -o allow_other"),
            std::string::npos)
      << r.out;
}

// key = value lines of an example config, commented-out ones too (a
// documented option must exist as well): key -> value.
std::map<std::string, std::string> Options(const std::string& text) {
  std::map<std::string, std::string> out;
  static const std::regex line(R"(^[;#]? ?([a-z][a-z-]*) = (.*)$)");
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    std::smatch m;
    if (std::regex_match(l, m, line)) out[m[1]] = m[2];
  }
  return out;
}

// The example with the values of `set` (key -> value) instead of its own.
std::string WithValues(const std::string& text, const std::map<std::string, std::string>& set) {
  std::istringstream in(text);
  std::string out;
  for (std::string l; std::getline(in, l);) {
    for (const auto& [key, value] : set) {
      if (l.rfind(key + " = ", 0) == 0) l = key + " = " + value;
    }
    out += l + "\n";
  }
  return out;
}

void ExpectEveryOptionIsAFlag(const std::string& program, const std::string& example) {
  CommandResult help = RunCommand({kBin + "/" + program, "--help"});
  ASSERT_EQ(help.exit_code, 0) << help.err;
  const auto options = Options(Slurp(kDeploy + "/" + example));
  EXPECT_GE(options.size(), 8u) << example;
  for (const auto& [key, value] : options) {
    // The whole flag: "--tls" must not pass for "--tls-ca".
    EXPECT_TRUE(std::regex_search(help.out, std::regex("--" + key + "([^a-z-]|$)")))
        << example << ": " << key << " is not an option of " << program;
  }
}

// The form of URL docs/deploy.md gives the metaserver for a pg_auto_failover
// formation: several hosts, the writable one chosen by libpq. Here the
// first host refuses connections and the second is the test's PostgreSQL.
std::string MultiHostUrl(const std::string& url) {
  const std::string at = "@127.0.0.1:";
  const size_t pos = url.find(at);
  if (pos == std::string::npos) return url;
  return url.substr(0, pos) + "@127.0.0.1:1,127.0.0.1:" + url.substr(pos + at.size()) +
         "?target_session_attrs=read-write&application_name=ddbfs-metaserver";
}

TEST(DeployTest, ExampleConfigsStartTheProgramsAndAClientConnects) {
  ExpectEveryOptionIsAFlag("ddbfs-metaserver", "metaserver.conf");
  ExpectEveryOptionIsAFlag("ddbfs-chunkserver", "chunkserver.conf");

  TempDir dir("ddbfs-deploy");
  const std::string key = WriteClusterKey(dir.path());
  const int meta_port = FreePort();
  const std::string meta = "127.0.0.1:" + std::to_string(meta_port);
  const std::string meta_conf = dir.path() + "/metaserver.conf";
  Spit(meta_conf,
       WithValues(Slurp(kDeploy + "/metaserver.conf"),
                  {{"listen", meta},
                   {"unix-socket", dir.path() + "/meta.sock"},
                   {"db", '"' + MultiHostUrl(PgInstance::Shared().NewDatabaseUrl()) + '"'},
                   {"cluster-key-file", key}}));
  Process metaserver(kBin + "/ddbfs-metaserver", {"--config", meta_conf},
                     dir.path() + "/metaserver.log");
  ASSERT_TRUE(WaitForPort(meta_port, std::chrono::seconds(60))) << metaserver.LogTail();

  const int chunk_port = FreePort();
  const std::string chunk_conf = dir.path() + "/chunkserver-disk1.conf";
  const std::string chunk_text = WithValues(Slurp(kDeploy + "/chunkserver.conf"),
                                            {{"listen", "127.0.0.1:" + std::to_string(chunk_port)},
                                             {"meta", meta},
                                             {"data", dir.path() + "/disk1"},
                                             {"cluster-key-file", key}});
  Spit(chunk_conf, chunk_text);
  // A misspelt key is refused, with the key named (not silently ignored).
  Spit(dir.path() + "/typo.conf", chunk_text + "scrub-mib-per-sec = 4\n");
  CommandResult typo =
      RunCommand({kBin + "/ddbfs-chunkserver", "--config", dir.path() + "/typo.conf"}, "",
                 std::chrono::seconds(20));
  EXPECT_EQ(typo.exit_code, 2) << typo.out << typo.err;
  EXPECT_NE(typo.err.find("scrub-mib-per-sec"), std::string::npos) << typo.err;

  Process chunkserver(kBin + "/ddbfs-chunkserver", {"--config", chunk_conf},
                      dir.path() + "/chunkserver.log");
  ASSERT_TRUE(WaitForPort(chunk_port, std::chrono::seconds(60))) << chunkserver.LogTail();

  // Over the Unix socket as root: the server registered with the example's
  // label and rack; an export key for the example client.conf.
  ClientOptions local;
  local.meta_address = "unix:" + dir.path() + "/meta.sock";
  auto admin = Client::Connect(local);
  ASSERT_TRUE(admin.ok()) << admin.status();
  ASSERT_TRUE(WaitFor(
      [&] {
        auto st = (*admin)->ClusterStatus();
        return st.ok() && st->servers.size() == 1 && st->servers[0].alive;
      },
      std::chrono::seconds(30)))
      << chunkserver.LogTail();
  auto st = (*admin)->ClusterStatus();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->servers[0].label, Options(chunk_text)["label"]);
  EXPECT_EQ(st->servers[0].rack, Options(chunk_text)["rack"]);

  CommandResult added = RunCommand(
      {kBin + "/ddbfs", "--meta", local.meta_address, "key", "add", "deploy-test-client"});
  ASSERT_EQ(added.exit_code, 0) << added.err;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(added.out, m, std::regex("key = (\\S+)"))) << added.out;
  const std::string client_conf = dir.path() + "/client.conf";
  Spit(client_conf, WithValues(Slurp(kDeploy + "/client.conf"), {{"meta", meta}, {"key", m[1]}}),
       0600);
  CommandResult whoami = RunCommand({kBin + "/ddbfs", "whoami"}, "", std::chrono::seconds(60),
                                    {"DDBFS_CONFIG=" + client_conf});
  EXPECT_EQ(whoami.exit_code, 0) << whoami.out << whoami.err;
  const std::string key_id = m[1].str().substr(0, m[1].str().find(':'));
  EXPECT_NE(whoami.out.find(key_id), std::string::npos) << whoami.out;

  // The mount takes the example's options (the unit passes them with -o).
  const std::string env = Slurp(kDeploy + "/mount.env");
  ASSERT_TRUE(std::regex_search(env, m, std::regex("DDBFS_MOUNT_OPTIONS=(\\S+)"))) << env;
  const std::string mnt = dir.path() + "/mnt";
  std::filesystem::create_directory(mnt);
  Process mount(kBin + "/ddbfs-mount", {"--meta", local.meta_address, mnt, "-f", "-o", m[1].str()},
                dir.path() + "/mount.log");
  ASSERT_TRUE(WaitFor(
      [&] {
        return RunCommand({"mountpoint", "-q", mnt}).exit_code == 0 || !mount.running();
      },
      std::chrono::seconds(20)));
  EXPECT_EQ(RunCommand({"mountpoint", "-q", mnt}).exit_code, 0) << mount.LogTail();
  EXPECT_EQ(RunCommand({"fusermount3", "-u", mnt}).exit_code, 0);
  EXPECT_TRUE(mount.Wait(std::chrono::seconds(20)).has_value());
}

}  // namespace
}  // namespace ddbfs::testing
