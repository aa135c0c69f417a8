#pragma once

#include <signal.h>

#include <memory>
#include <string>
#include <vector>

#include "ddbfs/client.h"
#include "ddbfs/rpc.h"
#include "process.h"

namespace ddbfs::testing {

struct ClusterOptions {
  int chunk_servers = 3;
  int heartbeat_timeout_ms = 3000;
  // Write lease duration (ddbfs-metaserver --lease-ms): short, so that
  // tests of dead writers do not wait long for settling.
  int lease_ms = 2000;
  // Client session timeout (ddbfs-metaserver --session-timeout-ms); 0: the
  // metaserver's default.
  int session_timeout_ms = 0;
  // Host label of chunk server i is labels[i] when given, else "host<i+1>".
  std::vector<std::string> labels;
  // Rack of chunk server i (--rack) is racks[i] when given and not "".
  std::vector<std::string> racks;
  // Several hosts (tests/integration/hosts_test.cc): the address the
  // metaserver serves TCP on, chunk server i's address (chunk_hosts[i],
  // default 127.0.0.1), and the command that chunk server i is started
  // through (chunk_wrappers[i], e.g. {"/sbin/ip", "netns", "exec", "ns1"}: a
  // full path, and a command that execs the program, so that its pid is the
  // chunk server's).
  std::string meta_host = "127.0.0.1";
  std::vector<std::string> chunk_hosts;
  std::vector<std::vector<std::string>> chunk_wrappers;
  // When > 0, each chunk server's data folder is a tmpfs of this size (for
  // full-disk tests); unmounted by the destructor.
  int data_tmpfs_mib = 0;
  // TLS on every TCP connection: a private CA and server certificate are
  // made with scripts/tls-certs into <dir>/tls; NewClient() trusts the CA.
  bool tls = false;
  // How long replicas of deleted chunks are kept (ddbfs-metaserver
  // --chunk-retention-s, docs/backup.md): 0 here, so that tests of garbage
  // collection see deletions at once; the metaserver's default is a day.
  int chunk_retention_s = 0;
  // More ddbfs-metaserver flags (e.g. {"--rehash-interval-ms", "100"}).
  std::vector<std::string> metaserver_args;
  // More ddbfs-chunkserver flags, for every chunk server (e.g.
  // {"--scrub-interval-s", "1"}).
  std::vector<std::string> chunkserver_args;
  // More metaservers against the same database, started once metaserver 0
  // is active: standbys (docs/ha.md), each with its own ports. Clients and
  // chunk servers are then given every address.
  int standby_metaservers = 0;
  // Metaserver 0 on a host of its own (HaTest's network cut): started
  // through meta0_wrapper (as chunk_wrappers), serving TCP on meta0_host
  // (default meta_host), and reaching PostgreSQL at meta0_db_host (an
  // address PgInstance::ListenAlso added; default its loopback address).
  std::vector<std::string> meta0_wrapper;
  std::string meta0_host;
  std::string meta0_db_host;
};

// A real cluster for one test: a fresh database on the test binary's private
// PostgreSQL, a ddbfs-metaserver process and N ddbfs-chunkserver processes on
// free loopback ports, all in one temp folder. The destructor kills what it
// started and deletes the folder. Not thread-safe.
class TestCluster {
 public:
  // Starts everything and waits until every chunk server is alive; fails the
  // current test (ADD_FAILURE) and returns nullptr if it cannot.
  static std::unique_ptr<TestCluster> Start(const ClusterOptions& o = {});
  ~TestCluster();

  // Where clients reach the metaserver: its Unix socket, where a process is
  // known by its uid (root here: an admin and a cluster member). With
  // standbys, every metaserver's socket, comma-separated.
  std::string meta_address() const;
  // Its TCP address: chunk servers, and clients with a key (with standbys,
  // every metaserver's, comma-separated).
  std::string meta_tcp_address() const;
  // The Unix socket and TCP address of metaserver i alone.
  std::string meta_socket_address(int i) const;
  std::string meta_tcp_address(int i) const;
  int meta_port(int i) const { return metas_.at(i).port; }
  // The cluster key file the servers were started with, and connections
  // that prove it (for tests that talk to servers directly).
  const std::string& cluster_key_file() const { return key_file_; }
  std::shared_ptr<const Transport> cluster_transport() const;
  // With ClusterOptions::tls: the client side of TLS (trusting the CA).
  TlsOptions client_tls() const;
  const std::string& db_url() const { return db_url_; }
  const std::string& dir() const { return dir_.path(); }
  // A connected libddbfs client (nullptr + test failure if it cannot connect).
  std::unique_ptr<Client> NewClient();
  // Path of a built program: bin("ddbfs") -> <build>/bin/ddbfs.
  std::string bin(const std::string& program) const;

  int chunk_server_count() const { return static_cast<int>(chunks_.size()); }
  std::string chunk_data_dir(int i) const;
  std::string chunk_address(int i) const;
  // Registered server id of chunk server i (looked up through ClusterStatus).
  int chunk_server_id(int i);
  bool chunk_server_running(int i) const;
  void KillChunkServer(int i, int sig = SIGKILL);
  void StartChunkServer(int i);  // same port, same data folder
  // Starts one more chunk server (empty data folder, label "host<N>", the
  // cluster's chunkserver_args plus `args`) and returns its index once it
  // listens (-1 and a test failure if it does not). It registers by itself.
  int AddChunkServer(const std::vector<std::string>& args = {});

  // Metaserver 0: stopped, and started again (waiting until it serves).
  void StopMetaserver(int sig = SIGTERM);
  void StartMetaserver();
  // Metaserver i (0 is the first active one, then the standbys): stopped
  // with `sig` (waiting for its exit), and started again without waiting
  // (it becomes the active one or a standby).
  int metaserver_count() const { return static_cast<int>(metas_.size()); }
  void StopMetaserver(int i, int sig);
  void StartMetaserver(int i);
  // Its process (null once stopped): pid, log, exit status.
  Process* metaserver_process(int i) { return metas_.at(i).process.get(); }
  Process* chunk_server_process(int i) { return chunks_.at(i).process.get(); }

  // True once exactly `n` chunk servers are reported alive by the metaserver.
  bool WaitForAliveServers(int n, int timeout_ms);

 private:
  struct ChunkServer {
    int port = 0;
    std::string host = "127.0.0.1";
    std::string label;
    std::string rack;
    std::vector<std::string> wrapper;
    std::vector<std::string> args;  // AddChunkServer's own flags
    std::string data_dir;
    bool tmpfs = false;
    std::unique_ptr<Process> process;
  };

  struct Metaserver {
    int port = 0;
    std::unique_ptr<Process> process;
  };

  TestCluster() = default;
  // Starts metaserver i and waits: with `serving`, until it serves (the
  // first one); else until it says it is a standby.
  bool StartMetaserverProcess(int i, bool serving);
  void LaunchMetaserver(int i);  // no wait
  // --meta of the chunk servers.
  std::string ChunkServerMetaArg() const;
  // The host metaserver i serves TCP on.
  const std::string& meta_host(int i) const;
  // --cluster-key-file and, with tls, the --tls flags.
  std::vector<std::string> SecurityArgs() const;
  // --session-timeout-ms when ClusterOptions::session_timeout_ms is set.
  std::vector<std::string> SessionArgs() const;
  bool StartChunkServerProcess(int i);
  // Chunk server i's --rack and ClusterOptions::chunkserver_args.
  std::vector<std::string> ChunkServerArgs(int i) const;
  // StartChunkServerProcess through ClusterOptions::chunk_wrappers[i].
  bool StartWrappedChunkServer(int i);

  ClusterOptions options_;
  TempDir dir_{"ddbfs-cluster"};
  std::string db_url_;
  std::string key_file_;
  std::vector<Metaserver> metas_;
  std::vector<ChunkServer> chunks_;
};

// The committed bytes [0, length) of one replica, read straight from its
// chunk server at the committed version (no failover), as a peer server.
Result<std::string> ReadReplica(TestCluster& cluster, const std::string& address,
                                const ChunkView& chunk);
// The same over connections made by `transport` (null: plain TCP).
Result<std::string> ReadReplica(const std::shared_ptr<const Transport>& transport,
                                const std::string& address, const ChunkView& chunk);

}  // namespace ddbfs::testing
