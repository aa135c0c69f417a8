// Round trips to a chunk server: N clients, each on its own authenticated
// connection, call Info (a few dozen bytes each way) as fast as they can for
// a while. Measures what the RPC server itself costs per request (thread
// hand-offs, wake-ups), not the disk: compare two server builds side by side
// with bench/rpc_compare.sh.
//
//   rpc_bench --server 127.0.0.1:9501 --cluster-key-file KEY --clients 1 --seconds 5

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "ChunkService.h"
#include "ddbfs/auth.h"
#include "ddbfs/rpc.h"

int main(int argc, char** argv) {
  CLI::App app{"DDBFS RPC round-trip benchmark"};
  std::string server = "127.0.0.1:9501";
  std::string key_file;
  int clients = 1;
  double seconds = 5;
  app.add_option("--server", server, "chunk server HOST:PORT");
  app.add_option("--cluster-key-file", key_file, "the cluster key (servers' calls need it)")
      ->required();
  app.add_option("--clients", clients, "concurrent clients (one connection each)")
      ->check(CLI::Range(1, 256));
  app.add_option("--seconds", seconds, "how long to measure")->check(CLI::Range(0.1, 600.0));
  CLI11_PARSE(app, argc, argv);

  const size_t colon = server.rfind(':');
  if (colon == std::string::npos) {
    std::fprintf(stderr, "rpc_bench: --server wants HOST:PORT, got '%s'\n", server.c_str());
    return 2;
  }
  const std::string host = server.substr(0, colon);
  const int port = std::stoi(server.substr(colon + 1));
  auto secret = ddbfs::ReadSecretFile(key_file);
  if (!secret.ok()) {
    std::fprintf(stderr, "rpc_bench: %s\n", secret.status().ToString().c_str());
    return 1;
  }
  auto transport =
      ddbfs::Transport::Create({}, ddbfs::Credential{std::string(ddbfs::kClusterKeyId), *secret});
  if (!transport.ok()) {
    std::fprintf(stderr, "rpc_bench: %s\n", transport.status().ToString().c_str());
    return 1;
  }
  using Conn = ddbfs::RpcConnection<ddbfs::rpc::ChunkServiceClient>;
  std::vector<std::unique_ptr<Conn>> conns;
  for (int i = 0; i < clients; ++i) {
    conns.push_back(std::make_unique<Conn>(host, port, 10000, *transport));
    ddbfs::rpc::ChunkServerInfoResponse resp;
    ddbfs::Status st = conns.back()->Call([&](ddbfs::rpc::ChunkServiceClient& c) {
      c.Info(resp, ddbfs::rpc::ChunkServerInfoRequest());
    });
    if (!st.ok()) {
      std::fprintf(stderr, "rpc_bench: %s\n", st.ToString().c_str());
      return 1;
    }
  }
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::vector<std::vector<double>> latencies(clients);
  std::vector<std::thread> threads;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < clients; ++i) {
    threads.emplace_back([&, i] {
      ddbfs::rpc::ChunkServerInfoResponse resp;
      while (!stop.load(std::memory_order_relaxed)) {
        const auto a = std::chrono::steady_clock::now();
        ddbfs::Status st = conns[i]->Call([&](ddbfs::rpc::ChunkServiceClient& c) {
          c.Info(resp, ddbfs::rpc::ChunkServerInfoRequest());
        });
        const auto b = std::chrono::steady_clock::now();
        if (!st.ok()) ++failures;
        latencies[i].push_back(std::chrono::duration<double, std::micro>(b - a).count());
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : threads) t.join();
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::vector<double> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  auto pct = [&](double p) {
    return all.empty() ? 0.0 : all[static_cast<size_t>(p * (all.size() - 1))];
  };
  std::printf(
      "clients=%d calls=%zu seconds=%.2f calls_per_s=%.0f p50_us=%.1f p99_us=%.1f failures=%d\n",
      clients, all.size(), elapsed, all.size() / elapsed, pct(0.5), pct(0.99), failures.load());
  return failures.load() == 0 ? 0 : 1;
}
