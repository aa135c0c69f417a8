#include "backend.h"

#include <QRunnable>

namespace ddbfs::gui {

namespace {

// Enough for a column's request, a status poll and a transfer at once; more
// would only queue up at the metaserver.
constexpr int kWorkers = 4;
constexpr int kDefaultProbeMs = 1000;

}  // namespace

Backend::Backend(ClientOptions options, QObject* parent)
    : QObject(parent), options_(std::move(options)) {
  pool_.setMaxThreadCount(kWorkers);
  probe_timer_.setInterval(kDefaultProbeMs);
  connect(&probe_timer_, &QTimer::timeout, this, &Backend::Probe);
}

Backend::~Backend() { pool_.waitForDone(); }

void Backend::WaitIdle() { pool_.waitForDone(); }

void Backend::Submit(std::function<void()> task) {
  pool_.start(QRunnable::create(std::move(task)));
}

std::shared_ptr<Client> Backend::ClientOrConnect() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (client_) return client_;
  }
  auto c = Client::Connect(options_);
  std::lock_guard<std::mutex> lock(mu_);
  if (!c.ok()) {
    last_error_ = c.status().ToString();
    return nullptr;
  }
  if (!client_) client_ = std::shared_ptr<Client>(std::move(c).value());
  return client_;
}

std::string Backend::LastError() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_error_.empty() ? "cannot reach the metaserver at " + options_.meta_address
                             : last_error_;
}

QString Backend::LastErrorQ() const { return QString::fromStdString(LastError()); }

void Backend::NoteOutcome(const Status& s) {
  if (s.code() == ErrorCode::kUnavailable) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      last_error_ = s.ToString();
    }
    if (connected_.exchange(false)) {
      QMetaObject::invokeMethod(
          this,
          [this]() {
            emit connectionLost(LastErrorQ());
            probe_timer_.start();
          },
          Qt::QueuedConnection);
    }
  } else if (s.ok() && !connected_.load()) {
    // Another call got through: the probe's own success does the rest.
    QMetaObject::invokeMethod(this, &Backend::Probe, Qt::QueuedConnection);
  }
}

void Backend::Probe() {
  if (probing_ || connected_.load()) return;
  probing_ = true;
  Submit([this]() {
    // A fresh connection proves the metaserver answers again; it replaces
    // the old client (calls still running keep theirs alive).
    auto c = Client::Connect(options_);
    bool ok = c.ok();
    if (ok) {
      std::lock_guard<std::mutex> lock(mu_);
      client_ = std::shared_ptr<Client>(std::move(c).value());
      last_error_.clear();
    } else {
      std::lock_guard<std::mutex> lock(mu_);
      last_error_ = c.status().ToString();
    }
    QMetaObject::invokeMethod(
        this,
        [this, ok]() {
          probing_ = false;
          if (!ok || connected_.exchange(true)) return;
          probe_timer_.stop();
          emit connectionRestored();
        },
        Qt::QueuedConnection);
  });
}

}  // namespace ddbfs::gui
