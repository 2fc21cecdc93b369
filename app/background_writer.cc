// background_writer.cc: see background_writer.h.
#include "app/background_writer.h"

#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace pharos::app {

BackgroundWriter::BackgroundWriter(std::size_t max_queued_bytes)
    : max_queued_(max_queued_bytes), thread_([this] { main(); }) {}

BackgroundWriter::~BackgroundWriter() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void BackgroundWriter::post(std::function<void()> job, std::size_t bytes) {
  std::unique_lock lock(mutex_);
  // Bounded: a big job waits for room, but never for less than one job (a job bigger than the
  // limit goes alone); small ones and the writer thread's own never wait.
  if (bytes >= kSmallJob && !on_writer_thread())
    progress_.wait(lock, [&] { return queued_ == 0 || queued_ + bytes <= max_queued_; });
  jobs_.push_back(Job{std::move(job), bytes});
  queued_ += bytes;
  ++posted_;
  lock.unlock();
  wake_.notify_one();
}

void BackgroundWriter::flush() {
  if (on_writer_thread()) return;
  std::unique_lock lock(mutex_);
  const std::uint64_t target = posted_;
  progress_.wait(lock, [&] { return done_ >= target; });
}

std::size_t BackgroundWriter::queued_bytes() const {
  std::lock_guard lock(mutex_);
  return queued_;
}

void BackgroundWriter::main() {
  // The lowest priority for this thread only: SCHED_IDLE, which any waking DNS worker or the
  // control loop preempts at once (nice 19 alone does not promise that); nice 19 where
  // SCHED_IDLE is refused. Failing to lower it changes nothing else.
  sched_param param{};
  if (pthread_setschedparam(pthread_self(), SCHED_IDLE, &param) != 0)
    setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), 19);
  // The lock is held only to take a batch of jobs (up to ~4 MiB, so producers waiting for room
  // do not wait for the whole queue) and, after running it, to count it done: a thread at this
  // priority may lose the CPU while holding it, and the control loop, which logs before it
  // selects, must then not wait for it long (priority inversion). Hence batches, and no system
  // call (notify) under the lock.
  constexpr std::size_t kBatchBytes = 4u << 20;
  std::deque<Job> batch;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stop_ || !jobs_.empty(); });
      if (jobs_.empty()) return;  // stop_, and everything done
      std::size_t taken = 0;
      while (!jobs_.empty() && (batch.empty() || taken < kBatchBytes)) {
        taken += jobs_.front().bytes;
        batch.push_back(std::move(jobs_.front()));
        jobs_.pop_front();
      }
    }
    std::size_t bytes = 0;
    const std::size_t count = batch.size();
    for (Job& job : batch) {
      job.run();
      job.run = nullptr;  // its memory goes before the producers are told there is room
      bytes += job.bytes;
    }
    batch.clear();
    {
      std::lock_guard lock(mutex_);
      queued_ -= bytes;
      done_ += count;
    }
    progress_.notify_all();
  }
}

}  // namespace pharos::app
