// DDBFS wire protocol: the single source of truth for every RPC between the
// client library, the metaserver and the chunk servers.
//
// Rules (see docs/protocol.md):
//  - one request and one response struct per RPC; `status` is field 1 of
//    every response and application errors travel there, never as exceptions;
//  - field ids are never reused: remove a field by leaving its id unused;
//  - listings are paged by (after_name, limit);
//  - transport: TFramedTransport + TBinaryProtocol over TCP.

namespace cpp ddbfs.rpc

// Mirrors ddbfs::ErrorCode (common/include/ddbfs/error_code.h); the client
// library checks both tables agree at compile time.
enum ErrorCode {
  OK = 0,
  NOT_FOUND = 1,          // no such file, directory, chunk or server
  EXISTS = 2,             // the target name is taken
  NOT_DIR = 3,            // a path component or the target is not a directory
  IS_DIR = 4,             // a file operation on a directory
  NOT_EMPTY = 5,          // rmdir / rename over a directory that has entries
  INVALID_ARGUMENT = 6,   // malformed request (bad name, bad range, loop)
  NAME_TOO_LONG = 7,      // a name over 255 bytes
  NO_SPACE = 8,           // no chunk server can take the data
  IO_ERROR = 9,           // a disk failed on a chunk server
  CHECKSUM_MISMATCH = 10, // a block failed its CRC32C: replica is corrupt
  STALE_VERSION = 11,     // a replica is older than the version asked for
  UNAVAILABLE = 12,       // a server cannot be reached or is not ready
  PERMISSION_DENIED = 13, // not allowed (EPERM/EACCES)
  INTERNAL = 14,          // a bug or an unexpected server-side failure
  NOT_SUPPORTED = 15,     // valid request the server does not implement
  BUSY = 16,              // another writer holds the chunk's lease (or it is being
                          // settled): retry later
  TIMED_OUT = 17,         // the request's deadline passed before it could run
  LEASE_EXPIRED = 18,     // the writer's lease was lost: its write is not committed
  NOT_PERMITTED = 19,     // only the owner or an admin may do this (EPERM)
  READ_ONLY = 20,         // the export is read-only (EROFS)
  UNAUTHENTICATED = 21,   // the connection has not authenticated, or its key was
                          // refused or revoked (docs/security.md)
  CAPABILITY_EXPIRED = 22,// a chunk capability's time window passed: ask the
                          // metaserver for a fresh one
  NO_ATTRIBUTE = 23,      // the node has no extended attribute of that name (ENODATA)
  TOO_MANY_OPEN = 24,     // a client session declared more open files than the
                          // metaserver allows (--max-open-files-per-session; ENFILE)
}

struct RpcStatus {
  1: ErrorCode code = ErrorCode.OK
  2: string message       // human readable; empty when OK
}

// Who is asking, which call this is, and how long the caller waits.
// Ownership of new nodes comes from uid/gid; tokens and volumes will be added
// as new fields (see docs/protocol.md, "Evolution").
struct RequestContext {
  1: i32 uid
  2: i32 gid
  // Request id of a mutation (docs/protocol.md, "Exactly-once mutations"):
  // client_id is 16 random bytes chosen once per client instance, seq the
  // client's number for this call, the SAME on every retry of it. The
  // metaserver records the first answer with the mutation; a retry gets that
  // answer back without running again. Absent: runs every time it arrives.
  3: optional binary client_id
  4: optional i64 seq
  // How long the caller waits for this answer, in ms from when it sent it
  // (relative: clocks need not agree). The server drops the request with
  // TIMED_OUT if it cannot start it within that time. Absent or <= 0: the
  // server's default (--request-timeout-ms).
  5: optional i32 timeout_ms
  // Supplementary groups of uid. uid, gid and groups are believed only from
  // a trusted export key (docs/security.md, "Principals"); otherwise the
  // metaserver uses the identity it established for the connection.
  6: optional list<i32> groups
  // The caller's umask, for Create, Mkdir and Mknod: those bits of the mode
  // are cleared unless the parent directory has a default POSIX ACL (then the
  // ACL shapes the mode; docs/metadata.md, "POSIX ACLs"). Not identity: taken
  // from any caller. Absent: the mode is used as sent.
  7: optional i32 umask
}

enum FileType {
  REGULAR = 1,
  DIRECTORY = 2,
  SYMLINK = 3,
  // Special nodes (mknod): their data and behaviour are the local kernel's;
  // DDBFS stores the node, its attributes and, for devices, rdev.
  FIFO = 4,
  SOCKET = 5,
  CHAR_DEVICE = 6,
  BLOCK_DEVICE = 7,
}

struct Attr {
  1: i64 inode
  2: FileType type
  3: i32 mode             // permission bits only (07777)
  4: i32 uid
  5: i32 gid
  6: i64 size             // bytes; for a symlink the length of its target
  7: i64 atime_ns         // nanoseconds since the Unix epoch
  8: i64 mtime_ns
  9: i64 ctime_ns
  10: i32 nlink
  11: i32 goal            // wanted replicas of each chunk
  12: i64 rdev            // device number of a CHAR_DEVICE or BLOCK_DEVICE, else 0
  13: i64 allocated       // bytes the file's chunks hold (one replica; holes take none)
  14: optional bool has_xattrs  // false: no extended attributes (unset: unknown)
}

// A chunk server as clients and peers reach it.
struct ServerAddress {
  1: i32 server_id
  2: string host          // IP or name to connect to
  3: i32 port
}

// A chunk capability (docs/security.md, "Capabilities"): the metaserver's
// signed permission for one chunk, one version and a set of operations until
// a time, like an HDFS block access token. A chunk server serves ReadChunk,
// WriteChunk and TruncateChunk from a client only with a capability that it
// can verify with the cluster's capability key; a write may be forwarded only
// to the servers of `chain`, in its order.
const i32 CAP_READ = 1
const i32 CAP_WRITE = 2   // WriteChunk and TruncateChunk
struct Capability {
  1: i64 chunk_id
  2: i64 version
  3: i32 ops              // CAP_READ | CAP_WRITE
  4: i64 expires_ms       // Unix ms on the metaserver's clock
  5: list<ServerAddress> chain  // the replicas a write goes to, in order; empty for reads
  6: i32 key_id           // which capability key signed it
  7: binary mac           // HMAC-SHA256 over the fields above (docs/security.md)
}

// ---------------------------------------------------------- authentication
// Every connection authenticates before it is served (docs/security.md): a
// connection over the metaserver's Unix socket is authenticated by its peer
// credentials (Hello answers authenticated = true); any other one proves it
// holds a key with Hello + Authenticate, and the server proves it too.

struct HelloRequest {
  1: i32 protocol_version = 1
}
struct HelloResponse {
  1: RpcStatus status
  2: binary nonce         // 32 random bytes, for Authenticate's proofs
  3: bool authenticated   // already (peer credentials); Authenticate not needed
  4: string principal     // who the connection is, when authenticated
}

// proof = HMAC-SHA256(secret, "ddbfs-auth-v1 client" | service | nonce |
// client_nonce | key_id); server_proof the same with "ddbfs-auth-v1 server".
// service is "meta" or "chunk"; `|` is a zero byte.
struct AuthenticateRequest {
  1: string key_id        // "cluster" for the cluster key, else an export key's id
  2: binary client_nonce  // 32 random bytes
  3: binary proof
}
struct AuthenticateResponse {
  1: RpcStatus status
  2: binary server_proof  // the client checks it: the server holds the key too
  3: string principal
}

// ---------------------------------------------------------------- namespace

struct LookupRequest {
  1: i64 parent
  2: string name
  3: optional RequestContext ctx
}
struct LookupResponse {
  1: RpcStatus status
  2: Attr attr
}

// Resolves an absolute path ("/a/b") in one round trip; symlinks are not
// followed (the CLI works on links themselves, like `svn`).
struct ResolvePathRequest {
  1: string path
  2: optional RequestContext ctx
}
struct ResolvePathResponse {
  1: RpcStatus status
  2: Attr attr
}

struct GetAttrRequest {
  1: i64 inode
  2: optional RequestContext ctx
}
struct GetAttrResponse {
  1: RpcStatus status
  2: Attr attr
}

// Only the fields that are set change. Changing `size` drops whole chunks
// beyond the new end; the client library shortens the last chunk on the
// chunk servers first (see docs/protocol.md, "Truncate").
struct SetAttrRequest {
  1: RequestContext ctx
  2: i64 inode
  3: optional i32 mode
  4: optional i32 uid
  5: optional i32 gid
  6: optional i64 size
  7: optional i64 atime_ns
  8: optional i64 mtime_ns
  9: optional i32 goal
}
struct SetAttrResponse {
  1: RpcStatus status
  2: Attr attr
}

// Reads of regular files, sent after the fact and in batches (a mount
// queues them; docs/fuse.md, "atime"): each file's atime becomes the time
// of its read - clamped to the metaserver's clock: not in the future, not
// more than a minute in the past - always if !relatime, else (Linux's
// relatime) only if atime is not after mtime or ctime or is more than 24
// hours older than the read. atime never moves back; ctime does not change.
// Needs read permission on each file: a file that is gone, is not a
// regular file or is not readable is skipped. At most 4096 reads a call.
struct AtimeRead {
  1: i64 inode
  2: i64 atime_ns         // when it was read (ns since the Unix epoch)
}
struct UpdateAtimeRequest {
  1: RequestContext ctx
  3: bool relatime
  4: list<AtimeRead> reads
}
struct UpdateAtimeResponse {
  1: RpcStatus status
  2: i32 updated          // files whose atime changed
  3: i32 skipped          // gone, not regular files, or not readable
}

// Tags of a document (docs/tags.md): a name, or a name with a value. Names:
// 1..200 bytes of UTF-8 without '/', '=', white space or control
// characters; values: at most 200 bytes without '/' or control characters.
// Both are stored in Unicode NFC.
struct Tag {
  1: string name
  2: optional string value
}

// Changes the tags of one document (any kind of inode): `remove` first (a
// name without a value takes the name and all its values off), then `add`
// (a tag already there stays). Needs write permission on the inode. At most
// 256 tags in each list, and a document carries at most 1000 (NO_SPACE).
struct SetTagsRequest {
  1: RequestContext ctx
  2: i64 inode
  3: list<Tag> add
  4: list<Tag> remove
}
struct SetTagsResponse {
  1: RpcStatus status
  2: list<Tag> tags         // the document's tags after the change
}

// The tags of one document, by name then value. Needs read permission.
struct GetTagsRequest {
  1: RequestContext ctx
  2: i64 inode
}
struct GetTagsResponse {
  1: RpcStatus status
  2: list<Tag> tags
}

// The documents a query selects (docs/query_language.md) that the caller
// could reach by path (search permission on every directory of the way,
// inside its key's subtree), in inode order after `after_inode`. limit 0:
// 1000; at most 10000. A page may come back short (at most 20000 candidates
// are looked at per call): call again after next_after while `more`.
struct QueryRequest {
  1: RequestContext ctx
  2: string expr
  3: i64 after_inode = 0
  4: i32 limit = 0
}
struct QueryEntry {
  1: string path
  2: Attr attr
}
struct QueryResponse {
  1: RpcStatus status
  2: list<QueryEntry> entries
  3: i64 next_after
  4: bool more
}

// Saved queries (docs/tags.md): every client sees them. A name is 1..255
// bytes without '/' or control characters (not "." or ".."); the expression
// must parse. Replacing or removing one needs its owner or root.
struct SavedQuery {
  1: string name
  2: string expr
  3: i32 owner_uid
}
struct SaveQueryRequest {
  1: RequestContext ctx
  2: string name
  3: string expr
}
struct SaveQueryResponse {
  1: RpcStatus status
}
struct DeleteQueryRequest {
  1: RequestContext ctx
  2: string name
}
struct DeleteQueryResponse {
  1: RpcStatus status
}
struct ListQueriesRequest {
  1: RequestContext ctx
}
struct ListQueriesResponse {
  1: RpcStatus status
  2: list<SavedQuery> queries   // by name
}

// Tag names with how many documents carry each (an implied tag counts as
// if present) and the bytes of those that are regular files. Only documents
// the caller could reach by path count (search permission on every
// directory from its key's root down; docs/tags.md). `within`: only among
// the documents that query selects (co-occurring tags; the query's own tags
// included). `name`: the values of that tag instead, each with its counts
// (numbers, then dates, then text, each in order). By name, `offset`
// entries skipped; limit 0: 1000, at most 100000; `more` when cut short.
struct TagCount {
  1: string name
  2: optional string value
  3: i64 documents
  4: i64 bytes
}
struct ListTagsRequest {
  1: RequestContext ctx
  2: optional string within
  3: optional string name
  4: i32 offset = 0
  5: i32 limit = 0
  // Every name, without counts (documents and bytes 0; `within` and
  // `name` ignored): what a listing of names or a completion needs.
  6: optional bool names_only
}
struct ListTagsResponse {
  1: RpcStatus status
  2: list<TagCount> tags
  3: bool more
}

// Changes the same tags on up to 1,000,000 documents in one transaction
// (all or nothing): `remove` first, then `add`, as SetTags, which checks hold
// for every inode (write permission; a missing inode is NOT_FOUND naming it).
// Over 1,000 documents the transaction runs beside the group commit, so other
// clients go on meanwhile (docs/tags.md, "Bulk changes"); it is then not
// recorded for exactly-once replay (a retry changes nothing more and
// reports 0 changed).
struct TagManyRequest {
  1: RequestContext ctx
  2: list<i64> inodes
  3: list<Tag> add
  4: list<Tag> remove
}
struct TagManyResponse {
  1: RpcStatus status
  2: i32 changed            // documents whose tags changed
}

// Tag names themselves (docs/tags.md). CREATE a name no document carries
// yet (EXISTS if it is there); RENAME name to other (NOT_FOUND,
// EXISTS: merge instead); MERGE name into other (its documents get
// other with the same values, its rules move to other, name goes);
// DELETE name (off every document, its rules too); IMPLY: a document tagged
// name also matches other (a rule that would close a cycle is
// INVALID_ARGUMENT); UNIMPLY removes that rule. RENAME, MERGE, DELETE of a
// tag in use, IMPLY and UNIMPLY need an admin acting as root.
enum TagAdminOp {
  CREATE = 1,
  RENAME = 2,
  MERGE = 3,
  DELETE = 4,
  IMPLY = 5,
  UNIMPLY = 6
}
struct TagAdminRequest {
  1: RequestContext ctx
  2: TagAdminOp op
  3: string name
  4: string other
}
struct TagAdminResponse {
  1: RpcStatus status
  2: i64 documents          // documents whose tags changed
}

// Every implication rule, by tag then implied tag.
struct TagRule {
  1: string tag
  2: string implied
}
struct ListImplicationsRequest {
  1: RequestContext ctx
}
struct ListImplicationsResponse {
  1: RpcStatus status
  2: list<TagRule> rules
}

struct MkdirRequest {
  1: RequestContext ctx
  2: i64 parent
  3: string name
  4: i32 mode
}
struct MkdirResponse {
  1: RpcStatus status
  2: Attr attr
  3: optional Attr dir_attr  // the parent directory after the change
}

// Where a new write of one chunk goes, handed out with a Create
// (CreateResponse.first_chunk): the same fields PrepareWrite answers.
struct ChunkPlacement {
  1: i64 index            // chunk number within the file
  2: i64 chunk_id
  3: i64 version          // the version to write with
  4: i64 length           // current committed length of the chunk
  5: list<ServerAddress> replicas  // write to all of them (chain order)
  6: i64 lease_id         // the write lease: only its holder may commit (docs/write_protocol.md)
  7: i32 lease_ms         // the lease expires this long after it was granted unless renewed
  8: optional Capability capability  // for the chunk servers: write this chunk at `version`
}

// Creates a regular file; EXISTS if the name is taken. With
// `prepare_first_chunk` the same transaction also places chunk 0 exactly as
// PrepareWrite places a new chunk, saving a new file's writer that round trip
// and commit (see docs/protocol.md, "Sequences").
struct CreateRequest {
  1: RequestContext ctx
  2: i64 parent
  3: string name
  4: i32 mode
  5: optional i32 goal    // default: the parent directory's goal
  6: optional i64 mtime_ns // default: now (used by `ddbfs add` to keep mtimes)
  7: bool prepare_first_chunk = false  // also place chunk 0 (see first_chunk)
  // Tags of the new file, set in the create's own transaction (as SetTags,
  // without its permission check: the creator may tag what it creates).
  8: optional list<Tag> tags
  // The caller's client session has the new file open (see UpdateOpenFiles):
  // it is declared open in the same call.
  9: optional i64 open_session
}
struct CreateResponse {
  1: RpcStatus status
  2: Attr attr
  // Chunk 0, placed as PrepareWrite would: write it with this placement and
  // commit it with CommitWrite. Absent when not asked for or when placement
  // failed (no chunk server alive or with room): the file is created anyway
  // and the writer calls PrepareWrite, which reports the error.
  3: optional ChunkPlacement first_chunk
  4: optional Attr dir_attr  // the parent directory after the change
  // open_session was given but the metaserver does not hold that session's
  // whole open set (it restarted, or the session expired): send it again
  // with UpdateOpenFiles(full_set).
  5: optional bool open_set_needed
}

// A FIFO, socket or device node (not a regular file: Create; not a
// directory: Mkdir). Devices need root; rdev only for devices.
struct MknodRequest {
  1: RequestContext ctx
  2: i64 parent
  3: string name
  4: FileType type
  5: i32 mode             // permission bits
  6: i64 rdev
}
struct MknodResponse {
  1: RpcStatus status
  2: Attr attr
}

struct SymlinkRequest {
  1: RequestContext ctx
  2: i64 parent
  3: string name
  4: string target
}
struct SymlinkResponse {
  1: RpcStatus status
  2: Attr attr
}

struct ReadlinkRequest {
  1: i64 inode
  2: optional RequestContext ctx
}
struct ReadlinkResponse {
  1: RpcStatus status
  2: string target
}

// Extended attributes (docs/metadata.md, "Extended attributes"): names
// "user.*", "trusted.*", "security.*"; at most 255 bytes per name, 65536 per
// value, 128 attributes and 256 KiB in all per node.
struct GetXattrRequest {
  1: i64 inode
  2: string name
  3: optional RequestContext ctx
}
struct GetXattrResponse {
  1: RpcStatus status     // NO_ATTRIBUTE: no attribute of that name
  2: binary value
}
struct ListXattrRequest {
  1: i64 inode
  2: optional RequestContext ctx
}
struct ListXattrResponse {
  1: RpcStatus status
  2: list<string> names   // bytewise order
}
// flags: 0 create or replace, 1 create only (EXISTS if there is one),
// 2 replace only (NO_ATTRIBUTE if there is none): XATTR_CREATE / XATTR_REPLACE.
struct SetXattrRequest {
  1: RequestContext ctx
  2: i64 inode
  3: string name
  4: binary value
  5: i32 flags
}
struct SetXattrResponse {
  1: RpcStatus status
}
struct RemoveXattrRequest {
  1: RequestContext ctx
  2: i64 inode
  3: string name
}
struct RemoveXattrResponse {
  1: RpcStatus status     // NO_ATTRIBUTE: no attribute of that name
}

// New hard link to an existing regular file or symlink.
struct LinkRequest {
  1: RequestContext ctx
  2: i64 inode
  3: i64 new_parent
  4: string new_name
}
struct LinkResponse {
  1: RpcStatus status
  2: Attr attr
}

// A name whose inode the caller still has open can be removed while the
// inode lives on as an *orphan* held by the caller's client session
// (docs/metadata.md, "Client sessions and orphans"): with session_id and
// open_inodes set, an inode of open_inodes that loses its last name here is
// kept (nlink 0, no name) until ReleaseOrphan, CloseSession or the session's
// expiry. session_id must be a live session of the connection's principal
// (PERMISSION_DENIED for another's, LEASE_EXPIRED for an expired one).
struct UnlinkRequest {
  1: RequestContext ctx
  2: i64 parent
  3: string name
  4: optional i64 session_id      // the caller's client session
  5: optional list<i64> open_inodes  // inodes the caller has open (at most 1024)
}
struct UnlinkResponse {
  1: RpcStatus status
  2: optional i64 orphaned_inode  // set when the inode was kept as an orphan
  3: optional Attr dir_attr  // the parent directory after the change
}

struct RmdirRequest {
  1: RequestContext ctx
  2: i64 parent
  3: string name
}
struct RmdirResponse {
  1: RpcStatus status
  2: optional Attr dir_attr  // the parent directory after the change
}

const i32 RENAME_FLAG_NOREPLACE = 1
const i32 RENAME_FLAG_EXCHANGE = 2

struct RenameRequest {
  1: RequestContext ctx
  2: i64 parent
  3: string name
  4: i64 new_parent
  5: string new_name
  6: i32 flags            // RENAME_FLAG_NOREPLACE | RENAME_FLAG_EXCHANGE, or 0
  // As in UnlinkRequest, for a replaced target that loses its last name.
  7: optional i64 session_id
  8: optional list<i64> open_inodes
}
struct RenameResponse {
  1: RpcStatus status
  2: optional i64 orphaned_inode  // the replaced target, kept as an orphan
}

struct DirEntry {
  1: string name
  2: Attr attr
}

// Entries sorted by name (bytewise), strictly after `after_name`.
struct ReadDirRequest {
  1: i64 inode
  2: string after_name    // "" for the first page
  3: i32 limit            // the server caps it at 10000
  4: optional RequestContext ctx
}
struct ReadDirResponse {
  1: RpcStatus status
  2: list<DirEntry> entries
  3: bool more            // true when entries follow the last one returned
}

// ---------------------------------------------------------------- chunks

struct ReplicaInfo {
  1: ServerAddress address
  2: i64 version          // version the metaserver has recorded for it
  3: bool alive           // its server is heartbeating
  4: string label         // the host label given at registration
}

struct ChunkInfo {
  1: i64 index            // chunk number within the file (offset / chunk size)
  2: i64 chunk_id
  3: i64 version          // committed version
  4: i64 length           // valid bytes in this chunk
  5: list<ReplicaInfo> replicas
  6: optional Capability read_cap  // read capability for `version`; absent when the
                                    // caller may not read the file
}

// The chunk map of a file. Without `all_replicas`, only replicas that are
// alive and at the committed version are listed (those a reader may use).
struct GetChunksRequest {
  1: i64 inode
  2: i64 first_index
  3: i32 count            // chunks to return starting at first_index
  4: bool all_replicas
  5: optional RequestContext ctx
  // The caller's client session opens this file: it is declared open as by
  // UpdateOpenFiles.opened, before the chunk map is read (an open costs no
  // extra round trip).
  6: optional i64 open_session
}
struct GetChunksResponse {
  1: RpcStatus status
  2: Attr attr
  3: list<ChunkInfo> chunks  // only chunks that exist; holes are absent
  4: optional bool open_set_needed  // as in CreateResponse
}

// Starts a write to one chunk of a file: allocates the chunk (placing `goal`
// replicas on distinct servers, distinct hosts first) or picks its live,
// up-to-date replicas, and hands out the version the write must carry.
struct PrepareWriteRequest {
  1: RequestContext ctx
  2: i64 inode
  3: i64 index
}
// BUSY while another writer holds the chunk's lease or the chunk is being
// settled after a writer died (the client retries; docs/write_protocol.md).
struct PrepareWriteResponse {
  1: RpcStatus status
  2: i64 chunk_id
  3: i64 version          // the new version to write with (this generation's own)
  4: i64 length           // current committed length of the chunk
  5: list<ServerAddress> replicas  // write to all of them (chain order)
  6: i64 lease_id         // the write lease on this chunk, needed to commit
  7: i32 lease_ms         // lease duration; renew (RenewLease) before half of it passed
  8: i32 goal             // wanted replicas: with fewer `replicas`, the writer first
                          // adds replacements (RecoverWrite with no failed server)
  9: optional Capability capability  // write capability for `version` and `replicas`
}

// Extends write leases the caller holds. A lease that was lost (expired and
// settled, or taken over) answers LEASE_EXPIRED: its writes cannot commit.
struct LeaseRef {
  1: i64 chunk_id
  2: i64 lease_id
}
struct RenewLeaseRequest {
  1: RequestContext ctx
  2: i64 inode
  3: list<LeaseRef> leases
}
struct RenewLeaseResponse {
  1: RpcStatus status
  2: i32 lease_ms         // each lease now expires this long from now
}

// Gives up a write lease without committing (the writer failed): the chunk
// is settled at once instead of when the lease would have expired.
struct ReleaseLeaseRequest {
  1: RequestContext ctx
  2: i64 inode
  3: list<LeaseRef> leases
}
struct ReleaseLeaseResponse {
  1: RpcStatus status
}

// Pipeline recovery: some replicas failed during a write under a lease. The
// metaserver picks replacements for the failed ones (distinct hosts first),
// and hands out a NEW version for the rest of this write, so that the failed
// replicas are stale from now on. The writer then moves the good replicas to
// the new version (a zero-length WriteChunk), has each new server copy the
// chunk from a good one (ReplicateChunk), and writes on with `replicas`.
struct RecoverWriteRequest {
  1: RequestContext ctx
  2: i64 inode
  3: i64 index
  4: i64 chunk_id
  5: i64 lease_id
  6: i64 version          // the version written so far
  7: list<i32> good       // servers that have every piece written so far
  8: list<i32> failed     // servers that failed a piece or a sync
}
struct RecoverWriteResponse {
  1: RpcStatus status
  2: i64 version          // the new version for the rest of the write
  3: list<ServerAddress> good      // the good replicas, in chain order
  4: list<ServerAddress> added     // new replicas to fill by copy (may be empty:
                                   // then the chunk stays under goal)
  5: optional Capability capability  // write capability for the new version, good + added
}

// A chunk server's signed statement about its replica (docs/content_hash.md):
// "my replica of chunk_id at `version` holds `length` bytes whose SHA-256 is
// `sha256`, and takes no other bytes at this version". Only a server with the
// cluster key can make one; a client relays it unchanged in ChunkCommit.
struct ChunkHashProof {
  1: i32 server_id        // the server that hashed the bytes
  2: i64 session          // its registration session (RegisterServerResponse.session)
  3: i64 chunk_id
  4: i64 version
  5: i64 length
  6: binary sha256        // 32 bytes
  7: i32 key_id           // which hash-proof key signed it
  8: binary mac           // HMAC-SHA256 over the fields above (docs/content_hash.md)
}

struct ChunkCommit {
  1: i64 index
  2: i64 chunk_id
  3: i64 version          // the version written (from PrepareWrite)
  4: i64 length           // new valid length of the chunk
  5: list<i32> written    // servers that acknowledged the write
  6: i64 lease_id         // the lease the write ran under (0: none, refused)
  // The proofs the `written` servers gave when the write was sealed
  // (WriteChunkRequest.seal). The metaserver records the chunk's SHA-256
  // only when every written server proves the same one for this version
  // and length; otherwise the chunk's hash is stale until the background
  // rehash (docs/content_hash.md).
  7: optional list<ChunkHashProof> hashes
}

// Makes written chunks visible: records versions and lengths, sets the file
// size and mtime. Replicas not in `written` become stale and are dropped.
struct CommitWriteRequest {
  1: RequestContext ctx
  2: i64 inode
  3: list<ChunkCommit> chunks
  4: i64 size             // new file size
  5: optional i64 mtime_ns
}
struct CommitWriteResponse {
  1: RpcStatus status
  2: Attr attr
}

// A reader found a replica corrupt (CRC mismatch) or missing; the metaserver
// drops it from the chunk map and has its server delete it.
struct ReportBadReplicaRequest {
  1: i64 chunk_id
  2: i32 server_id
  3: ErrorCode reason
  4: optional RequestContext ctx
}
struct ReportBadReplicaResponse {
  1: RpcStatus status
}

// ---------------------------------------------------------------- servers

struct ChunkVersion {
  1: i64 chunk_id
  2: i64 version
}

// Opens a registration (docs/metadata.md, "Chunk servers and liveness"). A
// server with `paged_inventory` sends no inventory here: it answers with a
// session, and the server then sends every chunk it stores with
// ReportInventory, in pages sorted by chunk id. Without `paged_inventory`
// (servers that predate paging) `inventory` is the whole inventory.
// PERMISSION_DENIED when another server that is alive (heartbeat within the
// timeout) holds this uuid at another address.
struct RegisterServerRequest {
  1: string host          // address clients connect to
  2: i32 port
  3: string label         // host label for placement (default: hostname)
  4: string uuid          // identity kept in the data folder across restarts
  5: i64 capacity_bytes
  6: i64 used_bytes
  7: list<ChunkVersion> inventory  // every chunk stored; empty when paged_inventory
  8: optional bool paged_inventory // the inventory follows in ReportInventory pages
  9: optional i64 chunk_count      // how many chunks the pages will carry (for status)
  10: optional string rack         // rack label for placement (absent or "": none; each
                                   // unlabelled host then counts as a rack of its own)
}
struct RegisterServerResponse {
  1: RpcStatus status
  2: i32 server_id
  3: i32 heartbeat_interval_ms
  4: list<i64> delete_chunks  // replicas the server must delete now
  5: optional i64 session     // registration session: pass it to ReportInventory and Heartbeat
  6: optional i32 max_page_entries  // largest inventory page the metaserver accepts
}

// One page of a paged inventory. Entries are sorted by chunk id, strictly
// increasing within and across the pages of a session; the page covers the
// chunk ids after the previous page's last one up to its own last one (the
// last page: up to the end). Pages are sent one at a time (BUSY otherwise);
// more than max_page_entries entries is INVALID_ARGUMENT. NOT_FOUND when
// the session is over (the metaserver restarted, or the server registered
// again): register again.
struct ReportInventoryRequest {
  1: i32 server_id
  2: i64 session
  3: list<ChunkVersion> entries
  4: bool last              // no page follows: the inventory is complete
}
struct ReportInventoryResponse {
  1: RpcStatus status
  2: list<i64> delete_chunks  // replicas of this page's range to delete now
}

struct HeartbeatRequest {
  1: i32 server_id
  2: i64 capacity_bytes
  3: i64 used_bytes
  4: i64 chunk_count
  5: list<i64> deleted_chunks  // deleted since the last heartbeat
  6: optional i64 session      // from RegisterServerResponse; another one means reregister
  // Replicas this server found bad since the last heartbeat (the scrubber:
  // a block whose CRC32C fails, a truncated or unreadable file, a file gone
  // from disk), each with the version it held; at most 1000. The metaserver
  // drops each from the chunk map (unless no other live current replica
  // is left) and queues its deletion, so the repair copies a good one back
  // (docs/repair.md, "Scrubbing").
  7: optional list<ChunkVersion> bad_replicas
}
struct HeartbeatResponse {
  1: RpcStatus status
  2: list<i64> delete_chunks   // replicas to delete (garbage collection)
  3: bool reregister           // the metaserver does not know this server (or session)
}

// Orphan check (docs/repair.md, "Orphans"): a chunk server sends every
// replica it stores, in pages of at most max_page_entries sorted by chunk
// id, every --inventory-check-interval-s. The metaserver queues for
// deletion (delivered by the heartbeats) each listed replica that the
// metadata does not know - no replica row of this server, no deletion
// queued - once it is older than its --orphan-grace-s. NOT_FOUND when the
// session is over (register again).
struct ReplicaAge {
  1: i64 chunk_id
  2: i64 version
  3: i64 age_ms           // since the replica's file last changed on this server
}
struct CheckReplicasRequest {
  1: i32 server_id
  2: i64 session
  3: list<ReplicaAge> entries
}
struct CheckReplicasResponse {
  1: RpcStatus status
  2: i64 unknown          // entries the metadata does not know (orphans)
  3: i64 queued           // of them, queued for deletion now (older than the grace)
}

// ddbfs fsck (docs/repair.md, "fsck"): compares the chunk map with the
// inventory of every live chunk server, one window of chunk ids per call:
// up to `limit` chunks of the metadata (at most 5000) after `after_chunk_id`,
// with the replicas each live server holds of them (asked with
// ChunkService.ListReplicas) and, without `path`, the replicas of that id
// range the metadata does not know (orphans). Admins only.
struct FsckRequest {
  1: RequestContext ctx
  2: string path              // "" or "/": everything; else only the files under it
  3: bool repair              // act now: drop bad and stale rows, queue orphans, kick the repair
  4: i64 after_chunk_id
  5: i32 limit
}
struct FsckReplica {
  1: i32 server_id
  2: string address
  3: bool alive
  4: i64 row_version          // the chunk map's version of it; -1: no row
  5: i64 disk_version         // what the server holds; -1: nothing (or server not asked)
  6: i64 disk_length
  7: bool corrupt             // the server found it bad (CRC, header, unreadable, gone)
  8: string state             // good, corrupt, absent, stale, dead, unrecorded, newer
}
struct FsckChunk {
  1: i64 chunk_id
  2: i64 inode
  3: i64 index
  4: i64 version
  5: i64 length
  6: i32 goal
  7: i32 good                 // live replicas at the version, on disk and not corrupt
  8: list<string> paths       // up to 8; empty: the file has no name (unlinked, open)
  9: list<string> problems    // missing, corrupt, stale, under_goal, over_goal
  10: list<FsckReplica> replicas
}
struct FsckOrphan {
  1: i32 server_id
  2: i64 chunk_id
  3: i64 version
  4: i64 length
  5: i64 age_ms
  6: bool known_chunk         // the chunk exists (an unrecorded copy), else it was deleted
  7: bool queued              // its deletion is queued (repair, or older than the grace)
  // Its deletion is queued but held for the metaserver's --chunk-retention-s
  // (the chunk is not in the metadata: a restored backup may still need it;
  // docs/backup.md). Also set when a held deletion was queued earlier.
  8: optional bool held
}
struct FsckResponse {
  1: RpcStatus status
  2: list<FsckChunk> chunks   // chunks of this window with a problem
  3: list<FsckOrphan> orphans // at most 10000 per call
  4: i64 chunks_checked
  5: i64 orphans_not_listed   // orphans past the 10000
  6: list<i32> servers_not_checked  // live servers whose inventory could not be read
  7: i64 next_after_chunk_id
  8: bool more                // ask again with next_after_chunk_id
  9: i64 repair_actions       // rows dropped and deletions queued by this call
}

struct ServerStatus {
  1: ServerAddress address
  2: string label
  3: bool alive
  4: i64 capacity_bytes
  5: i64 used_bytes
  6: i64 chunks
  7: i64 last_heartbeat_ms_ago
  // ddbfs server drain (docs/repair.md, "Draining"): it gets no new chunk,
  // and its replicas are moved off; drain_chunks_left counts the replica
  // rows it still holds (0: the drain is done, `ddbfs server remove` may
  // forget it once it is stopped).
  8: optional bool draining
  9: optional i64 drain_chunks_left
  10: optional string rack  // the rack label given at registration (absent: none)
}

struct ClusterStatusRequest {
  1: optional RequestContext ctx
}
struct ClusterStatusResponse {
  1: RpcStatus status
  2: list<ServerStatus> servers
  3: i64 files
  4: i64 directories
  5: i64 chunks
  6: i64 chunks_under_goal   // fewer live up-to-date replicas than goal
  7: i64 chunks_missing      // no live up-to-date replica at all
  8: i64 pending_deletions   // replicas queued for garbage collection
  9: i64 logical_bytes       // sum of file sizes
  // Repair (docs/repair.md). chunks_over_goal: more live up-to-date replicas
  // than goal (trimmed by the repair). The repair_* figures are this
  // metaserver process's since it started; 0 when repair is off.
  10: i64 chunks_over_goal
  11: bool repair_enabled
  12: i32 repair_copies_in_flight
  13: i64 repair_chunks_copied     // copies recorded in the chunk map
  14: i64 repair_bytes_copied
  15: i64 repair_bytes_per_s       // copied bytes per second over the last 10 s
  16: i64 repair_copies_failed     // source or target failed: tried again
  17: i64 repair_copies_discarded  // the chunk changed during the copy: not recorded
  18: i64 repair_replicas_trimmed  // extra replicas over goal dropped and deleted
  // Passes that scanned the chunk map (a pass is skipped while nothing
  // changed since one that found nothing; docs/repair.md, "A pass").
  19: optional i64 repair_scans
  // Deletion retention (docs/backup.md): replicas of chunks the metadata no
  // longer has, kept on their servers for --chunk-retention-s so that a
  // restored backup still finds them. held_bytes counts the replicas whose
  // size is known (those of deleted files and truncations).
  20: optional i64 held_replicas
  21: optional i64 held_bytes
  22: optional i64 chunk_retention_s
  // Rebalancing (docs/repair.md, "Rebalancing"): the margin in percentage
  // points (0: off), the usage gap now between the alive, reconciled,
  // undrained servers (from their reports), moves queued or copying, and
  // the moves recorded since this metaserver process started (chunks,
  // bytes, bytes per second over the last 10 s). Not set by older
  // metaservers.
  23: optional double rebalance_margin_pct
  24: optional double rebalance_gap_pct
  25: optional i32 rebalance_moves_in_flight
  26: optional i64 rebalance_chunks_moved
  27: optional i64 rebalance_bytes_moved
  28: optional i64 rebalance_bytes_per_s
}

// --------------------------------------------------------- client sessions
// A client that keeps files open across their unlink (the mount) opens a
// session, renews it well within timeout_ms, and closes it when it stops
// (docs/metadata.md, "Client sessions and orphans"). A session belongs to
// the principal of the connection that opened it: only that principal may
// renew or close it, release its orphans or attach orphans to it
// (PERMISSION_DENIED otherwise). A session not renewed for timeout_ms is
// dead: the metaserver deletes its orphans with their data. An unknown or
// expired session answers LEASE_EXPIRED.

struct OpenSessionRequest {
  1: RequestContext ctx
  2: string description    // for logs and status: "ddbfs-mount /media/ddbfs on host1 (pid 42)"
}
struct OpenSessionResponse {
  1: RpcStatus status
  2: i64 session_id
  3: i32 timeout_ms        // renew well before this has passed (the mount: every third)
}

struct RenewSessionRequest {
  1: RequestContext ctx
  2: i64 session_id
}
struct RenewSessionResponse {
  1: RpcStatus status
  2: i32 timeout_ms
  3: optional bool open_set_needed  // send UpdateOpenFiles(full_set)
}

// Deletes every orphan of the session (as a last unlink does), then the
// session. Closing a session that is gone already is OK.
struct CloseSessionRequest {
  1: RequestContext ctx
  2: i64 session_id
}
struct CloseSessionResponse {
  1: RpcStatus status
  2: i32 released          // orphans deleted
}

// The last close of an orphan: deletes the inode and its data. OK when it is
// gone already (released before, or the session expired).
struct ReleaseOrphanRequest {
  1: RequestContext ctx
  2: i64 session_id
  3: i64 inode
}
struct ReleaseOrphanResponse {
  1: RpcStatus status
}

// The files a client session has open (docs/metadata.md, "Open files of
// client sessions"): a regular file that loses its last name while any live
// session has it open is kept as an orphan of each such session and deleted
// when the last of them releases it or dies. The metaserver keeps the open
// sets in memory: after its start (or a failover) it asks every session for
// its whole set again (open_set_needed), and until a session has sent it,
// that session counts as holding every file.
// opened: inodes opened (an open that sent no GetChunks or Create with
// open_session; or the whole set with full_set). released: inodes no longer
// open (batched by the client). With full_set the session's set becomes
// exactly `opened` and its orphans not in it are released.
// LEASE_EXPIRED for an unknown or expired session, PERMISSION_DENIED for
// another principal's, TOO_MANY_OPEN past the metaserver's limit (nothing
// changes then).
struct UpdateOpenFilesRequest {
  1: RequestContext ctx
  2: i64 session_id
  3: list<i64> opened
  4: list<i64> released
  5: bool full_set = false
}
struct UpdateOpenFilesResponse {
  1: RpcStatus status
  2: bool open_set_needed   // the metaserver still lacks the whole set
  3: i32 orphans_deleted    // orphans whose last holder this release was
}

// ------------------------------------------------------------- export keys
// Keys that clients on other machines authenticate with (docs/security.md,
// "Export keys"). Adding, listing and revoking them needs an admin.

struct ExportKey {
  1: string key_id
  2: string name           // what the admin called it
  3: list<string> networks // CIDRs a client may connect from; empty: any
  4: bool read_only
  5: string subtree        // the directory the key reaches ("/": everything)
  // "trusted": the client asserts its users' uid/gid/groups (a root-run mount
  // on a trusted machine), with root mapped to maproot; "mapall": every
  // request runs as map_uid/map_gid.
  6: string identity
  7: i32 map_uid
  8: i32 map_gid
  9: i32 maproot_uid       // uid 0 of a trusted client becomes this (root squash)
  10: i32 maproot_gid
  11: bool admin           // may manage keys and server settings
  12: i64 created_ms
  13: bool revoked
}

struct AddKeyRequest {
  1: RequestContext ctx
  2: ExportKey key         // key_id, created_ms and revoked are chosen by the server
}
struct AddKeyResponse {
  1: RpcStatus status
  2: ExportKey key
  3: binary secret         // shown once; the metaserver keeps it for verification
}

struct ListKeysRequest {
  1: RequestContext ctx
}
struct ListKeysResponse {
  1: RpcStatus status
  2: list<ExportKey> keys
}

struct RevokeKeyRequest {
  1: RequestContext ctx
  2: string key_id
}
struct RevokeKeyResponse {
  1: RpcStatus status
}

// Who the metaserver takes this connection (and request) for.
struct WhoAmIRequest {
  1: optional RequestContext ctx
}
struct WhoAmIResponse {
  1: RpcStatus status
  2: string principal      // "uid 1000 (peer)", "key k3f2... (name)", "cluster"
  3: i32 uid               // the identity permissions are checked for
  4: i32 gid
  5: list<i32> groups
  6: bool read_only
  7: string subtree
  8: bool admin
}

// ------------------------------------------------------------ content hashes
// A document's hash is the SHA-256 of its chunks' SHA-256s
// (docs/content_hash.md); chunk servers compute them, never clients.

// The content hash of a regular file. Needs read permission.
struct GetContentHashRequest {
  1: RequestContext ctx
  2: i64 inode
}
struct GetContentHashResponse {
  1: RpcStatus status
  2: optional binary sha256  // 32 bytes; absent while stale (being recomputed)
  3: i64 size                // the file size it is for
  4: i64 stale_chunks        // chunks whose hash is being recomputed
}

// Documents with the same content (size and hash) below the directory
// `under`, that the caller could reach by path (search permission on every
// directory of the way, inside its key's subtree) and may read. Each page
// looks at no more than `limit` documents (0: 10000, the maximum) and
// carries at most 4 MiB of paths. Documents whose hash is stale are not
// grouped but counted in `stale`. Empty files count only with `empty`.
struct FindDuplicatesRequest {
  1: RequestContext ctx
  2: i64 under
  3: optional binary page_token  // from the previous page; absent: the first
  4: bool empty = false
  5: i32 limit = 0
}
struct DuplicateEntry {
  1: string path
  2: Attr attr
  3: binary sha256
}
struct FindDuplicatesResponse {
  1: RpcStatus status
  // By size, hash, then inode: consecutive entries with the same size and
  // hash are one group of at least two documents; a group may go on in the
  // next page.
  2: list<DuplicateEntry> entries
  3: i64 stale                   // documents with a stale hash met in this page
  4: optional binary page_token  // absent: the listing is complete
}

// ------------------------------------------------------------------- goals
// Goals per file, directory and tag (docs/repair.md, "Goals"): a chunk's
// goal is the highest of its file's own goal and the goals of the rules of
// the tags the file carries.

// The effective goal of a node and where it comes from. Needs nothing but
// reaching the node.
struct GetGoalRequest {
  1: RequestContext ctx
  2: i64 inode
}
struct GetGoalResponse {
  1: RpcStatus status
  2: i32 goal              // the effective goal (what the repair keeps)
  3: i32 own_goal          // the node's own goal (ddbfs.inodes.goal)
  // Where `goal` comes from: "node" (set on it), "directory" (copied from
  // its directory when it was created; source_path is the nearest
  // directory above with a goal set, "" when none), "default" (the cluster
  // default: nothing on the way up was ever set), "tag" (a tag rule higher
  // than the node's own goal: source_tag).
  4: string source
  5: string source_path
  6: string source_tag
  7: i32 source_goal       // "directory": that directory's goal now
  8: i32 tag_goal          // the highest goal of its tags' rules (0: none)
}

// Sets the goal (1..9) of the node `inode`; with `children`, of the entries
// of the directory `inode` after `after_name` instead, at most `limit` of
// them (0 or more than 1000: 1000), so that `ddbfs goal set -r` changes a
// tree in bounded steps. Needs write permission on each node changed: a
// child without it is skipped and counted in `denied`; the node itself
// without it is NOT_PERMITTED.
struct SetGoalRequest {
  1: RequestContext ctx
  2: i64 inode
  3: i32 goal
  4: bool children = false
  5: string after_name = ""
  6: i32 limit = 0
}
struct SetGoalResponse {
  1: RpcStatus status
  2: i32 changed             // nodes whose goal changed
  3: i32 denied              // children skipped: no write permission
  4: list<i64> directories   // children: the subdirectories of the page
  5: string last_name        // children: the page's last entry (after_name of the next)
  6: bool more               // children: entries follow last_name
}

// A tag rule: documents carrying `tag` (any value) have at least `goal`.
struct GoalRule {
  1: string tag
  2: i32 goal
  3: i64 documents         // documents carrying the tag now
}
// Sets the rule of `tag` (goal 1..9; the tag name is created if new) or
// removes it (goal 0; NOT_FOUND if there is none). Needs an admin acting as
// root, like tag rename.
struct SetGoalRuleRequest {
  1: RequestContext ctx
  2: string tag
  3: i32 goal
}
struct SetGoalRuleResponse {
  1: RpcStatus status
  2: i64 documents         // documents carrying the tag
}
struct ListGoalRulesRequest {
  1: RequestContext ctx
}
struct ListGoalRulesResponse {
  1: RpcStatus status
  2: list<GoalRule> rules  // by tag name; at most 10000
}

// -------------------------------------------------------- draining servers
// docs/repair.md, "Draining". Admins only.

// drain: the server gets no new chunk or repair copy, its replicas stop
// counting toward goals, the repair copies each of its chunks elsewhere and
// then drops its replica. !drain (undrain): back to normal (replicas it
// still holds count again; the extras are trimmed).
struct DrainServerRequest {
  1: RequestContext ctx
  2: i32 server_id
  3: bool drain
}
struct DrainServerResponse {
  1: RpcStatus status
  2: i64 chunks_left       // replica rows the server still holds
}

// Forgets a chunk server (its row, its queued deletions). BUSY while it is
// alive (stop it first: it would register again); NOT_EMPTY while it still
// has replica rows of written chunks (drain it first; the message says how
// many are the only live copy).
struct RemoveServerRequest {
  1: RequestContext ctx
  2: i32 server_id
}
struct RemoveServerResponse {
  1: RpcStatus status
}

service MetaService {
  LookupResponse Lookup(1: LookupRequest req)
  ResolvePathResponse ResolvePath(1: ResolvePathRequest req)
  GetAttrResponse GetAttr(1: GetAttrRequest req)
  SetAttrResponse SetAttr(1: SetAttrRequest req)
  UpdateAtimeResponse UpdateAtime(1: UpdateAtimeRequest req)
  SetTagsResponse SetTags(1: SetTagsRequest req)
  GetTagsResponse GetTags(1: GetTagsRequest req)
  QueryResponse Query(1: QueryRequest req)
  SaveQueryResponse SaveQuery(1: SaveQueryRequest req)
  DeleteQueryResponse DeleteQuery(1: DeleteQueryRequest req)
  ListQueriesResponse ListQueries(1: ListQueriesRequest req)
  ListTagsResponse ListTags(1: ListTagsRequest req)
  TagManyResponse TagMany(1: TagManyRequest req)
  TagAdminResponse TagAdmin(1: TagAdminRequest req)
  ListImplicationsResponse ListImplications(1: ListImplicationsRequest req)
  MkdirResponse Mkdir(1: MkdirRequest req)
  CreateResponse Create(1: CreateRequest req)
  SymlinkResponse Symlink(1: SymlinkRequest req)
  MknodResponse Mknod(1: MknodRequest req)
  ReadlinkResponse Readlink(1: ReadlinkRequest req)
  GetXattrResponse GetXattr(1: GetXattrRequest req)
  ListXattrResponse ListXattr(1: ListXattrRequest req)
  SetXattrResponse SetXattr(1: SetXattrRequest req)
  RemoveXattrResponse RemoveXattr(1: RemoveXattrRequest req)
  LinkResponse Link(1: LinkRequest req)
  UnlinkResponse Unlink(1: UnlinkRequest req)
  RmdirResponse Rmdir(1: RmdirRequest req)
  RenameResponse Rename(1: RenameRequest req)
  ReadDirResponse ReadDir(1: ReadDirRequest req)
  GetChunksResponse GetChunks(1: GetChunksRequest req)
  PrepareWriteResponse PrepareWrite(1: PrepareWriteRequest req)
  CommitWriteResponse CommitWrite(1: CommitWriteRequest req)
  ReportBadReplicaResponse ReportBadReplica(1: ReportBadReplicaRequest req)
  RenewLeaseResponse RenewLease(1: RenewLeaseRequest req)
  ReleaseLeaseResponse ReleaseLease(1: ReleaseLeaseRequest req)
  RecoverWriteResponse RecoverWrite(1: RecoverWriteRequest req)
  RegisterServerResponse RegisterServer(1: RegisterServerRequest req)
  ReportInventoryResponse ReportInventory(1: ReportInventoryRequest req)
  HeartbeatResponse Heartbeat(1: HeartbeatRequest req)
  ClusterStatusResponse ClusterStatus(1: ClusterStatusRequest req)
  HelloResponse Hello(1: HelloRequest req)
  AuthenticateResponse Authenticate(1: AuthenticateRequest req)
  WhoAmIResponse WhoAmI(1: WhoAmIRequest req)
  AddKeyResponse AddKey(1: AddKeyRequest req)
  ListKeysResponse ListKeys(1: ListKeysRequest req)
  RevokeKeyResponse RevokeKey(1: RevokeKeyRequest req)
  OpenSessionResponse OpenSession(1: OpenSessionRequest req)
  RenewSessionResponse RenewSession(1: RenewSessionRequest req)
  CloseSessionResponse CloseSession(1: CloseSessionRequest req)
  ReleaseOrphanResponse ReleaseOrphan(1: ReleaseOrphanRequest req)
  UpdateOpenFilesResponse UpdateOpenFiles(1: UpdateOpenFilesRequest req)
  GetContentHashResponse GetContentHash(1: GetContentHashRequest req)
  FindDuplicatesResponse FindDuplicates(1: FindDuplicatesRequest req)
  CheckReplicasResponse CheckReplicas(1: CheckReplicasRequest req)
  FsckResponse Fsck(1: FsckRequest req)
  GetGoalResponse GetGoal(1: GetGoalRequest req)
  SetGoalResponse SetGoal(1: SetGoalRequest req)
  SetGoalRuleResponse SetGoalRule(1: SetGoalRuleRequest req)
  ListGoalRulesResponse ListGoalRules(1: ListGoalRulesRequest req)
  DrainServerResponse DrainServer(1: DrainServerRequest req)
  RemoveServerResponse RemoveServer(1: RemoveServerRequest req)
}

// ---------------------------------------------------------------- chunk server

struct ReplicaResult {
  1: i32 server_id
  2: RpcStatus status
  // A sealed write (WriteChunkRequest.seal) that succeeded: the server's
  // proof of its replica's SHA-256, when it hashed every byte of the replica
  // as they were written (docs/content_hash.md).
  3: optional ChunkHashProof hash
}

// Writes `data` at `offset` within the chunk on this server and forwards the
// same request to chain[0] with the rest of the chain (the forward runs while
// this server writes). A chain member that cannot be reached is reported as
// UNAVAILABLE and skipped. `version` must be >= the replica's version, else
// STALE_VERSION; the replica takes `version`.
struct WriteChunkRequest {
  1: i64 chunk_id
  2: i64 version
  3: i64 offset
  4: binary data
  5: list<ServerAddress> chain
  6: bool sync            // fdatasync before answering
  7: optional Capability cap   // CAP_WRITE for chunk_id/version; chain must match it
  // After this write, answer the replica's SHA-256 (ReplicaResult.hash) and
  // refuse every later write of bytes at this version until the
  // capability has expired: the writer's last request before its commit.
  8: optional bool seal
}
struct WriteChunkResponse {
  1: RpcStatus status     // this server's own result
  2: list<ReplicaResult> replicas  // one per server reached, this one first
}

// Sets the chunk's length (shorter: bytes dropped; longer: zeros), forwarded
// along the chain like a write.
struct TruncateChunkRequest {
  1: i64 chunk_id
  2: i64 version
  3: i64 length
  4: list<ServerAddress> chain
  5: optional Capability cap
}
struct TruncateChunkResponse {
  1: RpcStatus status
  2: list<ReplicaResult> replicas
}

// Reads [offset, offset+length) of a replica whose version EQUALS `version`
// (the committed one): any other version answers STALE_VERSION, so bytes of
// an uncommitted write generation are never served.
// Every 64 KiB block touched is checked against its CRC32C; bytes past the
// chunk's length are not returned (the reply is short).
struct ReadChunkRequest {
  1: i64 chunk_id
  2: i64 version
  3: i64 offset
  4: i32 length
  5: optional Capability cap    // CAP_READ for chunk_id/version
}
struct ReadChunkResponse {
  1: RpcStatus status
  2: binary data
  3: i64 version          // the replica's version
}

// What a replica holds: used by the metaserver to settle a chunk whose
// writer died, and by fsck/repair.
struct ChunkStateRequest {
  1: i64 chunk_id
  // Also read every block and check its CRC32C (CHECKSUM_MISMATCH if one
  // fails): how the metaserver checks a replica a client reported bad.
  2: optional bool verify
}
struct ChunkStateResponse {
  1: RpcStatus status     // NOT_FOUND: no replica; CHECKSUM_MISMATCH: corrupt
  2: i64 version
  3: i64 length
}

// Sets a replica's version (only if it is at `from_version`, else
// STALE_VERSION) and, when length >= 0, its length; synced before answering.
// Used when settling a chunk (the chosen source takes the new version).
struct SetChunkVersionRequest {
  1: i64 chunk_id
  2: i64 from_version
  3: i64 to_version
  4: i64 length           // -1: keep
}
struct SetChunkVersionResponse {
  1: RpcStatus status
}

// Makes this server's replica a byte-identical copy of `source`'s replica at
// exactly `version`: reads it in pieces (CRC-checked on both ends), writes a
// new file beside any old replica, syncs it and renames it into place, so a
// failure leaves the old replica (if any) untouched. Server to server: the
// data never passes through the metaserver or the client.
struct ReplicateChunkRequest {
  1: i64 chunk_id
  2: i64 version
  3: ServerAddress source
  // From a client (pipeline recovery): a CAP_WRITE capability for chunk_id
  // and version whose chain names this server and `source`. The metaserver
  // and peers authenticate with the cluster key instead.
  4: optional Capability cap
  // Pace the copy to at most this many bytes per second (0 or absent: as
  // fast as the disks and network go). The metaserver's repair sets it
  // (docs/repair.md); honoured from cluster members only, at least 64 KiB/s.
  5: optional i64 max_bytes_per_s
}
struct ReplicateChunkResponse {
  1: RpcStatus status
  2: i64 length           // bytes copied
}

struct ChunkServerInfoRequest {
}
struct ChunkServerInfoResponse {
  1: RpcStatus status
  2: i32 server_id
  3: i64 capacity_bytes
  4: i64 used_bytes
  5: i64 chunk_count
}

// The SHA-256 of a replica's bytes [0, length) at exactly `version` (any
// other version: STALE_VERSION), bytes past the replica's own length counting
// as zeros; every block read is checked against its CRC32C. Before reading,
// writes of bytes at this version are refused for seal_ms (the lifetime of a
// capability), so the answer stays true. For the metaserver's background
// rehash (docs/content_hash.md): cluster members only.
struct HashChunkRequest {
  1: i64 chunk_id
  2: i64 version
  3: i64 length
  4: i32 seal_ms
}
struct HashChunkResponse {
  1: RpcStatus status
  2: binary sha256        // 32 bytes
  3: i64 replica_length   // the replica's own length
}

// The replicas this server stores with chunk ids in (after_chunk_id,
// upto_chunk_id], sorted, at most `limit` (capped at 10000), or, with
// `chunk_ids` (at most 10000), only those. Replicas found bad (bad header,
// a block whose CRC fails, unreadable, gone from disk) are listed with
// `corrupt`. For fsck: cluster members only.
struct ListReplicasRequest {
  1: i64 after_chunk_id
  2: i64 upto_chunk_id
  3: i32 limit
  4: optional list<i64> chunk_ids
}
struct ReplicaListing {
  1: i64 chunk_id
  2: i64 version          // 0 when the header is unreadable
  3: i64 length
  4: bool corrupt
  5: i64 age_ms           // since its file last changed on this server
}
struct ListReplicasResponse {
  1: RpcStatus status
  2: list<ReplicaListing> entries
  3: bool more            // more in the range after the last entry
}

service ChunkService {
  WriteChunkResponse WriteChunk(1: WriteChunkRequest req)
  TruncateChunkResponse TruncateChunk(1: TruncateChunkRequest req)
  ReadChunkResponse ReadChunk(1: ReadChunkRequest req)
  ChunkStateResponse ChunkState(1: ChunkStateRequest req)
  SetChunkVersionResponse SetChunkVersion(1: SetChunkVersionRequest req)
  ReplicateChunkResponse ReplicateChunk(1: ReplicateChunkRequest req)
  ChunkServerInfoResponse Info(1: ChunkServerInfoRequest req)
  HelloResponse Hello(1: HelloRequest req)
  AuthenticateResponse Authenticate(1: AuthenticateRequest req)
  HashChunkResponse HashChunk(1: HashChunkRequest req)
  ListReplicasResponse ListReplicas(1: ListReplicasRequest req)
}
