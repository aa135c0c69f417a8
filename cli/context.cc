#include "context.h"

#include <unistd.h>

#include "ddbfs/client_config.h"
#include "format.h"
#include "paths.h"

namespace ddbfs::cli {

namespace {

constexpr std::string_view kDash = " — ";

std::string DefaultHint(ErrorCode code) {
  switch (code) {
    case ErrorCode::kNotFound:
    case ErrorCode::kNotDir:
      return "check the path with `ddbfs ls`";
    case ErrorCode::kExists:
      return "use `ddbfs rm` first";
    case ErrorCode::kNotEmpty:
      return "use `ddbfs rm -r`";
    case ErrorCode::kNameTooLong:
      return "use names of at most 255 bytes";
    case ErrorCode::kNoSpace:
      return "add chunk servers or free space; see `ddbfs status`";
    case ErrorCode::kIoError:
    case ErrorCode::kChecksumMismatch:
    case ErrorCode::kStaleVersion:
    case ErrorCode::kUnavailable:
      return "see `ddbfs status`";
    case ErrorCode::kInternal:
      return "see the metaserver log";
    default:
      return "";
  }
}

// Namespace errors read best as the short text; the server's wording of
// them adds nothing to the path the CLI already prints.
bool UseShortText(ErrorCode code) {
  switch (code) {
    case ErrorCode::kNotFound:
    case ErrorCode::kExists:
    case ErrorCode::kNotDir:
    case ErrorCode::kIsDir:
    case ErrorCode::kNotEmpty:
    case ErrorCode::kPermissionDenied:
      return true;
    default:
      return false;
  }
}

}  // namespace

Context::Context(std::string command, GlobalOptions options)
    : command_(std::move(command)), options_(std::move(options)) {}

Context::~Context() = default;

Client* Context::client() {
  std::lock_guard<std::mutex> lock(connect_mu_);
  if (connect_tried_) return client_.get();
  connect_tried_ = true;
  Result<ClientOptions> copts = LoadClientOptions(options_.meta);
  if (!copts.ok()) {
    Fail("", copts.status(), "");
    return nullptr;
  }
  auto c = Client::Connect(*copts);
  if (!c.ok()) {
    const bool bad_address = c.status().code() == ErrorCode::kInvalidArgument;
    Fail("", c.status(),
         bad_address ? "give --meta HOST:PORT[,HOST:PORT...], e.g. 127.0.0.1:9400" : "");
    return nullptr;
  }
  client_ = std::move(c).value();
  return client_.get();
}

void Context::Fail(const std::string& subject, const Status& s, const std::string& hint) {
  // A message that carries its own hint was written for users: keep it.
  const bool own_hint = s.message().find(kDash) != std::string::npos;
  std::string text =
      (UseShortText(s.code()) && !own_hint) ? std::string(Describe(s.code())) : s.ToString();
  if (!own_hint) {
    std::string h = hint.empty() ? DefaultHint(s.code()) : hint;
    if (!h.empty()) text.append(kDash).append(h);
  }
  FailText(subject, s.code(), text);
}

void Context::FailText(const std::string& subject, ErrorCode code, const std::string& text) {
  if (code == ErrorCode::kUnavailable &&
      text.find("cannot reach metaserver") != std::string::npos) {
    if (aborted_.exchange(true)) return;  // said once is enough
  }
  std::string line = "ddbfs: " + command_ + ": ";
  if (!subject.empty()) line += Shown(subject) + ": ";
  line += Shown(text);
  int expected = 0;
  int exit_code = ExitCodeFor(code);
  exit_code_.compare_exchange_strong(expected, exit_code == 0 ? 1 : exit_code);
  ErrLine(line);
}

void Context::Warn(const std::string& text) {
  ErrLine("ddbfs: " + command_ + ": warning: " + text);
}

void Context::ErrLine(const std::string& line) {
  std::lock_guard<std::mutex> lock(err_mu_);
  std::string out;
  if (progress_shown_) {
    out = "\r\033[K";
    progress_shown_ = false;
  }
  out += line;
  out += '\n';
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::write(STDERR_FILENO, out.data() + done, out.size() - done);
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
}

int Context::ForEachPath(const std::vector<std::string>& given,
                         const std::function<void(Client&, const std::string&)>& fn) {
  Client* c = client();
  if (!c) return exit_code();
  for (const auto& g : given) {
    if (aborted()) break;
    auto path = NormalizePath(g);
    if (!path.ok()) {
      Fail("", path.status());
      continue;
    }
    fn(*c, *path);
  }
  return exit_code();
}

}  // namespace ddbfs::cli
