// Loads documents with realistic tags into a running cluster, for the tag
// and query benchmark (bench/tags_bench.sh, issue 8): --docs empty files
// (sizes set by truncate, so no data is written) in folders of 1,000 under
// /tagbench, and about 10 tags each: in rounds of --round documents, each
// round tagged (one TagMany per tag, the way `ddbfs tag -t T PATH...` does
// it; --tag-batch N: calls of N; a tag with fewer than 1,000 documents
// waiting waits for the next round) while the next round is being created.
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
  std::string top_name = "tagbench";
  app.add_option("--top", top_name, "folder under / to create them in");
  int round = 100000;
  app.add_option("--round", round, "documents created before their tags go on (alongside the next)")
      ->check(CLI::Range(1, 10000000));
  bool at_create = false;
  app.add_flag("--tags-at-create", at_create,
               "give each document its tags in its Create call (as `ddbfs add -t` does) instead "
               "of TagMany calls per tag");
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
  auto top = c0.Mkdir(ddbfs::kRootInode, top_name, 0755);
  if (!top.ok()) {
    std::fprintf(stderr, "tag_load: mkdir /%s: %s (remove it first)\n", top_name.c_str(),
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

  // The tags of every document, drawn up front (in document order, so a
  // seed gives the same data set whatever the rounds): indexes into `table`.
  std::mt19937_64 rng(seed);
  Zipf authors(500, 1.0);
  Zipf tail(20000, 1.1);
  std::vector<ddbfs::Tag> table;
  std::map<std::string, uint32_t> index_of;
  auto id_of = [&](const ddbfs::Tag& t) {
    auto [it, fresh] = index_of.emplace(Key(t), static_cast<uint32_t>(table.size()));
    if (fresh) table.push_back(t);
    return it->second;
  };
  static const char* kTypes[] = {"pdf", "jpg", "txt", "doc", "odt"};
  const std::pair<const char*, double> kPlain[] = {
      {"work", 0.5}, {"personal", 0.3}, {"archive", 0.2}, {"important", 0.1}, {"draft", 0.05}};
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<std::vector<uint32_t>> tags_of(static_cast<size_t>(docs));
  int64_t rows = 0;
  for (int i = 0; i < docs; ++i) {
    auto& mine = tags_of[static_cast<size_t>(i)];
    mine.push_back(id_of({"type", kTypes[static_cast<size_t>(i) % 5]}));
    mine.push_back(id_of({"year", std::to_string(2000 + rng() % 25)}));
    mine.push_back(id_of({"author", "a" + std::to_string(authors(rng))}));
    for (const auto& [name, p] : kPlain) {
      if (u(rng) < p) mine.push_back(id_of({name, std::nullopt}));
    }
    std::vector<int> picked;
    while (picked.size() < 6) {
      const int k = tail(rng);
      if (std::find(picked.begin(), picked.end(), k) == picked.end()) picked.push_back(k);
    }
    for (int k : picked) mine.push_back(id_of({"t" + std::to_string(k), std::nullopt}));
    rows += static_cast<int64_t>(mine.size());
  }

  // Rounds of `round` documents: while round r+1 is being created, round r
  // is tagged (one TagMany per tag with all its documents of the round, as
  // `ddbfs tag -t T PATH...` does it, or calls of --tag-batch), on a
  // second set of connections.
  std::vector<ddbfs::InodeId> inodes(static_cast<size_t>(docs));
  std::atomic<int> failures{0};
  std::vector<std::unique_ptr<ddbfs::Client>> taggers;
  for (int i = 0; i < clients; ++i) {
    auto c = ddbfs::Client::Connect(*loaded);
    if (!c.ok()) {
      std::fprintf(stderr, "tag_load: %s\n", c.status().ToString().c_str());
      return 1;
    }
    taggers.push_back(std::move(c).value());
  }
  // Documents of a tag waiting for their TagMany: a tag goes on once it has
  // 1,000 documents waiting, or at the end (so a rare tag is one call, not
  // one per round).
  std::map<uint32_t, std::vector<ddbfs::InodeId>> waiting;
  auto tag_round = [&](int from, int to, bool last) {
    for (int i = from; i < to; ++i) {
      const ddbfs::InodeId id = inodes[static_cast<size_t>(i)];
      if (id == 0) continue;
      for (uint32_t t : tags_of[static_cast<size_t>(i)]) waiting[t].push_back(id);
    }
    std::map<uint32_t, std::vector<ddbfs::InodeId>> carriers;
    for (auto it = waiting.begin(); it != waiting.end();) {
      if (last || it->second.size() >= 1000) {
        carriers.emplace(it->first, std::move(it->second));
        it = waiting.erase(it);
      } else {
        ++it;
      }
    }
    struct Batch {
      uint32_t tag;
      const ddbfs::InodeId* first;
      size_t count;
    };
    std::vector<Batch> batches;
    for (auto& [t, ids] : carriers) {
      for (size_t at = 0; at < ids.size(); at += tag_batch) {
        batches.push_back({t, ids.data() + at, std::min<size_t>(tag_batch, ids.size() - at)});
      }
    }
    // The big ones (bulk changes, one at a time on the metaserver) first, so
    // the small ones run beside them.
    std::stable_sort(batches.begin(), batches.end(),
                     [](const Batch& a, const Batch& b) { return a.count > b.count; });
    std::atomic<size_t> next{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < clients; ++t) {
      threads.emplace_back([&, t] {
        for (size_t i; (i = next.fetch_add(1)) < batches.size();) {
          const Batch& b = batches[i];
          std::vector<ddbfs::InodeId> ids(b.first, b.first + b.count);
          auto r = taggers[static_cast<size_t>(t)]->TagMany(ids, {table[b.tag]}, {});
          if (!r.ok() && failures++ < 5) {
            std::fprintf(stderr, "tag: %s\n", r.status().ToString().c_str());
          }
        }
      });
    }
    for (auto& th : threads) th.join();
  };

  const auto start = Clock::now();
  double create_s = 0;
  std::thread tagging;
  for (int from = 0; from < docs; from += round) {
    const int to = std::min(docs, from + round);
    std::atomic<int> next{from};
    std::vector<std::thread> threads;
    for (int t = 0; t < clients; ++t) {
      threads.emplace_back([&, t] {
        std::mt19937_64 sizes(seed * 7919 + static_cast<uint64_t>(from) + static_cast<uint64_t>(t));
        for (int i; (i = next.fetch_add(1)) < to;) {
          const std::string name =
              "doc" + std::to_string(i) + "." + kTypes[static_cast<size_t>(i) % 5];
          std::vector<ddbfs::Tag> with;
          if (at_create) {
            for (uint32_t k : tags_of[static_cast<size_t>(i)]) with.push_back(table[k]);
          }
          auto r = conns[static_cast<size_t>(t)]->Create(
              dirs[static_cast<size_t>(i / per_dir)], name, 0644, std::nullopt, std::nullopt, with);
          if (!r.ok()) {
            if (failures++ < 5) std::fprintf(stderr, "create: %s\n", r.status().ToString().c_str());
            continue;
          }
          inodes[static_cast<size_t>(i)] = r->inode;
          ddbfs::AttrChanges size;
          size.size = sizes() % (8 << 20);
          if (with_sizes) (void)conns[static_cast<size_t>(t)]->SetAttr(r->inode, size);
        }
      });
    }
    for (auto& th : threads) th.join();
    if (tagging.joinable()) tagging.join();  // the round before
    if (!at_create) tagging = std::thread(tag_round, from, to, to == docs);
    std::printf("  %d documents created, %.1f s\n", to, Since(start));
    std::fflush(stdout);
  }
  create_s = Since(start);
  if (tagging.joinable()) tagging.join();
  const double total_s = Since(start);
  std::printf("created %d documents in %.1f s (%.0f/s, tagging alongside), %d failures\n", docs,
              create_s, docs / create_s, failures.load());
  std::printf("tagged: %lld tag rows, %zu distinct tags; the last round's tags took %.1f s more\n",
              static_cast<long long>(rows), table.size(), total_s - create_s);
  std::printf("total load: %.1f s (%.0f tag rows/s), failures %d\n", total_s, rows / total_s,
              failures.load());
  return failures.load() == 0 ? 0 : 1;
}
