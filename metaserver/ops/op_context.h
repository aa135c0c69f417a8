#pragma once

namespace ddbfs::meta {

namespace store {
class ReadPool;
class WriteQueue;
}  // namespace store

class ServerRegistry;

// What every operation runs against. Mutations go through `writer` (group
// commit, serialized); reads through `reader`; chunk-server liveness and
// placement through `servers`. The three are thread-safe and outlive every
// operation; an OpContext is shared by all request threads.
struct OpContext {
  store::WriteQueue& writer;
  store::ReadPool& reader;
  ServerRegistry& servers;
};

}  // namespace ddbfs::meta
