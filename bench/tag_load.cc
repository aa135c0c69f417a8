// Loads documents with realistic tags into a running cluster, for the tag
// and query benchmark (bench/tags_bench.sh, issue 8): --docs empty files
// (sizes set by truncate, so no data is written) in folders of 1,000 under
// /tagbench, then about 10 tags each, put on with one TagMany per tag (the
// way `ddbfs tag -t T PATH...` does it; --tag-batch N: calls of N).
//
// The tags, drawn with a fixed seed:
//   type=pdf|jpg|txt|doc|odt (one each), year=2000..2024 (one each),
//   author=a0..a499 (one each, Zipf), work 50 %, personal 30 %,
//   archive 20 %, important 10 %, draft 5 %, and six of t0..t19999
//   (Zipf: a few on many documents, a long tail on a handful).
//
//   tag_load --meta 127.0.0.1:9400 --docs 1000000 --clients 16

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "ddbfs/client.h"
#include "ddbfs/client_config.h"
#include "ddbfs/constants.h"

namespace {

using Clock = std::chrono::steady_clock;

double Since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Zipf over [0, n) with exponent s, by inverting the cumulative weights.
class Zipf {
 public:
  Zipf(int n, double s) : cdf_(static_cast<size_t>(n)) {
    double sum = 0;
    for (int k = 0; k < n; ++k) cdf_[static_cast<size_t>(k)] = sum += 1.0 / std::pow(k + 1, s);
    for (double& c : cdf_) c /= sum;
  }
  int operator()(std::mt19937_64& rng) const {
    const double u = std::uniform_real_distribution<double>(0, 1)(rng);
    return static_cast<int>(std::lower_bound(cdf_.begin(), cdf_.end(), u) - cdf_.begin());
  }

 private:
  std::vector<double> cdf_;
};

std::string Key(const ddbfs::Tag& t) { return t.value ? t.name + "=" + *t.value : t.name; }

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"DDBFS tag benchmark loader"};
  std::string meta = "127.0.0.1:9400";
  int docs = 1000000;
  int clients = 16;
  uint64_t seed = 1;
  app.add_option("--meta", meta, "metaserver HOST:PORT");
  app.add_option("--docs", docs, "documents to create")->check(CLI::Range(1, 10000000));
  app.add_option("--clients", clients, "concurrent connections")->check(CLI::Range(1, 256));
  app.add_option("--seed", seed, "random seed of the tags");
  size_t tag_batch = ddbfs::Client::kMaxTagManyInodes;
  app.add_option("--tag-batch", tag_batch, "documents per TagMany call")
      ->check(CLI::Range(size_t{1}, ddbfs::Client::kMaxTagManyInodes));
  bool with_sizes = true;
  app.add_flag("!--no-sizes", with_sizes, "leave every document empty (one call less each)");
  CLI11_PARSE(app, argc, argv);

  auto loaded = ddbfs::LoadClientOptions(meta);
  if (!loaded.ok()) {
    std::fprintf(stderr, "tag_load: %s\n", loaded.status().ToString().c_str());
    return 1;
  }
  std::vector<std::unique_ptr<ddbfs::Client>> conns;
  for (int i = 0; i < clients; ++i) {
    auto c = ddbfs::Client::Connect(*loaded);
    if (!c.ok()) {
      std::fprintf(stderr, "tag_load: %s\n", c.status().ToString().c_str());
      return 1;
    }
    conns.push_back(std::move(c).value());
  }
  ddbfs::Client& c0 = *conns[0];
  auto top = c0.Mkdir(ddbfs::kRootInode, "tagbench", 0755);
  if (!top.ok()) {
    std::fprintf(stderr, "tag_load: mkdir /tagbench: %s (remove it first)\n",
                 top.status().ToString().c_str());
    return 1;
  }
  const int per_dir = 1000;
  const int ndirs = (docs + per_dir - 1) / per_dir;
  std::vector<ddbfs::InodeId> dirs(static_cast<size_t>(ndirs));
  for (int d = 0; d < ndirs; ++d) {
    auto r = c0.Mkdir(top->inode, "d" + std::to_string(d), 0755);
    if (!r.ok()) {
      std::fprintf(stderr, "tag_load: mkdir: %s\n", r.status().ToString().c_str());
      return 1;
    }
    dirs[static_cast<size_t>(d)] = r->inode;
  }

  // 1. The documents.
  static const char* kTypes[] = {"pdf", "jpg", "txt", "doc", "odt"};
  std::vector<ddbfs::InodeId> inodes(static_cast<size_t>(docs));
  std::atomic<int> next{0};
  std::atomic<int> failures{0};
  auto start = Clock::now();
  {
    std::vector<std::thread> threads;
    for (int t = 0; t < clients; ++t) {
      threads.emplace_back([&, t] {
        std::mt19937_64 rng(seed * 7919 + static_cast<uint64_t>(t));
        for (int i; (i = next.fetch_add(1)) < docs;) {
          const std::string name =
              "doc" + std::to_string(i) + "." + kTypes[static_cast<size_t>(i) % 5];
          auto r = conns[static_cast<size_t>(t)]->Create(dirs[static_cast<size_t>(i / per_dir)],
                                                         name, 0644);
          if (!r.ok()) {
            if (failures++ < 5) std::fprintf(stderr, "create: %s\n", r.status().ToString().c_str());
            continue;
          }
          inodes[static_cast<size_t>(i)] = r->inode;
          ddbfs::AttrChanges size;
          size.size = rng() % (8 << 20);
          if (with_sizes) (void)conns[static_cast<size_t>(t)]->SetAttr(r->inode, size);
        }
      });
    }
    for (auto& th : threads) th.join();
  }
  const double create_s = Since(start);
  std::printf("created %d documents in %.1f s (%.0f/s), %d failures\n", docs, create_s,
              docs / create_s, failures.load());
  std::fflush(stdout);

  // 2. The tags: for each tag, the documents carrying it.
  std::mt19937_64 rng(seed);
  Zipf authors(500, 1.0);
  Zipf tail(20000, 1.1);
  std::map<std::string, std::vector<ddbfs::InodeId>> carriers;
  std::map<std::string, ddbfs::Tag> tag_of;
  auto put = [&](const ddbfs::Tag& t, ddbfs::InodeId id) {
    const std::string k = Key(t);
    auto& v = carriers[k];
    if (v.empty()) tag_of[k] = t;
    v.push_back(id);
  };
  const std::pair<const char*, double> kPlain[] = {
      {"work", 0.5}, {"personal", 0.3}, {"archive", 0.2}, {"important", 0.1}, {"draft", 0.05}};
  std::uniform_real_distribution<double> u(0, 1);
  int64_t rows = 0;
  for (int i = 0; i < docs; ++i) {
    const ddbfs::InodeId id = inodes[static_cast<size_t>(i)];
    if (id == 0) continue;
    put({"type", kTypes[static_cast<size_t>(i) % 5]}, id);
    put({"year", std::to_string(2000 + rng() % 25)}, id);
    put({"author", "a" + std::to_string(authors(rng))}, id);
    rows += 3;
    for (const auto& [name, p] : kPlain) {
      if (u(rng) < p) {
        put({name, std::nullopt}, id);
        ++rows;
      }
    }
    std::vector<int> picked;
    while (picked.size() < 6) {
      const int k = tail(rng);
      if (std::find(picked.begin(), picked.end(), k) == picked.end()) picked.push_back(k);
    }
    for (int k : picked) put({"t" + std::to_string(k), std::nullopt}, id);
    rows += 6;
  }
  // One call per tag with all its documents (as `ddbfs tag -t T PATH...`
  // does), or batches of `--tag-batch`, shared out to the connections.
  struct Batch {
    const ddbfs::Tag* tag;
    const ddbfs::InodeId* first;
    size_t count;
  };
  std::vector<Batch> batches;
  for (auto& [k, ids] : carriers) {
    for (size_t from = 0; from < ids.size(); from += tag_batch) {
      batches.push_back(
          {&tag_of[k], ids.data() + from, std::min<size_t>(tag_batch, ids.size() - from)});
    }
  }
  std::shuffle(batches.begin(), batches.end(), rng);
  // The big ones (bulk changes, one at a time on the metaserver) first, so
  // the small ones run beside them.
  std::stable_partition(batches.begin(), batches.end(),
                        [](const Batch& b) { return b.count > 1000; });
  next = 0;
  start = Clock::now();
  {
    std::vector<std::thread> threads;
    for (int t = 0; t < clients; ++t) {
      threads.emplace_back([&, t] {
        for (int i; (i = next.fetch_add(1)) < static_cast<int>(batches.size());) {
          const Batch& b = batches[static_cast<size_t>(i)];
          std::vector<ddbfs::InodeId> ids(b.first, b.first + b.count);
          auto r = conns[static_cast<size_t>(t)]->TagMany(ids, {*b.tag}, {});
          if (!r.ok() && failures++ < 5) {
            std::fprintf(stderr, "tag: %s\n", r.status().ToString().c_str());
          }
        }
      });
    }
    for (auto& th : threads) th.join();
  }
  const double tag_s = Since(start);
  std::printf("tagged: %lld tag rows, %zu distinct tags, %zu batches in %.1f s (%.0f rows/s)\n",
              static_cast<long long>(rows), carriers.size(), batches.size(), tag_s, rows / tag_s);
  std::printf("total load: %.1f s, failures %d\n", create_s + tag_s, failures.load());
  return failures.load() == 0 ? 0 : 1;
}
