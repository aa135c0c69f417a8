#include "metaserver/store/repair_store.h"

#include <cstdlib>
#include <string>

#include "metaserver/store/row_util.h"
#include "metaserver/store/tx.h"

namespace ddbfs::meta::store {

namespace {

// Per chunk: its replicas that count toward the goal ($1: live servers not
// being drained), its live replicas a copy may be read from ($4: every live
// server, drained ones too), and every server that holds something of it.
// The goal is the file's effective goal: its own, or its tags' rules'
// (ddbfs.tag_goals) when higher. The HAVING runs on the grouped rows, so
// the scan is one pass over chunks joined with their replicas, plus one
// hash of the documents carrying a ruled tag.
#define DDBFS_COUNTED_FILTER \
  "FILTER (WHERE r.version = c.version AND r.server_id = ANY($1::integer[]))"
#define DDBFS_READABLE_FILTER \
  "FILTER (WHERE r.version = c.version AND r.server_id = ANY($4::integer[]))"
#define DDBFS_EFFECTIVE_GOAL "GREATEST(i.goal, tg.goal)"

constexpr Statement kUnderGoal{
    "rep_under_goal",
    "SELECT c.id, c.inode, c.idx, c.version, c.length, " DDBFS_EFFECTIVE_GOAL
    ","
    "       array_to_string(array_agg(r.server_id) " DDBFS_READABLE_FILTER
    ", ','),"
    "       array_to_string(array_agg(r.server_id) FILTER (WHERE r.server_id IS NOT NULL)"
    "         || ARRAY(SELECT g.server_id FROM ddbfs.gc_queue g WHERE g.chunk_id = c.id), ',')"
    " FROM ddbfs.chunks c JOIN ddbfs.inodes i ON i.id = c.inode"
    " LEFT JOIN ddbfs.tag_goals tg ON tg.inode = c.inode"
    " LEFT JOIN ddbfs.replicas r ON r.chunk_id = c.id"
    " WHERE c.lease_id IS NULL AND c.version > 0 AND NOT (c.id = ANY($2::bigint[]))"
    " GROUP BY c.id, i.goal, tg.goal"
    " HAVING count(r.server_id) " DDBFS_READABLE_FILTER
    " >= 1 AND count(r.server_id) " DDBFS_COUNTED_FILTER " < " DDBFS_EFFECTIVE_GOAL
    " ORDER BY count(r.server_id) " DDBFS_COUNTED_FILTER
    ", c.id"
    " LIMIT $3",
    false};

// Over goal: more counted replicas than the goal ($1: confirmed servers not
// being drained), or at least the goal and rows on servers being drained
// ($2, alive or not, any version): those go.
constexpr Statement kOverGoal{
    "rep_over_goal",
    "SELECT c.id, c.version, " DDBFS_EFFECTIVE_GOAL
    ","
    "       array_to_string(array_agg(r.server_id) " DDBFS_COUNTED_FILTER
    ", ','),"
    "       array_to_string(array_agg(r.server_id)"
    "         FILTER (WHERE r.server_id = ANY($2::integer[])), ',')"
    " FROM ddbfs.chunks c JOIN ddbfs.inodes i ON i.id = c.inode"
    " LEFT JOIN ddbfs.tag_goals tg ON tg.inode = c.inode"
    " JOIN ddbfs.replicas r ON r.chunk_id = c.id"
    " WHERE c.lease_id IS NULL AND c.version > 0"
    " GROUP BY c.id, i.goal, tg.goal"
    " HAVING count(r.server_id) " DDBFS_COUNTED_FILTER " > " DDBFS_EFFECTIVE_GOAL
    "     OR (count(r.server_id) " DDBFS_COUNTED_FILTER " >= " DDBFS_EFFECTIVE_GOAL
    "         AND bool_or(r.server_id = ANY($2::integer[])))"
    " ORDER BY c.id LIMIT $3",
    false};

// Misplaced: $1-$3 the counted servers with their host and rack groups,
// $4/$5 the host and rack groups with room, $6 chunks to skip. The inner
// query keeps the chunks at goal whose replicas repeat a host or a rack
// (one pass over chunks joined with their current replicas); the outer one
// those for which a group with room holds none of them.
constexpr Statement kMisplaced{
    "rep_misplaced",
    "WITH s AS (SELECT * FROM unnest($1::integer[], $2::integer[], $3::integer[])"
    "             AS s(id, host, rack)),"
    " m AS (SELECT c.id, c.version, c.length, count(*) AS n,"
    "              array_agg(r.server_id ORDER BY r.server_id) AS live,"
    "              array_agg(DISTINCT s.host) AS hosts, array_agg(DISTINCT s.rack) AS racks"
    "         FROM ddbfs.chunks c JOIN ddbfs.inodes i ON i.id = c.inode"
    "         LEFT JOIN ddbfs.tag_goals tg ON tg.inode = c.inode"
    "         JOIN ddbfs.replicas r ON r.chunk_id = c.id AND r.version = c.version"
    "         JOIN s ON s.id = r.server_id"
    "        WHERE c.lease_id IS NULL AND c.version > 0 AND NOT (c.id = ANY($6::bigint[]))"
    "        GROUP BY c.id, i.goal, tg.goal"
    "       HAVING count(*) = " DDBFS_EFFECTIVE_GOAL
    "          AND (count(DISTINCT s.host) < count(*) OR count(DISTINCT s.rack) < count(*)))"
    "SELECT m.id, m.version, m.length, array_to_string(m.live, ','),"
    "       array_to_string(ARRAY(SELECT r.server_id FROM ddbfs.replicas r WHERE r.chunk_id = m.id)"
    "         || ARRAY(SELECT g.server_id FROM ddbfs.gc_queue g WHERE g.chunk_id = m.id), ',')"
    "  FROM m"
    " WHERE (cardinality(m.hosts) < m.n"
    "        AND EXISTS (SELECT 1 FROM unnest($4::integer[]) h WHERE h <> ALL (m.hosts)))"
    "    OR (cardinality(m.racks) < m.n"
    "        AND EXISTS (SELECT 1 FROM unnest($5::integer[]) k WHERE k <> ALL (m.racks)))"
    " ORDER BY m.id LIMIT $7",
    false};

// Rebalancing: $1 the servers whose bytes are summed.
constexpr Statement kServerBytes{
    "rep_server_bytes",
    "SELECT r.server_id, sum(c.length)::bigint"
    "  FROM ddbfs.replicas r JOIN ddbfs.chunks c ON c.id = r.chunk_id AND c.version = r.version"
    " WHERE r.server_id = ANY($1::integer[])"
    " GROUP BY r.server_id",
    false};

// Rebalancing: chunks with a current replica on server $1 that have exactly
// their goal of current replicas on the counted servers $2, not in $3.
constexpr Statement kRebalanceChunks{
    "rep_rebalance_chunks",
    "WITH m AS (SELECT c.id, c.version, c.length,"
    "                  array_agg(r.server_id ORDER BY r.server_id) AS live"
    "             FROM ddbfs.replicas mine"
    "             JOIN ddbfs.chunks c ON c.id = mine.chunk_id AND c.version = mine.version"
    "             JOIN ddbfs.inodes i ON i.id = c.inode"
    "             LEFT JOIN ddbfs.tag_goals tg ON tg.inode = c.inode"
    "             JOIN ddbfs.replicas r ON r.chunk_id = c.id AND r.version = c.version"
    "                                  AND r.server_id = ANY($2::integer[])"
    "            WHERE mine.server_id = $1 AND c.lease_id IS NULL AND c.version > 0"
    "              AND NOT (c.id = ANY($3::bigint[]))"
    "            GROUP BY c.id, i.goal, tg.goal"
    "           HAVING count(*) = " DDBFS_EFFECTIVE_GOAL
    "            ORDER BY c.length DESC, c.id LIMIT $4)"
    "SELECT m.id, m.version, m.length, array_to_string(m.live, ','),"
    "       array_to_string(ARRAY(SELECT r.server_id FROM ddbfs.replicas r WHERE r.chunk_id = m.id)"
    "         || ARRAY(SELECT g.server_id FROM ddbfs.gc_queue g WHERE g.chunk_id = m.id), ',')"
    "  FROM m ORDER BY m.length DESC, m.id",
    false};

#undef DDBFS_COUNTED_FILTER
#undef DDBFS_READABLE_FILTER
#undef DDBFS_EFFECTIVE_GOAL

constexpr Statement kRecordRepaired{
    "rep_record",
    "INSERT INTO ddbfs.replicas (chunk_id, server_id, version)"
    " SELECT c.id, $2, $3 FROM ddbfs.chunks c"
    "  WHERE c.id = $1 AND c.version = $3 AND c.lease_id IS NULL"
    "    AND NOT EXISTS (SELECT 1 FROM ddbfs.gc_queue g WHERE g.chunk_id = $1 AND g.server_id = $2)"
    " ON CONFLICT (chunk_id, server_id) DO NOTHING",
    true};

constexpr Statement kQueueUnrecorded{
    "rep_queue_unrecorded",
    "INSERT INTO ddbfs.gc_queue (server_id, chunk_id)"
    " SELECT $2, $1 WHERE NOT EXISTS"
    "   (SELECT 1 FROM ddbfs.replicas r WHERE r.chunk_id = $1 AND r.server_id = $2)"
    " ON CONFLICT DO NOTHING",
    true};

// Rows of servers being drained ($4) go whatever their version.
constexpr Statement kTrim{
    "rep_trim",
    "WITH d AS (DELETE FROM ddbfs.replicas r USING ddbfs.chunks c"
    "           WHERE r.chunk_id = $1 AND r.server_id = ANY($3::integer[])"
    "             AND (r.version = $2 OR r.server_id = ANY($4::integer[]))"
    "             AND c.id = r.chunk_id AND c.version = $2 AND c.lease_id IS NULL"
    "           RETURNING r.server_id, r.chunk_id),"
    " q AS (INSERT INTO ddbfs.gc_queue (server_id, chunk_id)"
    "       SELECT server_id, chunk_id FROM d ON CONFLICT DO NOTHING)"
    " SELECT count(*) FROM d",
    true};

}  // namespace

Result<std::vector<UnderGoalChunk>> UnderGoalChunks(Tx& tx, const std::vector<int32_t>& counted,
                                                    const std::vector<int32_t>& readable,
                                                    const std::vector<int64_t>& skip, int limit) {
  return Guard(tx, [&]() -> Result<std::vector<UnderGoalChunk>> {
    std::vector<UnderGoalChunk> out;
    for (const auto& row :
         tx.Exec(kUnderGoal, PgArray(counted), PgArray(skip), limit, PgArray(readable))) {
      UnderGoalChunk c;
      c.id = row[0].as<int64_t>();
      c.inode = row[1].as<int64_t>();
      c.index = row[2].as<int64_t>();
      c.version = row[3].as<int64_t>();
      c.length = row[4].as<int64_t>();
      c.goal = row[5].as<int>();
      c.live = ParseIntList<int32_t>(row[6]);
      c.holders = ParseIntList<int32_t>(row[7]);
      out.push_back(std::move(c));
    }
    return out;
  });
}

Result<std::vector<OverGoalChunk>> OverGoalChunks(Tx& tx, const std::vector<int32_t>& counted,
                                                  const std::vector<int32_t>& draining, int limit) {
  return Guard(tx, [&]() -> Result<std::vector<OverGoalChunk>> {
    std::vector<OverGoalChunk> out;
    for (const auto& row : tx.Exec(kOverGoal, PgArray(counted), PgArray(draining), limit)) {
      OverGoalChunk c;
      c.id = row[0].as<int64_t>();
      c.version = row[1].as<int64_t>();
      c.goal = row[2].as<int>();
      c.live = ParseIntList<int32_t>(row[3]);
      c.drained = ParseIntList<int32_t>(row[4]);
      out.push_back(std::move(c));
    }
    return out;
  });
}

Result<std::vector<MisplacedChunk>> MisplacedChunks(Tx& tx, const PlacementGroups& groups,
                                                    const std::vector<int64_t>& skip, int limit) {
  return Guard(tx, [&]() -> Result<std::vector<MisplacedChunk>> {
    std::vector<MisplacedChunk> out;
    for (const auto& row :
         tx.Exec(kMisplaced, PgArray(groups.ids), PgArray(groups.hosts), PgArray(groups.racks),
                 PgArray(groups.room_hosts), PgArray(groups.room_racks), PgArray(skip), limit)) {
      MisplacedChunk c;
      c.id = row[0].as<int64_t>();
      c.version = row[1].as<int64_t>();
      c.length = row[2].as<int64_t>();
      c.live = ParseIntList<int32_t>(row[3]);
      c.holders = ParseIntList<int32_t>(row[4]);
      out.push_back(std::move(c));
    }
    return out;
  });
}

Result<std::vector<std::pair<int32_t, int64_t>>> ServerReplicaBytes(
    Tx& tx, const std::vector<int32_t>& servers) {
  return Guard(tx, [&]() -> Result<std::vector<std::pair<int32_t, int64_t>>> {
    std::vector<std::pair<int32_t, int64_t>> out;
    for (const auto& row : tx.Exec(kServerBytes, PgArray(servers))) {
      out.emplace_back(row[0].as<int32_t>(), row[1].as<int64_t>());
    }
    return out;
  });
}

Result<std::vector<MisplacedChunk>> RebalanceChunks(Tx& tx, int32_t server,
                                                    const std::vector<int32_t>& counted,
                                                    const std::vector<int64_t>& skip, int limit) {
  return Guard(tx, [&]() -> Result<std::vector<MisplacedChunk>> {
    std::vector<MisplacedChunk> out;
    for (const auto& row :
         tx.Exec(kRebalanceChunks, server, PgArray(counted), PgArray(skip), limit)) {
      MisplacedChunk c;
      c.id = row[0].as<int64_t>();
      c.version = row[1].as<int64_t>();
      c.length = row[2].as<int64_t>();
      c.live = ParseIntList<int32_t>(row[3]);
      c.holders = ParseIntList<int32_t>(row[4]);
      out.push_back(std::move(c));
    }
    return out;
  });
}

Result<bool> RecordRepairedReplica(Tx& tx, int64_t chunk_id, int32_t server, int64_t version) {
  return Guard(tx, [&]() -> Result<bool> {
    return tx.Exec(kRecordRepaired, chunk_id, server, version).affected_rows() == 1;
  });
}

Status QueueUnrecordedCopy(Tx& tx, int64_t chunk_id, int32_t server) {
  return Guard(tx, [&]() -> Status {
    tx.Exec(kQueueUnrecorded, chunk_id, server);
    return Status();
  });
}

Result<int64_t> TrimReplicas(Tx& tx, int64_t chunk_id, int64_t version,
                             const std::vector<int32_t>& servers,
                             const std::vector<int32_t>& any_version) {
  return Guard(tx, [&]() -> Result<int64_t> {
    return tx.Exec(kTrim, chunk_id, version, PgArray(servers), PgArray(any_version))
        .at(0)[0]
        .as<int64_t>();
  });
}

}  // namespace ddbfs::meta::store
