#include "metaserver/ops/query_compile.h"

#include <cstdio>

namespace ddbfs::meta {

namespace {

const char* SqlOp(query::Op op) {
  switch (op) {
    case query::Op::kEq:
      return "=";
    case query::Op::kNe:
      return "<>";
    case query::Op::kLt:
      return "<";
    case query::Op::kLe:
      return "<=";
    case query::Op::kGt:
      return ">";
    case query::Op::kGe:
      return ">=";
  }
  return "=";
}

std::string NumberText(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

Result<int> TypeNumber(const std::string& name) {
  static const std::pair<const char*, FileType> kTypes[] = {
      {"file", FileType::kRegular},        {"dir", FileType::kDirectory},
      {"symlink", FileType::kSymlink},     {"fifo", FileType::kFifo},
      {"socket", FileType::kSocket},       {"chardev", FileType::kCharDevice},
      {"blockdev", FileType::kBlockDevice}};
  for (const auto& [n, t] : kTypes) {
    if (name == n) return static_cast<int>(t);
  }
  return InvalidArgument("unknown @type " + name +
                         " (known: file dir symlink fifo socket chardev blockdev)");
}

class Compiler {
 public:
  Compiler(const std::function<Result<std::optional<InodeId>>(const std::string&)>& resolve,
           int first_param)
      : resolve_(resolve), next_(first_param) {}

  Result<std::string> Compile(const query::Node& n) {
    switch (n.kind) {
      case query::Node::Kind::kAnd:
      case query::Node::Kind::kOr: {
        std::string out = "(";
        for (size_t k = 0; k < n.children.size(); ++k) {
          if (k > 0) out += n.kind == query::Node::Kind::kAnd ? " AND " : " OR ";
          ASSIGN_OR_RETURN(std::string c, Compile(*n.children[k]));
          out += c;
        }
        return out + ")";
      }
      case query::Node::Kind::kNot: {
        ASSIGN_OR_RETURN(std::string c, Compile(*n.children.at(0)));
        return "(NOT " + c + ")";
      }
      case query::Node::Kind::kTag:
        return Tag(n);
      case query::Node::Kind::kAttr:
        return AttrTerm(n);
    }
    return InvalidArgument("unknown query node");
  }

  std::vector<std::string> TakeParams() { return std::move(params_); }

 private:
  // A new placeholder for `value`.
  std::string P(std::string value) {
    params_.push_back(std::move(value));
    return "$" + std::to_string(next_++);
  }

  // The ids of the tags a name (or name glob) selects; with `implied`, also
  // the tags that imply them, transitively.
  std::string TagIds(const query::Node& n, bool implied) {
    const std::string match =
        n.name_glob ? "name LIKE normalize(" + P(GlobToLike(n.name)) + "::text, NFC) ESCAPE '\\'"
                    : "name = normalize(" + P(n.name) + "::text, NFC)";
    if (!implied) return "(SELECT id FROM ddbfs.tags WHERE " + match + ")";
    return "(WITH RECURSIVE c(id) AS (SELECT id FROM ddbfs.tags WHERE " + match +
           " UNION SELECT ti.tag_id FROM ddbfs.tag_implies ti JOIN c ON ti.implied_id = c.id)"
           " SELECT id FROM c)";
  }

  Result<std::string> Tag(const query::Node& n) {
    const std::string head = "EXISTS (SELECT 1 FROM ddbfs.doc_tags d WHERE d.inode = i.id";
    if (!n.has_value) return head + " AND d.tag_id IN " + TagIds(n, true) + ")";
    std::string cond;
    const query::Value& v = n.value;
    if (v.glob) {
      cond = std::string("d.has_value AND d.value ") + (n.op == query::Op::kNe ? "NOT " : "") +
             "LIKE normalize(" + P(GlobToLike(v.text)) + "::text, NFC) ESCAPE '\\'";
    } else if (v.kind == query::ValueKind::kNumber) {
      cond = std::string("d.value_num ") + SqlOp(n.op) + " " + P(NumberText(v.number)) + "::float8";
    } else if (v.kind == query::ValueKind::kTime) {
      cond = std::string("d.value_ns ") + SqlOp(n.op) + " " + P(std::to_string(v.time_ns)) +
             "::bigint";
    } else {
      cond = std::string("d.has_value AND d.value ") + SqlOp(n.op) + " normalize(" + P(v.text) +
             "::text, NFC)";
    }
    return head + " AND d.tag_id IN " + TagIds(n, false) + " AND " + cond + ")";
  }

  Result<std::string> AttrTerm(const query::Node& n) {
    const query::Value& v = n.value;
    switch (n.attr) {
      case query::Attr::kSize:
        if (v.kind != query::ValueKind::kNumber) return InvalidArgument("@size takes a number");
        return std::string("(i.size ") + SqlOp(n.op) + " " + P(NumberText(v.number)) + "::float8)";
      case query::Attr::kMtime:
      case query::Attr::kCtime: {
        if (v.kind != query::ValueKind::kTime) {
          return InvalidArgument(std::string("@") + query::AttrText(n.attr) +
                                 " takes a date or date/time (ISO 8601)");
        }
        const char* col = n.attr == query::Attr::kMtime ? "i.mtime_ns " : "i.ctime_ns ";
        return std::string("(") + col + SqlOp(n.op) + " " + P(std::to_string(v.time_ns)) +
               "::bigint)";
      }
      case query::Attr::kName: {
        const std::string match =
            v.glob ? "LIKE " + P(GlobToLike(v.text)) + " ESCAPE '\\'" : "= " + P(v.text);
        const std::string exists =
            "EXISTS (SELECT 1 FROM ddbfs.dentries e WHERE e.inode = i.id AND e.name " + match + ")";
        return n.op == query::Op::kNe ? "(NOT " + exists + ")" : exists;
      }
      case query::Attr::kType: {
        ASSIGN_OR_RETURN(int type, TypeNumber(v.text));
        return std::string("(i.type ") + SqlOp(n.op) + " " + P(std::to_string(type)) + "::integer)";
      }
      case query::Attr::kPath: {
        std::string path = v.text;
        const bool subtree = path.size() >= 2 && path.ends_with("/*");
        if (subtree) path.resize(path.size() - 2);
        if (path.empty()) path = "/";
        if (path.find_first_of("*?") != std::string::npos) {
          return InvalidArgument("@path takes a path, or a path ending in /* (a subtree): " +
                                 v.text);
        }
        ASSIGN_OR_RETURN(std::optional<InodeId> at, resolve_(path));
        const std::string id = P(std::to_string(at.value_or(-1)));
        std::string in;
        if (subtree) {
          in = "i.id IN (WITH RECURSIVE sub(id) AS (SELECT " + id +
               "::bigint UNION SELECT e.inode FROM ddbfs.dentries e JOIN sub ON e.parent = sub.id)"
               " SELECT id FROM sub WHERE id <> " +
               id + "::bigint)";
        } else {
          in = "i.id = " + id + "::bigint";
        }
        return n.op == query::Op::kNe ? "(NOT " + in + ")" : "(" + in + ")";
      }
    }
    return InvalidArgument("unknown attribute");
  }

  const std::function<Result<std::optional<InodeId>>(const std::string&)>& resolve_;
  int next_;
  std::vector<std::string> params_;
};

}  // namespace

std::string GlobToLike(std::string_view glob) {
  std::string out;
  out.reserve(glob.size());
  for (char c : glob) {
    if (c == '*') {
      out += '%';
    } else if (c == '?') {
      out += '_';
    } else {
      if (c == '%' || c == '_' || c == '\\') out += '\\';
      out += c;
    }
  }
  return out;
}

Result<CompiledQuery> CompileQuery(
    const query::Node& root,
    const std::function<Result<std::optional<InodeId>>(const std::string&)>& resolve,
    int first_param) {
  Compiler c(resolve, first_param);
  CompiledQuery out;
  ASSIGN_OR_RETURN(out.where, c.Compile(root));
  out.params = c.TakeParams();
  return out;
}

}  // namespace ddbfs::meta
