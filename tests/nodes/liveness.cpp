// Liveness tokens: a producer's thread holds a robust mutex in its ring's header until it
// dies; the inbox's owner learns of the death as the producer's teardown begins, and reads its
// exit status from /proc. The producers are forked before this process has any thread.

#include <condition_variable>
#include <linux/futex.h>
#include <mutex>
#include <sys/wait.h>
#include <thread>

#include "internal/liveness_watch.hpp"
#include "internal/proc_stat.hpp"
#include "shm_test_support.hpp"

using namespace strata::nodes;
using namespace strata::nodes::test;

namespace {

enum class death { sigkill, exit_from_another_thread, token_given_back };

// A producer process: takes slot 1's token on its main thread, starts a few threads (a
// node has several), tells the parent, then dies as `how` says when the parent writes.
int producer(const outbox_options& opts, int ready_fd, int go_fd, death how) {
  auto out = outbox::open(opts);
  if (!out || out->hold_liveness())
    return 2;
  std::mutex mtx;
  std::condition_variable cv;
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&] {
      std::unique_lock<std::mutex> guard{mtx};
      cv.wait(guard, [] { return false; });
    });
  char c = 'r';
  if (::write(ready_fd, &c, 1) != 1)
    return 3;
  if (::read(go_fd, &c, 1) != 1)
    return 4;
  if (how == death::exit_from_another_thread)
    std::thread{[] { ::_exit(3); }}.join();
  if (how == death::token_given_back) {
    auto closing = std::move(*out); // gives the token back as it goes, as a node ending cleanly
  }
  ::pause();
  return 5;
}

} // namespace

TEST_CASE("a producer's death is reported by its liveness token, with its exit status") {
  auto how = GENERATE(death::sigkill, death::exit_from_another_thread, death::token_given_back);
  auto opts = test_inbox_options(min_ring_capacity, 2);
  auto box = inbox::create(opts);
  REQUIRE(box);
  int ready[2];
  int go[2];
  REQUIRE(::pipe(ready) == 0);
  REQUIRE(::pipe(go) == 0);
  auto out_opts = test_outbox_options(opts, 1);
  auto pid = fork_child([&] { return producer(out_opts, ready[1], go[0], how); });
  child_guard guard{pid};
  char c = 0;
  REQUIRE(::read(ready[0], &c, 1) == 1);
  auto* word = box->liveness_word(1);
  CHECK((word->load() & FUTEX_TID_MASK) != 0); // held
  CHECK((box->liveness_word(0)->load() & FUTEX_TID_MASK) == 0); // nobody's

  std::mutex mtx;
  std::condition_variable cv;
  std::vector<uint32_t> reported;
  internal::liveness_watch watch{*box, [&](uint32_t slot) {
                                   std::lock_guard<std::mutex> lock{mtx};
                                   reported.push_back(slot);
                                   cv.notify_all();
                                 }};
  watch.watch(0);
  watch.watch(1);
  CHECK(watch.watching(1) == internal::liveness_watch::supported());
  // Armed: the watch set FUTEX_WAITERS, so the kernel will wake it.
  REQUIRE(wait_until([&] { return (word->load() & FUTEX_WAITERS) != 0; }));
  if (how == death::sigkill)
    REQUIRE(::kill(pid, SIGKILL) == 0);
  else
    REQUIRE(::write(go[1], &c, 1) == 1);

  {
    std::unique_lock<std::mutex> lock{mtx};
    REQUIRE(cv.wait_for(lock, std::chrono::seconds{10}, [&] { return !reported.empty(); }));
    CHECK(reported == std::vector<uint32_t>{1});
  }
  CHECK_FALSE(watch.watching(1)); // reported once
  // Not reaped yet (we are its parent and have not waited): the kernel says how it ended.
  auto st = internal::proc_stat_file{pid}.read();
  REQUIRE(st);
  if (how == death::token_given_back) {
    CHECK(st->exit_code == 0); // alive: a clean end is reported by its exit, as it comes
    REQUIRE(::kill(pid, SIGKILL) == 0);
  } else if (how == death::sigkill) {
    CHECK(WIFSIGNALED(st->exit_code));
    CHECK(WTERMSIG(st->exit_code) == SIGKILL);
  } else {
    CHECK(WIFEXITED(st->exit_code));
    CHECK(WEXITSTATUS(st->exit_code) == 3);
  }
  CHECK(guard.wait() == (how == death::exit_from_another_thread ? 3 : 128 + SIGKILL));
  for (int fd : {ready[0], ready[1], go[0], go[1]})
    ::close(fd);
}

TEST_CASE("proc_stat names a process by its start time and reads a live one's exit code as 0") {
  auto self = internal::proc_stat_file{::getpid()}.read();
  REQUIRE(self);
  CHECK(self->start_time > 0);
  CHECK(self->exit_code == 0);
  CHECK_FALSE(internal::proc_stat_file{0}.read());
}

TEST_CASE("a proc_stat file opened for a process reads it until it is reaped, never another") {
  int go[2];
  REQUIRE(::pipe(go) == 0);
  auto pid = fork_child([&] {
    char c;
    return ::read(go[0], &c, 1) == 1 ? 7 : 8;
  });
  child_guard guard{pid};
  internal::proc_stat_file file{pid};
  REQUIRE(file.is_open());
  auto alive = file.read();
  REQUIRE(alive);
  CHECK(alive->exit_code == 0);
  CHECK(alive->start_time == internal::proc_stat_file{pid}.read()->start_time);
  char c = 'g';
  REQUIRE(::write(go[1], &c, 1) == 1);
  // A zombie (not waited for yet): its exit status, read again through the same file.
  REQUIRE(wait_until([&] {
    auto st = file.read();
    return st && st->exit_code != 0;
  }));
  CHECK(WEXITSTATUS(file.read()->exit_code) == 7);
  CHECK(guard.wait() == 7);
  CHECK_FALSE(file.read()); // reaped: the file names no process now
  for (int x : go)
    ::close(x);
}
