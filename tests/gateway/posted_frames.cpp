// A connection's cross-thread inbox: one drain per burst, frames in order, and a bound past
// which the frames go and the connection is to be closed.

#include "posted_frames.hpp"

#include <chrono>
#include <string>
#include <thread>

#include <caf/make_message.hpp>
#include <catch2/catch.hpp>

using chat::posted_frames;

namespace {

caf::message frame(const std::string& text) {
  return caf::make_message(text);
}

std::string text_of(const caf::message& msg) {
  return msg.get_as<std::string>(0);
}

} // namespace

TEST_CASE("a burst of posted frames asks for one drain, which takes them in order") {
  posted_frames inbox{4};
  CHECK(inbox.push(frame("a")));
  CHECK_FALSE(inbox.push(frame("b")));
  CHECK_FALSE(inbox.push(frame("c")));
  std::vector<caf::message> out{frame("stale")};
  REQUIRE(inbox.take(out));
  REQUIRE(out.size() == 3);
  CHECK(text_of(out[0]) == "a");
  CHECK(text_of(out[1]) == "b");
  CHECK(text_of(out[2]) == "c");
  // The drain has run: the next frame asks for another.
  CHECK(inbox.push(frame("d")));
  REQUIRE(inbox.take(out));
  REQUIRE(out.size() == 1);
  CHECK(text_of(out[0]) == "d");
  // A drain that finds nothing (its frames taken by an earlier one) is harmless.
  REQUIRE(inbox.take(out));
  CHECK(out.empty());
}

TEST_CASE("past its limit an inbox drops every frame, frees them, and says to close") {
  posted_frames inbox{3};
  auto kept = frame("kept by the test");
  CHECK(inbox.push(kept));
  CHECK_FALSE(inbox.push(frame("b")));
  CHECK_FALSE(inbox.push(frame("c")));
  CHECK_FALSE(kept.cvals()->unique()); // the inbox holds it too
  // The fourth: the connection's thread is 3 frames behind.
  CHECK_FALSE(inbox.push(frame("d"))); // the drain asked for by the first is still pending
  CHECK(kept.cvals()->unique()); // dropped at once, not when the drain runs
  CHECK_FALSE(inbox.push(frame("e")));
  std::vector<caf::message> out;
  CHECK_FALSE(inbox.take(out));
  CHECK(out.empty());
  // Nothing more is queued, and no drain is asked for again: the connection closes.
  CHECK_FALSE(inbox.push(frame("f")));
  CHECK_FALSE(inbox.take(out));
  CHECK(out.empty());
}

TEST_CASE("an inbox with a limit of 0 asks for the drain that closes at the first frame") {
  posted_frames inbox{0};
  CHECK(inbox.push(frame("a")));
  std::vector<caf::message> out;
  CHECK_FALSE(inbox.take(out));
  CHECK(out.empty());
}

TEST_CASE("frames posted from several threads all arrive, each thread's in order") {
  constexpr int per_thread = 20000;
  posted_frames inbox{2 * per_thread};
  std::vector<std::thread> posters;
  for (int t = 0; t < 2; ++t)
    posters.emplace_back([&inbox, t] {
      for (int i = 0; i < per_thread; ++i)
        inbox.push(frame(std::to_string(t) + ":" + std::to_string(i)));
    });
  int next[2] = {0, 0};
  std::vector<caf::message> out;
  auto take_all = [&] {
    REQUIRE(inbox.take(out));
    for (auto& msg : out) {
      auto text = text_of(msg);
      auto t = text[0] - '0';
      REQUIRE(text == std::to_string(t) + ":" + std::to_string(next[t]));
      ++next[t];
    }
  };
  // Drains race the posters; the deadline only ends a test that would otherwise hang.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{30};
  while (next[0] + next[1] < 2 * per_thread && std::chrono::steady_clock::now() < deadline)
    take_all();
  for (auto& p : posters)
    p.join();
  take_all();
  CHECK(next[0] == per_thread);
  CHECK(next[1] == per_thread);
}
