#pragma once

// The browser's way to the cluster: every libddbfs call runs on a worker
// thread of a small pool, never on the GUI thread, and its outcome comes
// back to the GUI thread as a queued call.
//
// Thread-safety: Backend lives on the GUI thread; Run() and the signals are
// for the GUI thread. The work functions run on the pool's threads and share
// one libddbfs Client (the library is thread-safe, client.h). The destructor
// waits for running work; queued outcomes of a destroyed receiver are dropped.
//
// Connection state: a call that fails with kUnavailable (the metaserver did
// not answer within the client's retry window) marks the connection lost;
// from then on a probe connects afresh every `probe_interval_ms` until the
// metaserver answers, which marks it restored (docs/browser.md, "Reconnect").

#include <QObject>
#include <QPointer>
#include <QString>
#include <QThreadPool>
#include <QTimer>
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>

#include "ddbfs/client.h"

namespace ddbfs::gui {

class Backend : public QObject {
  Q_OBJECT

 public:
  // Does not connect yet: the first call does, on a worker.
  explicit Backend(ClientOptions options, QObject* parent = nullptr);
  ~Backend() override;

  // Runs work(client) on a worker, then done(result) on the GUI thread
  // unless `receiver` was destroyed meanwhile. Without a client (the
  // metaserver unreachable), done gets that kUnavailable status.
  template <typename T>
  void Run(QObject* receiver, std::function<Result<T>(Client&)> work,
           std::function<void(Result<T>)> done) {
    RunCounted<T>(receiver, std::move(work), std::move(done), true);
  }
  // Like Run, for the polls that run by themselves (the status bar): not
  // counted by pending().
  template <typename T>
  void RunPoll(QObject* receiver, std::function<Result<T>(Client&)> work,
               std::function<void(Result<T>)> done) {
    RunCounted<T>(receiver, std::move(work), std::move(done), false);
  }

  bool connected() const { return connected_.load(); }
  // Calls of Run (not RunPoll) whose outcome has not reached the GUI
  // thread yet.
  int pending() const { return pending_; }
  QString address() const { return QString::fromStdString(options_.meta_address); }
  // Waits until no work runs (tests, shutdown).
  void WaitIdle();
  // How often the probe tries to reconnect while the connection is lost.
  void set_probe_interval_ms(int ms) { probe_timer_.setInterval(ms); }

 signals:
  void connectionLost(const QString& message);
  void connectionRestored();

 private:
  template <typename T>
  void RunCounted(QObject* receiver, std::function<Result<T>(Client&)> work,
                  std::function<void(Result<T>)> done, bool counted) {
    QPointer<QObject> guard(receiver);
    if (counted) ++pending_;
    Submit([this, guard, counted, work = std::move(work), done = std::move(done)]() {
      std::shared_ptr<Client> client = ClientOrConnect();
      auto result = std::make_shared<Result<T>>(
          client ? work(*client) : Result<T>(Status(ErrorCode::kUnavailable, LastError())));
      NoteOutcome(result->ok() ? Status() : result->status());
      QMetaObject::invokeMethod(
          this,
          [this, guard, counted, done, result]() {
            if (counted) --pending_;
            if (guard) done(std::move(*result));
          },
          Qt::QueuedConnection);
    });
  }

  void Submit(std::function<void()> task);
  // The shared client, connecting first if there is none (any thread).
  std::shared_ptr<Client> ClientOrConnect();
  QString LastErrorQ() const;
  std::string LastError() const;
  // From any thread: a kUnavailable failure marks the connection lost, a
  // success while lost marks it restored.
  void NoteOutcome(const Status& s);
  void Probe();  // GUI thread

  const ClientOptions options_;
  QThreadPool pool_;
  QTimer probe_timer_;
  bool probing_ = false;  // GUI thread only
  int pending_ = 0;       // GUI thread only
  mutable std::mutex mu_;
  std::shared_ptr<Client> client_;  // GUARDED_BY(mu_)
  std::string last_error_;          // GUARDED_BY(mu_)
  std::atomic<bool> connected_{true};
};

}  // namespace ddbfs::gui
