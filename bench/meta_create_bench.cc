// Metadata create throughput: N concurrent clients, each creating empty files
// in its own directory, against a running metaserver. Shows what group commit
// buys: with one client every create waits for its own commit; with many,
// the metaserver commits many creates per transaction.
//
//   meta_create_bench --meta 127.0.0.1:9400 --clients 16 --files 2000

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "ddbfs/client.h"
#include "ddbfs/client_config.h"
#include "ddbfs/constants.h"

int main(int argc, char** argv) {
  CLI::App app{"DDBFS metadata create benchmark"};
  std::string meta = "127.0.0.1:9400";
  int clients = 1;
  int files = 2000;
  app.add_option("--meta", meta, "metaserver HOST:PORT");
  app.add_option("--clients", clients, "concurrent clients (threads, one connection each)")
      ->check(CLI::Range(1, 256));
  app.add_option("--files", files, "files created by each client")->check(CLI::Range(1, 1000000));
  CLI11_PARSE(app, argc, argv);

  // The client configuration (key, TLS) as every front end reads it.
  auto loaded = ddbfs::LoadClientOptions(meta);
  if (!loaded.ok()) {
    std::fprintf(stderr, "meta_create_bench: %s\n", loaded.status().ToString().c_str());
    return 1;
  }
  const ddbfs::ClientOptions opts = *loaded;
  std::vector<std::unique_ptr<ddbfs::Client>> conns;
  for (int i = 0; i < clients; ++i) {
    auto c = ddbfs::Client::Connect(opts);
    if (!c.ok()) {
      std::fprintf(stderr, "meta_create_bench: %s\n", c.status().ToString().c_str());
      return 1;
    }
    conns.push_back(std::move(c).value());
  }
  std::string top = "bench-" + std::to_string(getpid()) + "-" +
                    std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
  auto root_dir = conns[0]->Mkdir(ddbfs::kRootInode, top, 0755);
  if (!root_dir.ok()) {
    std::fprintf(stderr, "meta_create_bench: mkdir /%s: %s\n", top.c_str(),
                 root_dir.status().ToString().c_str());
    return 1;
  }
  std::vector<ddbfs::InodeId> dirs;
  for (int i = 0; i < clients; ++i) {
    auto d = conns[0]->Mkdir(root_dir->inode, "c" + std::to_string(i), 0755);
    if (!d.ok()) return 1;
    dirs.push_back(d->inode);
  }

  std::atomic<int> failures{0};
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < clients; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < files; ++i) {
        auto r = conns[t]->Create(dirs[t], "f" + std::to_string(i), 0644);
        if (!r.ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  long total = static_cast<long>(clients) * files;
  std::printf("clients=%d creates=%ld seconds=%.2f creates_per_s=%.0f failures=%d\n", clients,
              total, secs, total / secs, failures.load());
  return failures.load() == 0 ? 0 : 1;
}
