#include "ddbfs/query.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>

namespace ddbfs::query {
namespace {

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

bool IsOpChar(char c) { return c == '=' || c == '!' || c == '<' || c == '>'; }

// Ends a bare word.
bool IsBreak(char c) { return IsSpace(c) || c == '(' || c == ')' || c == '"' || IsOpChar(c); }

bool IsControl(unsigned char c) { return c < 0x20 || c == 0x7f; }

// Length of the valid UTF-8 sequence at s[i], 0 if invalid. Also refuses
// overlong forms, surrogates and code points past U+10FFFF.
size_t Utf8Length(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  if (c < 0x80) return 1;
  size_t n = 0;
  uint32_t cp = 0;
  if ((c & 0xe0) == 0xc0) {
    n = 2;
    cp = c & 0x1f;
  } else if ((c & 0xf0) == 0xe0) {
    n = 3;
    cp = c & 0x0f;
  } else if ((c & 0xf8) == 0xf0) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3f);
  }
  static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return n;
}

bool ValidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const size_t n = Utf8Length(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

// 1-based column, in characters, of byte offset `pos`.
int ColumnOf(std::string_view text, size_t pos) {
  int col = 1;
  for (size_t i = 0; i < pos && i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xc0) != 0x80) ++col;
  }
  return col;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

bool IsKeyword(std::string_view w) {
  return EqualsIgnoreCase(w, "and") || EqualsIgnoreCase(w, "or") || EqualsIgnoreCase(w, "not");
}

bool HasGlobChar(std::string_view w) { return w.find_first_of("*?") != std::string_view::npos; }

// ---- numbers and times

std::optional<double> ParseNumber(std::string_view s) {
  // [+-]? (digits [. digits*] | . digits) ([eE] [+-]? digits)?
  size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  size_t digits = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++digits;
  }
  if (digits == 0) return std::nullopt;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    size_t exp = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++exp;
    if (exp == 0) return std::nullopt;
  }
  if (i != s.size()) return std::nullopt;
  const std::string copy(s);
  const double v = std::strtod(copy.c_str(), nullptr);
  if (!std::isfinite(v)) return std::nullopt;
  return v;
}

// Days from 1970-01-01 to the civil date y-m-d (proleptic Gregorian).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool LeapYear(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

// ISO 8601: YYYY-MM-DD, optionally followed by T (or a space) and HH:MM,
// HH:MM:SS or HH:MM:SS.fraction, optionally followed by Z or +HH:MM/-HH:MM
// (UTC when no zone is given).
std::optional<int64_t> ParseTime(std::string_view s) {
  size_t i = 0;
  auto num = [&](int width, int* out) {
    if (i + width > s.size()) return false;
    int v = 0;
    for (int k = 0; k < width; ++k) {
      const char c = s[i + k];
      if (!std::isdigit(static_cast<unsigned char>(c))) return false;
      v = v * 10 + (c - '0');
    }
    i += width;
    *out = v;
    return true;
  };
  auto lit = [&](char c) {
    if (i < s.size() && s[i] == c) {
      ++i;
      return true;
    }
    return false;
  };
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  int64_t frac_ns = 0;
  if (!num(4, &y) || !lit('-') || !num(2, &mo) || !lit('-') || !num(2, &d)) return std::nullopt;
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (mo < 1 || mo > 12 || d < 1) return std::nullopt;
  if (d > kDays[mo - 1] + (mo == 2 && LeapYear(y) ? 1 : 0)) return std::nullopt;
  int64_t offset_s = 0;
  if (i < s.size()) {
    if (!lit('T') && !lit('t') && !lit(' ')) return std::nullopt;
    if (!num(2, &h) || !lit(':') || !num(2, &mi)) return std::nullopt;
    if (lit(':')) {
      if (!num(2, &sec)) return std::nullopt;
      if (lit('.') || lit(',')) {
        int64_t scale = 100000000;
        size_t digits = 0;
        while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
          frac_ns += (s[i] - '0') * scale;
          scale /= 10;
          ++i;
          ++digits;
        }
        if (digits == 0) return std::nullopt;
      }
    }
    if (h > 23 || mi > 59 || sec > 60) return std::nullopt;
    if (lit('Z') || lit('z')) {
      // UTC
    } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
      const int sign = s[i] == '-' ? -1 : 1;
      ++i;
      int oh = 0, om = 0;
      if (!num(2, &oh)) return std::nullopt;
      if (lit(':')) {
        if (!num(2, &om)) return std::nullopt;
      } else if (i < s.size()) {
        if (!num(2, &om)) return std::nullopt;
      }
      if (oh > 23 || om > 59) return std::nullopt;
      offset_s = sign * (oh * 3600 + om * 60);
    }
  }
  if (i != s.size()) return std::nullopt;
  const int64_t secs =
      DaysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 86400 + h * 3600 +
      mi * 60 + sec - offset_s;
  return secs * 1000000000LL + frac_ns;
}

// ---- the lexer

struct Token {
  enum class Kind { kEnd, kLParen, kRParen, kOp, kWord };
  Kind kind = Kind::kEnd;
  size_t pos = 0;  // byte offset
  Op op = Op::kEq;
  std::string text;  // kWord, unquoted
  bool quoted = false;
};

class Lexer {
 public:
  explicit Lexer(std::string_view text) : text_(text) {}

  // The next token, or an error.
  Result<Token> Next() {
    while (pos_ < text_.size() && IsSpace(text_[pos_])) ++pos_;
    Token t;
    t.pos = pos_;
    if (pos_ >= text_.size()) return t;
    const char c = text_[pos_];
    if (c == '(' || c == ')') {
      t.kind = c == '(' ? Token::Kind::kLParen : Token::Kind::kRParen;
      ++pos_;
      return t;
    }
    if (IsOpChar(c)) {
      t.kind = Token::Kind::kOp;
      const bool eq_next = pos_ + 1 < text_.size() && text_[pos_ + 1] == '=';
      switch (c) {
        case '=':
          t.op = Op::kEq;
          break;
        case '!':
          if (!eq_next) return Error(pos_, "\"!\" must be followed by \"=\" (use not to negate)");
          t.op = Op::kNe;
          break;
        case '<':
          t.op = eq_next ? Op::kLe : Op::kLt;
          break;
        default:
          t.op = eq_next ? Op::kGe : Op::kGt;
          break;
      }
      pos_ += (c != '=' && eq_next) ? 2 : 1;
      return t;
    }
    t.kind = Token::Kind::kWord;
    if (c == '"') {
      t.quoted = true;
      ++pos_;
      while (true) {
        if (pos_ >= text_.size()) return Error(t.pos, "unterminated quote");
        const char q = text_[pos_];
        if (q == '"') {
          ++pos_;
          break;
        }
        if (q == '\\') {
          if (pos_ + 1 >= text_.size()) return Error(t.pos, "unterminated quote");
          const char e = text_[pos_ + 1];
          if (e != '"' && e != '\\') {
            return Error(pos_, "in quotes, a backslash escapes only \" and \\");
          }
          t.text += e;
          pos_ += 2;
          continue;
        }
        t.text += q;
        ++pos_;
      }
      return t;
    }
    while (pos_ < text_.size() && !IsBreak(text_[pos_])) t.text += text_[pos_++];
    return t;
  }

  Status Error(size_t pos, std::string what) const {
    return InvalidArgument("column " + std::to_string(ColumnOf(text_, pos)) + ": " + what);
  }

 private:
  std::string_view text_;
  size_t pos_ = 0;
};

// ---- the parser

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text), lexer_(text) {}

  Result<std::unique_ptr<Node>> Run() {
    RETURN_IF_ERROR(Advance());
    if (cur_.kind == Token::Kind::kEnd) return InvalidArgument("empty query");
    ASSIGN_OR_RETURN(auto root, ParseOr());
    if (cur_.kind == Token::Kind::kRParen) return Error("unbalanced \")\"");
    if (cur_.kind != Token::Kind::kEnd) return Error("expected \"and\", \"or\" or the end");
    return root;
  }

 private:
  Status Advance() {
    ASSIGN_OR_RETURN(cur_, lexer_.Next());
    return Status();
  }

  Status Error(std::string what) const { return lexer_.Error(cur_.pos, std::move(what)); }

  bool AtKeyword(std::string_view k) const {
    return cur_.kind == Token::Kind::kWord && !cur_.quoted && EqualsIgnoreCase(cur_.text, k);
  }

  // Can the current token start an operand (for "and" left out)?
  bool AtOperand() const {
    if (cur_.kind == Token::Kind::kLParen) return true;
    if (cur_.kind != Token::Kind::kWord) return false;
    return cur_.quoted || !IsKeyword(cur_.text) || EqualsIgnoreCase(cur_.text, "not");
  }

  static std::unique_ptr<Node> Join(Node::Kind kind, std::unique_ptr<Node> left,
                                    std::unique_ptr<Node> right) {
    if (left->kind == kind && left->children.size() >= 2 && !left->parenthesized) {
      left->children.push_back(std::move(right));
      return left;
    }
    auto n = std::make_unique<Node>();
    n->kind = kind;
    n->column = left->column;
    n->children.push_back(std::move(left));
    n->children.push_back(std::move(right));
    return n;
  }

  Result<std::unique_ptr<Node>> ParseOr() {
    ASSIGN_OR_RETURN(auto left, ParseAnd());
    while (AtKeyword("or")) {
      RETURN_IF_ERROR(Advance());
      ASSIGN_OR_RETURN(auto right, ParseAnd("or"));
      left = Join(Node::Kind::kOr, std::move(left), std::move(right));
    }
    return left;
  }

  Result<std::unique_ptr<Node>> ParseAnd(const char* after = nullptr) {
    ASSIGN_OR_RETURN(auto left, ParseNot(after));
    while (true) {
      const char* joined = nullptr;
      if (AtKeyword("and")) {
        RETURN_IF_ERROR(Advance());
        joined = "and";
      } else if (!AtOperand()) {
        break;
      }
      ASSIGN_OR_RETURN(auto right, ParseNot(joined));
      left = Join(Node::Kind::kAnd, std::move(left), std::move(right));
    }
    return left;
  }

  Result<std::unique_ptr<Node>> ParseNot(const char* after = nullptr) {
    if (AtKeyword("not")) {
      const int column = ColumnOf(text_, cur_.pos);
      if (++depth_ > kMaxDepth) return Error("nested deeper than " + std::to_string(kMaxDepth));
      RETURN_IF_ERROR(Advance());
      ASSIGN_OR_RETURN(auto child, ParseNot("not"));
      --depth_;
      auto n = std::make_unique<Node>();
      n->kind = Node::Kind::kNot;
      n->column = column;
      n->children.push_back(std::move(child));
      return n;
    }
    return ParsePrimary(after);
  }

  Result<std::unique_ptr<Node>> ParsePrimary(const char* after) {
    const std::string ctx = after ? std::string(" after \"") + after + "\"" : "";
    if (cur_.kind == Token::Kind::kLParen) {
      if (++depth_ > kMaxDepth) return Error("nested deeper than " + std::to_string(kMaxDepth));
      const size_t open = cur_.pos;
      RETURN_IF_ERROR(Advance());
      if (cur_.kind == Token::Kind::kRParen) return Error("expected a query inside \"()\"");
      ASSIGN_OR_RETURN(auto inner, ParseOr());
      if (cur_.kind != Token::Kind::kRParen) {
        if (cur_.kind == Token::Kind::kEnd) return lexer_.Error(open, "unbalanced \"(\"");
        return Error("expected \")\"");
      }
      --depth_;
      RETURN_IF_ERROR(Advance());
      inner->parenthesized = true;
      return inner;
    }
    if (cur_.kind == Token::Kind::kWord && (cur_.quoted || !IsKeyword(cur_.text))) {
      return ParseTerm();
    }
    if (cur_.kind == Token::Kind::kEnd) {
      return Error("expected a tag name, \"(\" or \"not\"" + ctx + ", found the end");
    }
    if (cur_.kind == Token::Kind::kRParen && after == nullptr) return Error("unbalanced \")\"");
    return Error("expected a tag name, \"(\" or \"not\"" + ctx);
  }

  Result<std::unique_ptr<Node>> ParseTerm() {
    if (++terms_ > kMaxTerms) return Error("more than " + std::to_string(kMaxTerms) + " terms");
    auto n = std::make_unique<Node>();
    n->column = ColumnOf(text_, cur_.pos);
    const Token word = cur_;
    RETURN_IF_ERROR(Advance());
    if (!word.quoted && !word.text.empty() && word.text[0] == '@') {
      return ParseAttribute(std::move(n), word);
    }
    n->kind = Node::Kind::kTag;
    n->name = word.text;
    n->name_glob = !word.quoted && HasGlobChar(word.text);
    if (Status s = ValidateTagName(n->name); !s.ok()) {
      return lexer_.Error(word.pos, s.message());
    }
    if (cur_.kind != Token::Kind::kOp) return n;
    n->has_value = true;
    ASSIGN_OR_RETURN(const Token v, ParseComparison(n.get()));
    if (Status s = ValidateTagValue(v.text); !s.ok()) return lexer_.Error(v.pos, s.message());
    if (!v.quoted && HasGlobChar(v.text)) {
      if (n->op != Op::kEq && n->op != Op::kNe) {
        return lexer_.Error(v.pos, "a glob value compares with = or != only");
      }
      n->value.text = v.text;
      n->value.glob = true;
      return n;
    }
    n->value = Classify(v.text);
    return n;
  }

  // At an operator: takes it into n->op and returns the value word after it.
  Result<Token> ParseComparison(Node* n) {
    n->op = cur_.op;
    const size_t op_pos = cur_.pos;
    RETURN_IF_ERROR(Advance());
    if (cur_.kind != Token::Kind::kWord) {
      return lexer_.Error(op_pos, std::string("expected a value after \"") + OpText(n->op) + "\"");
    }
    Token v = cur_;
    RETURN_IF_ERROR(Advance());
    return v;
  }

  Result<std::unique_ptr<Node>> ParseAttribute(std::unique_ptr<Node> n, const Token& word) {
    n->kind = Node::Kind::kAttr;
    const std::string name = word.text.substr(1);
    static constexpr Attr kAll[] = {Attr::kSize, Attr::kMtime, Attr::kCtime,
                                    Attr::kName, Attr::kPath,  Attr::kType};
    bool known = false;
    for (Attr a : kAll) {
      if (name == AttrText(a)) {
        n->attr = a;
        known = true;
      }
    }
    if (!known) {
      return lexer_.Error(word.pos, "unknown attribute @" + name +
                                        " (known: @size @mtime @ctime @name @path @type)");
    }
    if (cur_.kind != Token::Kind::kOp) {
      return lexer_.Error(word.pos, "@" + name + " needs a comparison (for example @" + name +
                                        (n->attr == Attr::kSize   ? ">1M"
                                         : n->attr == Attr::kName ? "=*.pdf"
                                         : n->attr == Attr::kPath ? "=/photos/*"
                                         : n->attr == Attr::kType ? "=file"
                                                                  : ">=2024-01-01") +
                                        ")");
    }
    ASSIGN_OR_RETURN(const Token v, ParseComparison(n.get()));
    auto bad = [&](std::string what) { return lexer_.Error(v.pos, "@" + name + ": " + what); };
    const bool eq_only = n->attr == Attr::kName || n->attr == Attr::kPath || n->attr == Attr::kType;
    if (eq_only && n->op != Op::kEq && n->op != Op::kNe) return bad("compares with = or != only");
    n->value.text = v.text;
    switch (n->attr) {
      case Attr::kSize: {
        std::string_view t = v.text;
        double scale = 1;
        if (!t.empty()) {
          switch (std::toupper(static_cast<unsigned char>(t.back()))) {
            case 'K':
              scale = 1024.0;
              break;
            case 'M':
              scale = 1024.0 * 1024;
              break;
            case 'G':
              scale = 1024.0 * 1024 * 1024;
              break;
            case 'T':
              scale = 1024.0 * 1024 * 1024 * 1024;
              break;
            default:
              break;
          }
          if (scale != 1) t.remove_suffix(1);
        }
        std::optional<double> num = ParseNumber(t);
        if (!num || *num < 0) return bad("expected a size such as 4096, 10K, 1.5M or 2G");
        n->value.kind = ValueKind::kNumber;
        n->value.number = *num * scale;
        break;
      }
      case Attr::kMtime:
      case Attr::kCtime: {
        std::optional<int64_t> t = ParseTime(v.text);
        if (!t) return bad("expected an ISO 8601 date such as 2024-01-31 or 2024-01-31T12:00:00Z");
        n->value.kind = ValueKind::kTime;
        n->value.time_ns = *t;
        break;
      }
      case Attr::kName:
        if (v.text.empty() || v.text.find('/') != std::string::npos || !ValidUtf8(v.text)) {
          return bad("expected a file name (no \"/\")");
        }
        n->value.glob = !v.quoted && HasGlobChar(v.text);
        break;
      case Attr::kPath: {
        std::string p = v.text;
        if (p.empty() || p[0] != '/' || !ValidUtf8(p)) return bad("expected an absolute path");
        bool subtree = false;
        if (!v.quoted && p.size() >= 2 && p.compare(p.size() - 2, 2, "/*") == 0) {
          subtree = true;
          p.resize(p.size() - 2);
        }
        if (!v.quoted && HasGlobChar(p)) return bad("* only as a final /* (the subtree)");
        while (p.size() > 1 && p.back() == '/') p.pop_back();
        if (p.empty()) p = "/";
        n->value.text = subtree ? (p == "/" ? "/*" : p + "/*") : p;
        n->value.glob = subtree;
        break;
      }
      case Attr::kType: {
        static constexpr const char* kTypes[] = {"file",   "dir",     "symlink", "fifo",
                                                 "socket", "chardev", "blockdev"};
        bool ok = false;
        for (const char* t : kTypes) ok = ok || v.text == t;
        if (!ok) return bad("expected file, dir, symlink, fifo, socket, chardev or blockdev");
        break;
      }
    }
    return n;
  }

  std::string_view text_;
  Lexer lexer_;
  Token cur_;
  int depth_ = 0;
  int terms_ = 0;
};

// A word as the lexer reads it back: bare when it can be, else quoted.
std::string Word(const std::string& w, bool glob, bool value) {
  bool bare = !w.empty() && (glob || !HasGlobChar(w));
  for (char c : w) bare = bare && !IsBreak(c);
  if (!value) bare = bare && !IsKeyword(w) && w[0] != '@';
  if (bare) return w;
  std::string out = "\"";
  for (char c : w) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

void Write(const Node& n, std::string* out) {
  switch (n.kind) {
    case Node::Kind::kOr:
    case Node::Kind::kAnd: {
      const bool is_and = n.kind == Node::Kind::kAnd;
      for (size_t i = 0; i < n.children.size(); ++i) {
        const Node& c = *n.children[i];
        if (i > 0) *out += is_and ? " and " : " or ";
        const bool paren = c.kind == Node::Kind::kOr || (is_and && c.kind == Node::Kind::kAnd) ||
                           (!is_and && c.kind == Node::Kind::kOr);
        if (paren) *out += "(";
        Write(c, out);
        if (paren) *out += ")";
      }
      return;
    }
    case Node::Kind::kNot: {
      const Node& c = *n.children[0];
      const bool paren = c.kind == Node::Kind::kAnd || c.kind == Node::Kind::kOr;
      *out += "not ";
      if (paren) *out += "(";
      Write(c, out);
      if (paren) *out += ")";
      return;
    }
    case Node::Kind::kTag:
      *out += Word(n.name, n.name_glob, false);
      if (n.has_value) {
        *out += OpText(n.op);
        *out += Word(n.value.text, n.value.glob, true);
      }
      return;
    case Node::Kind::kAttr:
      *out += "@";
      *out += AttrText(n.attr);
      *out += OpText(n.op);
      *out += Word(n.value.text, n.value.glob, true);
      return;
  }
}

}  // namespace

const char* OpText(Op op) {
  switch (op) {
    case Op::kEq:
      return "=";
    case Op::kNe:
      return "!=";
    case Op::kLt:
      return "<";
    case Op::kLe:
      return "<=";
    case Op::kGt:
      return ">";
    case Op::kGe:
      return ">=";
  }
  return "?";
}

const char* AttrText(Attr a) {
  switch (a) {
    case Attr::kSize:
      return "size";
    case Attr::kMtime:
      return "mtime";
    case Attr::kCtime:
      return "ctime";
    case Attr::kName:
      return "name";
    case Attr::kPath:
      return "path";
    case Attr::kType:
      return "type";
  }
  return "?";
}

Result<std::unique_ptr<Node>> Parse(std::string_view text) {
  if (text.size() > kMaxQueryBytes) {
    return InvalidArgument("the query is longer than " + std::to_string(kMaxQueryBytes) + " bytes");
  }
  if (!ValidUtf8(text)) return InvalidArgument("the query is not valid UTF-8");
  for (size_t i = 0; i < text.size(); ++i) {
    if (IsControl(static_cast<unsigned char>(text[i])) && !IsSpace(text[i])) {
      return InvalidArgument("column " + std::to_string(ColumnOf(text, i)) +
                             ": a control character");
    }
  }
  return Parser(text).Run();
}

std::string ToString(const Node& n) {
  std::string out;
  Write(n, &out);
  return out;
}

namespace {

// The code points of valid UTF-8 `s` (checked before).
std::vector<uint32_t> CodePoints(std::string_view s) {
  std::vector<uint32_t> out;
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    const int n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    uint32_t cp = n == 1 ? c : n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
    for (int k = 1; k < n && i + k < s.size(); ++k) {
      cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    }
    out.push_back(cp);
    i += static_cast<size_t>(n);
  }
  return out;
}

// Unicode's White_Space property beyond ASCII (NEL, NBSP, the spaces of
// U+2000 and on, the line and paragraph separators, ideographic space).
bool UnicodeSpace(uint32_t cp) {
  return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
         cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

// The C1 control characters.
bool C1Control(uint32_t cp) { return cp >= 0x80 && cp <= 0x9F; }

std::string CodePointText(uint32_t cp) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "U+%04X", cp);
  return buf;
}

}  // namespace

Status ValidateTagName(std::string_view name) {
  if (name.empty()) return InvalidArgument("a tag name cannot be empty");
  if (name.size() > kMaxTagNameBytes) {
    return InvalidArgument("tag name longer than " + std::to_string(kMaxTagNameBytes) + " bytes");
  }
  if (!ValidUtf8(name)) return InvalidArgument("tag name is not valid UTF-8");
  for (char c : name) {
    if (c == '/' || c == '=' || IsSpace(c) || IsControl(static_cast<unsigned char>(c))) {
      return InvalidArgument(
          "a tag name cannot contain \"/\", \"=\", white space or control "
          "characters: " +
          std::string(name));
    }
  }
  for (uint32_t cp : CodePoints(name)) {
    if (UnicodeSpace(cp) || C1Control(cp)) {
      return InvalidArgument("a tag name cannot contain white space or control characters (" +
                             CodePointText(cp) + ")");
    }
  }
  return Status();
}

Status ValidateTagValue(std::string_view value) {
  if (value.size() > kMaxTagValueBytes) {
    return InvalidArgument("tag value longer than " + std::to_string(kMaxTagValueBytes) + " bytes");
  }
  if (!ValidUtf8(value)) return InvalidArgument("tag value is not valid UTF-8");
  for (char c : value) {
    if (c == '/' || IsControl(static_cast<unsigned char>(c))) {
      return InvalidArgument("a tag value cannot contain \"/\" or control characters");
    }
  }
  for (uint32_t cp : CodePoints(value)) {
    if (C1Control(cp)) return InvalidArgument("a tag value cannot contain control characters");
  }
  return Status();
}

Value Classify(std::string_view text) {
  Value v;
  v.text = std::string(text);
  if (std::optional<double> num = ParseNumber(text)) {
    v.kind = ValueKind::kNumber;
    v.number = *num;
  } else if (std::optional<int64_t> t = ParseTime(text)) {
    v.kind = ValueKind::kTime;
    v.time_ns = *t;
  }
  return v;
}

}  // namespace ddbfs::query
