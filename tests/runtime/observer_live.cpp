// The observer's live view: `GET /` serves the page and `/live` is its WebSocket, which sends
// a snapshot of the tree and then pushes the supervision events in batches. These tests speak
// WebSocket to it as the page does, and as a broken or hostile client would; the queue of a
// page that does not keep up is tested on its own (live_queue).

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>

#include "http_client.hpp"
#include "internal/observer_live_queue.hpp"
#include "live_client.hpp"
#include "observed_system.hpp"
#include "test_workers.hpp"

using namespace strata;
using namespace strata::test;
using nlohmann::json;

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

namespace {

constexpr auto step = std::chrono::seconds(10);

using observed = observed_system;

// Sends raw bytes and returns what the server answers before it closes (or 64 KB of it).
std::string raw_exchange(uint16_t port, const std::string& bytes) {
  INFO("sending " << bytes);
  asio::io_context ioc;
  beast::tcp_stream stream{ioc};
  stream.connect(tcp::endpoint{asio::ip::make_address("127.0.0.1"), port});
  stream.expires_after(step);
  asio::write(stream.socket(), asio::buffer(bytes));
  std::string answer;
  std::array<char, 4096> chunk{};
  beast::error_code ec;
  while (!ec && answer.size() < 65536) {
    bool done = false;
    size_t n = 0;
    stream.async_read_some(asio::buffer(chunk), [&](beast::error_code e, size_t got) {
      ec = e;
      n = got;
      done = true;
    });
    ioc.restart();
    ioc.run();
    REQUIRE(done);
    answer.append(chunk.data(), n);
  }
  CHECK(ec != beast::error::timeout); // the server closed it, no timeout needed
  return answer;
}

std::string upgrade_request(const std::string& target, const std::string& extra = {}) {
  return "GET " + target
         + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
           "Sec-WebSocket-Version: 13\r\n"
         + extra + "\r\n";
}

const std::string good_key = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";

} // namespace

TEST_CASE("GET / serves the live page, self-contained") {
  observed f;
  auto page = http_request(f.port(), "/");
  CHECK(page.status == 200);
  CHECK(page.content_type == "text/html; charset=utf-8");
  CHECK_THAT(page.body, Catch::Contains("new WebSocket"));
  // Nothing is loaded from elsewhere: no CDN, no external script or style sheet.
  CHECK_THAT(page.body, !Catch::Contains("http://") && !Catch::Contains("https://")
                          && !Catch::Contains("src="));
  CHECK(http_request(f.port(), "/live").status == 426); // a WebSocket, not a page
}

TEST_CASE("a live page gets a snapshot, then a crash pushed as exited and restarted") {
  observed f;
  supervisor_spec spec;
  spec.intensity = 5;
  spec.children = {child("a", "echo"), child("b", "echo")};
  auto sup = f.sys->start_supervisor("root", spec);
  REQUIRE(sup);
  live_client page{f.port()};
  auto snap = page.next();
  REQUIRE(snap.at("type") == "snapshot");
  const auto& root = snap.at("tree").at("roots").at(0);
  CHECK(root.at("path") == "root");
  CHECK(root.at("children_total") == 2);
  CHECK(root.at("children_by_placement").at("task") == 2);
  CHECK(root.at("children").at(0).at("id") == "a");
  CHECK(root.at("children").at(0).at("restarts") == 0);
  f.tell(f.child_of(*sup, "a"), crash_atom::value);
  auto exited = wait_pushed(page, "exited", "a");
  CHECK(exited.at("supervisor") == "root");
  CHECK(exited.at("reason") == "exception: boom");
  // In the same batch or a later one: the batch keeps the events' order.
  auto restarted = wait_pushed(page, "restarted", "a");
  CHECK(restarted.at("restarts") == 1);
  // Asked again, it sends a snapshot with the restart in it.
  page.send("snapshot");
  auto again = page.next("snapshot");
  CHECK(again.at("tree").at("roots").at(0).at("children").at(0).at("restarts") == 1);
  CHECK(again.at("tree").at("roots").at(0).at("children").at(0).at("last_exit")
        == "exception: boom");
}

TEST_CASE("a live page's snapshot follows /live's path, offset and limit") {
  observed f;
  f.start_pool(30);
  live_client page{f.port(), "/live?path=pool&offset=20&limit=5"};
  auto snap = page.next("snapshot");
  const auto& root = snap.at("tree").at("roots").at(0);
  CHECK(root.at("children_total") == 30);
  REQUIRE(root.at("children").size() == 5);
  CHECK(root.at("children").at(0).at("id") == "w#21");
}

TEST_CASE("what a page sends other than 'snapshot' closes its connection, and only its") {
  observed f;
  supervisor_spec spec;
  spec.children = {child("a", "echo")};
  auto sup = f.sys->start_supervisor("root", spec);
  REQUIRE(sup);
  live_client watcher{f.port()};
  watcher.next("snapshot");
  {
    live_client c{f.port()};
    c.next("snapshot");
    c.send("hello");
    CHECK(c.close_code() == static_cast<uint16_t>(websocket::close_code::policy_error));
  }
  {
    live_client c{f.port()};
    c.next("snapshot");
    c.send(std::string{"\x01\x02\x03", 3}, true);
    CHECK(c.close_code() == static_cast<uint16_t>(websocket::close_code::unknown_data));
  }
  {
    live_client c{f.port()};
    c.next("snapshot");
    // Beast fails it with 1009 (too big) after reading 1 KB of it; the rest, unread, may
    // turn the close into a reset.
    try {
      c.send(std::string(64 * 1024, 'x'));
    } catch (const boost::system::system_error&) {
      // Closed before all of it was sent: as good.
    }
    CHECK(c.ended());
  }
  {
    // Not a WebSocket frame at all: the server fails the connection (1002).
    live_client c{f.port()};
    c.next("snapshot");
    asio::write(c.lowest().socket(), asio::buffer(std::string{"GARBAGE\r\n\r\n\xff\xff\xff"}));
    CHECK(c.ended());
  }
  // The observer and the other page are unharmed.
  f.tell(f.child_of(*sup, "a"), crash_atom::value);
  wait_pushed(watcher, "restarted", "a");
  CHECK(http_request(f.port(), "/tree").status == 200);
}

TEST_CASE("a malformed or refused upgrade is answered over HTTP and closed") {
  observed f;
  // No Sec-WebSocket-Key: Beast answers 400.
  CHECK_THAT(raw_exchange(f.port(), upgrade_request("/live")), Catch::StartsWith("HTTP/1.1 400"));
  CHECK_THAT(raw_exchange(f.port(), upgrade_request("/nope", good_key)),
             Catch::StartsWith("HTTP/1.1 404"));
  CHECK_THAT(raw_exchange(f.port(), upgrade_request("/live?limit=5000", good_key)),
             Catch::StartsWith("HTTP/1.1 400"));
  CHECK_THAT(raw_exchange(f.port(), upgrade_request("/live?bogus=1", good_key)),
             Catch::StartsWith("HTTP/1.1 400"));
  // A page of another site may not watch the tree.
  CHECK_THAT(raw_exchange(f.port(),
                          upgrade_request("/live", good_key + "Origin: http://evil.example\r\n")),
             Catch::StartsWith("HTTP/1.1 403"));
  live_client c{f.port()};
  CHECK(c.next().at("type") == "snapshot");
}

TEST_CASE("a page that reads nothing does not hold up the observer or the other pages") {
  observed f;
  auto sup = f.start_pool(2000, 100000);
  // Asks for 1,000 children per snapshot, many times, and never reads (~0.2 MB each). Whether
  // its queue then overflows depends on the kernel's socket buffers (up to 4 MB here): the
  // queue's bounds are tested on live_queue below; here, nobody waits for this page.
  live_client stuck{f.port(), "/live?limit=1000"};
  for (int i = 0; i < 200; ++i)
    stuck.send("snapshot");
  live_client page{f.port()};
  page.next("snapshot");
  auto kids = which_children(sup);
  REQUIRE(kids);
  // 1,000 events: fewer than a batch holds, so none is dropped.
  kids->resize(500);
  for (const auto& k : *kids)
    f.tell(k.handle, crash_atom::value);
  for (int i = 1; i <= 500; ++i)
    wait_pushed(page, "restarted", {});
  CHECK(http_request(f.port(), "/tree?limit=1").status == 200);
}

TEST_CASE("the system shuts down at once with live pages connected, closing them with 1001") {
  auto f = std::make_unique<observed>();
  supervisor_spec spec;
  spec.children = {child("a", "echo")};
  REQUIRE(f->sys->start_supervisor("root", spec));
  live_client one{f->port()};
  live_client two{f->port()};
  one.next("snapshot");
  two.next("snapshot");
  auto t0 = std::chrono::steady_clock::now();
  f.reset();
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5));
  CHECK(one.close_code() == static_cast<uint16_t>(websocket::close_code::going_away));
  CHECK(two.close_code() == static_cast<uint16_t>(websocket::close_code::going_away));
}

TEST_CASE("10,000 children under one supervisor: a small snapshot, bounded batches") {
  observed f;
  auto sup = f.start_pool(10000, 100000);
  live_client page{f.port()};
  auto snapshot = page.next_text();
  auto snap = json::parse(snapshot);
  REQUIRE(snap.at("type") == "snapshot");
  CHECK(snap.at("tree").at("roots").at(0).at("children_total") == 10000);
  CHECK(snap.at("tree").at("roots").at(0).at("children").size() == 100);
  CHECK(snapshot.size() < 64 * 1024);
  // Every child crashes and is restarted: 20,000 events. A batch holds 2,000 at most, and
  // says how many it dropped; the page then asks for a snapshot.
  auto kids = which_children(sup);
  REQUIRE(kids);
  for (const auto& k : *kids)
    f.tell(k.handle, crash_atom::value);
  // The starts of the 10,000 may still be on their way to the observer's subscriber as the
  // page connects, and come first: the count is of the crashes' events only, with what was
  // dropped (of any kind) as an upper bound.
  size_t events = 0;
  size_t crash_events = 0;
  size_t dropped = 0;
  size_t largest = 0;
  size_t batches = 0;
  while (crash_events + dropped < 20000) {
    auto text = page.next_text();
    auto msg = json::parse(text);
    if (msg.at("type") != "events")
      continue;
    ++batches;
    CHECK(msg.at("events").size() <= 2000);
    events += msg.at("events").size();
    for (const auto& ev : msg.at("events"))
      if (ev.at("event") == "exited" || ev.at("event") == "restarted")
        ++crash_events;
    dropped += msg.at("dropped").get<size_t>();
    largest = std::max(largest, text.size());
  }
  CHECK(largest < 512 * 1024);
  // The figures of docs/design/observer.md.
  WARN("snapshot " << snapshot.size() << " B; " << batches << " batches, " << events
                   << " events pushed, " << dropped << " dropped; largest batch " << largest
                   << " B");
}

namespace {

using internal::live_queue;

live_queue::message msg(const std::string& text) {
  return std::make_shared<const std::string>(text);
}

std::string type_of(const live_queue::message& m) {
  return json::parse(*m).at("type").get<std::string>();
}

// Writes out everything queued; returns the types, in order.
std::vector<std::string> drain(live_queue& q) {
  std::vector<std::string> types;
  while (auto next = q.start_write()) {
    types.push_back(type_of(*next));
    q.written();
  }
  return types;
}

} // namespace

TEST_CASE("a page's queue past 16 messages becomes one resnapshot, and its batches are dropped "
          "until its next snapshot") {
  live_queue q;
  auto batch = msg(R"({"type":"events","dropped":0,"events":[]})");
  q.push_snapshot(msg(R"({"type":"snapshot"})"));
  REQUIRE(q.start_write() != nullptr); // the page reads nothing: this write never ends
  for (size_t i = 1; i < live_queue::max_messages; ++i)
    q.push_batch(batch);
  CHECK(q.size() == live_queue::max_messages);
  CHECK_FALSE(q.behind());
  q.push_batch(batch);
  CHECK(q.behind());
  CHECK(q.size() == 2); // the snapshot being written, and the resnapshot
  for (int i = 0; i < 1000; ++i)
    q.push_batch(batch);
  CHECK(q.size() == 2);
  q.written();
  q.push_snapshot(msg(R"({"type":"snapshot"})"));
  CHECK_FALSE(q.behind());
  q.push_batch(batch);
  CHECK(drain(q) == std::vector<std::string>{"resnapshot", "snapshot", "events"});
  CHECK(q.bytes() == 0);
}

TEST_CASE("a page's queue keeps at most 8 MB") {
  live_queue q;
  auto big = msg(R"({"type":"events","events":[")" + std::string(3 * 1024 * 1024, 'x') + R"("]})");
  q.push_batch(big);
  q.push_batch(big);
  CHECK_FALSE(q.behind());
  q.push_batch(big);
  CHECK(q.behind());
  CHECK(q.bytes() < live_queue::max_bytes);
  CHECK(drain(q) == std::vector<std::string>{"resnapshot"});
}

TEST_CASE("a snapshot supersedes what waits in a full queue, never the message being written") {
  live_queue q;
  auto batch = msg(R"({"type":"events","dropped":0,"events":[]})");
  for (size_t i = 0; i < live_queue::max_messages; ++i)
    q.push_batch(batch);
  REQUIRE(q.start_write() != nullptr);
  CHECK_FALSE(q.snapshot_waiting());
  q.push_snapshot(msg(R"({"type":"snapshot"})"));
  CHECK(q.snapshot_waiting());
  CHECK_FALSE(q.behind());
  CHECK(q.size() == 2);
  q.written();
  CHECK(drain(q) == std::vector<std::string>{"snapshot"});
}
