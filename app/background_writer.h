// background_writer.h: one thread, at the lowest CPU priority, that runs file work (formatting
// and write(2) of log lines and audit journal lines) in the order it was posted, so the control
// loop goes back to health and selection at once and the DNS workers win the CPU over it.
// The queue is bounded in bytes: a producer that finds it full waits, nothing is dropped. The
// destructor runs everything still queued.
//
//   BackgroundWriter writer;
//   set_log_writer(&writer);                            // log lines go through it, in order
//   journal.set_writer(&writer);                        // and the journal's file writes
//   writer.post([lines = std::move(text)] { ... }, lines.size());
//   writer.flush();                                     // everything posted so far is done
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace pharos::app {

class BackgroundWriter {
 public:
  static constexpr std::size_t kDefaultMaxQueued = 64u << 20;
  static constexpr std::size_t kSmallJob = 64u << 10;  // never waits

  explicit BackgroundWriter(std::size_t max_queued_bytes = kDefaultMaxQueued);
  ~BackgroundWriter();  // runs what is queued, then stops the thread
  BackgroundWriter(const BackgroundWriter&) = delete;
  BackgroundWriter& operator=(const BackgroundWriter&) = delete;

  // Queues `job` (it holds about `bytes` of memory). A big job (a round of answer changes) waits
  // while more than the limit is queued; a small one (a log line, an operator's journal entry)
  // never waits, so a check change is never held up behind a backlog of rounds. Nor does a job
  // posted from the writer thread itself (it runs after the one that posts it).
  void post(std::function<void()> job, std::size_t bytes);
  // Returns once every job posted before the call has run.
  void flush();
  // True on the writer thread: code that may run on either thread writes directly there.
  bool on_writer_thread() const { return std::this_thread::get_id() == thread_.get_id(); }
  std::size_t queued_bytes() const;

 private:
  struct Job {
    std::function<void()> run;
    std::size_t bytes;
  };
  void main();

  const std::size_t max_queued_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;      // the writer: a job or stop
  std::condition_variable progress_;  // producers and flush(): a job is done
  std::deque<Job> jobs_;
  std::size_t queued_ = 0;            // bytes of the queued jobs and the running batch
  std::uint64_t posted_ = 0, done_ = 0;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace pharos::app
