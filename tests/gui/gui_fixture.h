#pragma once

// A real cluster with a small tagged data set, shared by the browser's test
// suites (one cluster per suite):
//
//   /photos/beach.jpg  photo year=2021 place=beach
//   /photos/city.jpg   photo year=2020 place=city
//   /photos/cat.jpg    photo year=2019 pet
//   /docs/report.txt   doc year=2021            ("quarterly report\n")
//   /docs/notes.txt    doc draft
//   /ratings/r9 r10 r100   rating=9 / 10 / 100; r9 taken=2021-06-01, r10 taken=2020-12-31
//   /bulk/f00 .. f11   bulk

#include <gtest/gtest.h>

#include <cstdio>

#include "ddbfs/constants.h"
#include "gui_test_util.h"
#include "test_cluster.h"

namespace ddbfs::gui::testing {

using ddbfs::testing::ClusterOptions;
using ddbfs::testing::TestCluster;

template <typename Derived>
class GuiClusterTest : public ::testing::Test {
 protected:
  // A fixture may hide this with its own cluster options.
  static ClusterOptions Options() { return {}; }
  static void SetUpTestSuite() {
    cluster_ = TestCluster::Start(Derived::Options()).release();
    if (!cluster_) return;
    auto c = cluster_->NewClient();
    if (!c) return;
    for (const char* dir : {"photos", "docs", "ratings", "bulk"}) {
      if (!c->Mkdir(kRootInode, dir, 0755).ok()) ADD_FAILURE() << "mkdir " << dir;
    }
    struct Doc {
      std::string path;
      std::string data;
      std::vector<Tag> tags;
    };
    std::vector<Doc> docs = {
        {"/photos/beach.jpg", "", {T("photo"), T("year", "2021"), T("place", "beach")}},
        {"/photos/city.jpg", "", {T("photo"), T("year", "2020"), T("place", "city")}},
        {"/photos/cat.jpg", "", {T("photo"), T("year", "2019"), T("pet")}},
        {"/docs/report.txt", "quarterly report\n", {T("doc"), T("year", "2021")}},
        {"/docs/notes.txt", "some notes\n", {T("doc"), T("draft")}},
        {"/ratings/r9", "", {T("rating", "9"), T("taken", "2021-06-01")}},
        {"/ratings/r10", "", {T("rating", "10"), T("taken", "2020-12-31")}},
        {"/ratings/r100", "", {T("rating", "100")}},
    };
    for (int i = 0; i < 12; ++i) {
      char name[32];
      std::snprintf(name, sizeof name, "/bulk/f%02d", i);
      docs.push_back({name, "", {T("bulk")}});
    }
    for (const Doc& d : docs) {
      auto a = PutTagged(*c, d.path, d.data, d.tags);
      if (!a.ok()) ADD_FAILURE() << d.path << ": " << a.status();
    }
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(cluster_, nullptr);
    client_ = cluster_->NewClient();
    ASSERT_TRUE(client_);
  }
  // Options for the browser's own client: short retry windows, so that a
  // stopped metaserver shows at once.
  static ClientOptions BrowserOptions() {
    ClientOptions o;
    o.meta_address = cluster_->meta_address();
    o.meta_retry_ms = 500;
    o.rpc_timeout_ms = 5000;
    return o;
  }

  static inline TestCluster* cluster_ = nullptr;
  std::unique_ptr<Client> client_;
};

}  // namespace ddbfs::gui::testing
