// Client calls of ddbfs goal and ddbfs server (docs/repair.md, "Goals" and
// "Draining").

#include "client_impl.h"
#include "ddbfs/client.h"

namespace ddbfs {

Result<GoalView> Client::GetGoal(InodeId inode) {
  rpc::GetGoalRequest req;
  req.ctx = impl_->ReadContext();
  req.inode = inode;
  rpc::GetGoalResponse resp;
  RETURN_IF_ERROR(impl_->Meta("GetGoal", &resp,
                              [&](rpc::MetaServiceClient& c, auto& r) { c.GetGoal(r, req); }));
  GoalView v;
  v.goal = resp.goal;
  v.own_goal = resp.own_goal;
  v.source = resp.source;
  v.source_path = resp.source_path;
  v.source_tag = resp.source_tag;
  v.source_goal = resp.source_goal;
  v.tag_goal = resp.tag_goal;
  return v;
}

Result<bool> Client::SetGoal(InodeId inode, int goal) {
  rpc::SetGoalRequest req;
  req.ctx = impl_->Context();
  req.inode = inode;
  req.goal = goal;
  rpc::SetGoalResponse resp;
  RETURN_IF_ERROR(impl_->Meta("SetGoal", &resp,
                              [&](rpc::MetaServiceClient& c, auto& r) { c.SetGoal(r, req); }));
  return resp.changed > 0;
}

Result<GoalPage> Client::SetGoalChildren(InodeId dir, int goal, const std::string& after_name,
                                         int limit) {
  rpc::SetGoalRequest req;
  req.ctx = impl_->Context();
  req.inode = dir;
  req.goal = goal;
  req.children = true;
  req.after_name = after_name;
  req.limit = limit;
  rpc::SetGoalResponse resp;
  RETURN_IF_ERROR(impl_->Meta("SetGoal", &resp,
                              [&](rpc::MetaServiceClient& c, auto& r) { c.SetGoal(r, req); }));
  GoalPage p;
  p.changed = resp.changed;
  p.denied = resp.denied;
  p.directories.assign(resp.directories.begin(), resp.directories.end());
  p.last_name = resp.last_name;
  p.more = resp.more;
  return p;
}

namespace {

Result<int64_t> CallSetGoalRule(Client::Impl& impl, const std::string& tag, int goal) {
  rpc::SetGoalRuleRequest req;
  req.ctx = impl.Context();
  req.tag = tag;
  req.goal = goal;
  rpc::SetGoalRuleResponse resp;
  RETURN_IF_ERROR(impl.Meta("SetGoalRule", &resp,
                            [&](rpc::MetaServiceClient& c, auto& r) { c.SetGoalRule(r, req); }));
  return resp.documents;
}

}  // namespace

Result<int64_t> Client::SetGoalRule(const std::string& tag, int goal) {
  if (goal == 0) return InvalidArgument("goal 0 is not between 1 and 9");
  return CallSetGoalRule(*impl_, tag, goal);
}

Result<int64_t> Client::RemoveGoalRule(const std::string& tag) {
  return CallSetGoalRule(*impl_, tag, 0);
}

Result<std::vector<GoalRuleView>> Client::ListGoalRules() {
  rpc::ListGoalRulesRequest req;
  req.ctx = impl_->ReadContext();
  rpc::ListGoalRulesResponse resp;
  RETURN_IF_ERROR(impl_->Meta("ListGoalRules", &resp, [&](rpc::MetaServiceClient& c, auto& r) {
    c.ListGoalRules(r, req);
  }));
  std::vector<GoalRuleView> out;
  for (const rpc::GoalRule& g : resp.rules) out.push_back(GoalRuleView{g.tag, g.goal, g.documents});
  return out;
}

Result<int64_t> Client::DrainServer(int server_id, bool drain) {
  rpc::DrainServerRequest req;
  req.ctx = impl_->Context();
  req.server_id = server_id;
  req.drain = drain;
  rpc::DrainServerResponse resp;
  RETURN_IF_ERROR(impl_->Meta("DrainServer", &resp,
                              [&](rpc::MetaServiceClient& c, auto& r) { c.DrainServer(r, req); }));
  return resp.chunks_left;
}

Status Client::RemoveServer(int server_id) {
  rpc::RemoveServerRequest req;
  req.ctx = impl_->Context();
  req.server_id = server_id;
  rpc::RemoveServerResponse resp;
  return impl_->Meta("RemoveServer", &resp,
                     [&](rpc::MetaServiceClient& c, auto& r) { c.RemoveServer(r, req); });
}

}  // namespace ddbfs
