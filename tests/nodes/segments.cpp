// Inbox segments: names, permissions, header validation on open, slot claims, and cleanup of
// the segments of dead owners. Every test here forks, if at all, before any thread exists.

#include <algorithm>
#include <optional>

#include "error_of.hpp"
#include "internal/shm_layout.hpp"
#include "shm_test_support.hpp"

using strata::test::error_of;

using namespace strata::nodes;
using namespace strata::nodes::test;

namespace {

constexpr uint64_t capacity = min_ring_capacity;

// A segment made by hand, as a peer (or an older build) could have made it; unlinked at the
// end of the test.
class fake_segment {
public:
  fake_segment(std::string name, const char* bytes, size_t size) : name_(std::move(name)) {
    auto fd = ::shm_open(("/" + name_).c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
    REQUIRE(fd >= 0);
    REQUIRE(::ftruncate(fd, static_cast<off_t>(size)) == 0);
    if (size > 0) {
      auto* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      REQUIRE(p != MAP_FAILED);
      std::memcpy(p, bytes, size);
      ::munmap(p, size);
    }
    ::close(fd);
  }

  fake_segment(const fake_segment&) = delete;
  fake_segment& operator=(const fake_segment&) = delete;

  ~fake_segment() {
    ::shm_unlink(("/" + name_).c_str());
  }

private:
  std::string name_;
};

// The bytes of a valid segment with 2 rings.
struct valid_image {
  inbox_options opts = test_inbox_options(capacity, 2);
  std::vector<char> bytes;

  valid_image() {
    auto box = inbox::create(opts);
    REQUIRE(box);
    raw_mapping raw{box->name()};
    bytes.assign(raw.base(), raw.base() + raw.size());
  }

  internal::segment_header_data& header() {
    return *reinterpret_cast<internal::segment_header_data*>(bytes.data());
  }
};

// Opens slot `slot` of a hand-made copy of `image` (node index 9 of the same cluster).
caf::expected<outbox> open_copy(valid_image& image, size_t size, uint32_t slot = 0) {
  fake_segment fake{segment_name(image.opts.token, 9), image.bytes.data(), size};
  auto opts = test_outbox_options(image.opts, slot);
  opts.node_index = 9;
  return outbox::open(opts);
}

// Body of a child: creates an inbox and exits without destroying it, like a killed node.
int create_and_die(const inbox_options& opts) {
  auto box = inbox::create(opts);
  ::_exit(box ? 0 : 2);
}

bool exists(const std::string& name) {
  struct stat st {};
  return ::stat(("/dev/shm/" + name).c_str(), &st) == 0;
}

} // namespace

TEST_CASE("an inbox segment is named after the cluster and node, and created 0600") {
  auto opts = test_inbox_options(capacity);
  opts.node_index = 42;
  auto box = inbox::create(opts);
  REQUIRE(box);
  CHECK(box->name() == "strata-" + to_hex(opts.token) + "-42");
  CHECK(box->name() == segment_name(opts.token, 42));
  struct stat st {};
  REQUIRE(::stat(("/dev/shm/" + box->name()).c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(st.st_uid == ::getuid());
}

TEST_CASE("no segment is left in /dev/shm once the inbox is gone") {
  auto opts = test_inbox_options(capacity, 4);
  {
    auto box = inbox::create(opts);
    REQUIRE(box);
    auto out = outbox::open(test_outbox_options(opts, 3));
    REQUIRE(out);
    CHECK(segments_of(opts.token).size() == 1);
    // A moved inbox removes the segment once, when the last owner goes.
    auto moved = std::move(*box);
    CHECK(segments_of(opts.token).size() == 1);
  }
  CHECK(segments_of(opts.token).empty());
}

TEST_CASE("a spare's inbox takes its node's name when assigned, and peers then reach it") {
  auto opts = test_inbox_options(capacity, 4);
  auto box = inbox::create_spare(opts);
  REQUIRE(box);
  CHECK(box->name() != segment_name(opts.token, 2));
  CHECK(segments_of(opts.token).size() == 1);
  REQUIRE_FALSE(box->take_index(opts.token, 2));
  CHECK(box->name() == segment_name(opts.token, 2));
  CHECK(segments_of(opts.token).size() == 1);
  auto nodeopts = opts;
  nodeopts.node_index = 2;
  auto out = outbox::open(test_outbox_options(nodeopts, 1));
  REQUIRE(out);
  const char msg[] = "after the rename";
  REQUIRE_FALSE(out->try_write(caf::span<const char>{msg, sizeof(msg)}));
  std::vector<char> buf;
  auto r = box->try_receive(buf);
  REQUIRE(r.status == receive_status::message);
  CHECK(std::string{buf.data()} == msg);
}

TEST_CASE("a spare cannot take the name of a node whose owner lives") {
  auto opts = test_inbox_options(capacity, 4);
  opts.node_index = 3;
  int up[2];
  int quit[2];
  REQUIRE(::pipe(up) == 0);
  REQUIRE(::pipe(quit) == 0);
  auto pid = fork_child([&] {
    ::close(quit[1]); // or the read below never sees EOF
    auto owned = inbox::create(opts); // node 3's inbox, owned by a live process
    char c = owned ? 1 : 0;
    if (::write(up[1], &c, 1) != 1)
      return 1;
    (void)::read(quit[0], &c, 1);
    return 0;
  });
  child_guard guard{pid};
  char c = 0;
  REQUIRE(::read(up[0], &c, 1) == 1);
  REQUIRE(c == 1);
  auto spare = inbox::create_spare(opts);
  REQUIRE(spare);
  auto err = spare->take_index(opts.token, 3);
  CHECK(is(err, error::segment_exists));
  CHECK(spare->name() != segment_name(opts.token, 3));
  ::close(quit[1]);
  CHECK(guard.wait() == 0);
  for (int fd : {up[0], up[1], quit[0]})
    ::close(fd);
}

TEST_CASE("options out of bounds are refused and create nothing") {
  auto check_refused = [](inbox_options opts) {
    auto box = inbox::create(opts);
    REQUIRE_FALSE(box);
    CHECK(is(error_of(box), error::invalid_argument));
    CHECK(segments_of(opts.token).empty());
  };
  auto opts = test_inbox_options(capacity);
  auto bad = opts;
  bad.ring_count = 0;
  check_refused(bad);
  bad.ring_count = max_rings + 1;
  check_refused(bad);
  bad = opts;
  bad.ring_capacity = 3000;
  check_refused(bad);
  bad.ring_capacity = min_ring_capacity / 2;
  check_refused(bad);
  bad.ring_capacity = max_ring_capacity * 2;
  check_refused(bad);
  bad = opts;
  bad.max_message_size = 0;
  check_refused(bad);
  bad.max_message_size = max_message_size_limit + 1;
  check_refused(bad);
}

TEST_CASE("opening a missing segment fails with segment_not_found") {
  auto opts = test_inbox_options(capacity);
  auto out = outbox::open(test_outbox_options(opts));
  REQUIRE_FALSE(out);
  CHECK(is(error_of(out), error::segment_not_found));
}

TEST_CASE("an unchanged copy of a valid segment opens") {
  valid_image image;
  auto out = open_copy(image, image.bytes.size(), 1);
  INFO((out ? "" : text(out.error())));
  CHECK(out);
}

TEST_CASE("a segment with the wrong magic number is refused") {
  valid_image image;
  image.header().magic.store(0x1234);
  auto out = open_copy(image, image.bytes.size());
  REQUIRE_FALSE(out);
  CHECK(is(error_of(out), error::invalid_segment));
}

TEST_CASE("a segment of another layout version is refused") {
  valid_image image;
  image.header().version = internal::layout_version + 1;
  auto out = open_copy(image, image.bytes.size());
  REQUIRE_FALSE(out);
  CHECK(is(error_of(out), error::version_mismatch));
}

TEST_CASE("a segment carrying another cluster's token is refused") {
  valid_image image;
  image.header().token[5] ^= 1;
  auto out = open_copy(image, image.bytes.size());
  REQUIRE_FALSE(out);
  CHECK(is(error_of(out), error::token_mismatch));
}

TEST_CASE("a truncated segment is refused before any byte past its end is touched") {
  valid_image image;
  for (size_t size :
       {size_t{0}, size_t{100}, sizeof(internal::segment_header_data), image.bytes.size() - 1}) {
    INFO("size " << size);
    auto out = open_copy(image, size);
    REQUIRE_FALSE(out);
    CHECK(is(error_of(out), error::invalid_segment));
  }
}

TEST_CASE("a segment header with a geometry out of bounds is refused") {
  auto check_refused = [](auto mutate) {
    valid_image image;
    mutate(image.header());
    auto out = open_copy(image, image.bytes.size());
    REQUIRE_FALSE(out);
    CHECK(is(error_of(out), error::invalid_segment));
  };
  check_refused([](internal::segment_header_data& h) { h.ring_count = 0; });
  check_refused([](internal::segment_header_data& h) { h.ring_count = 3; });
  check_refused([](internal::segment_header_data& h) { h.ring_count = max_rings + 1; });
  check_refused([](internal::segment_header_data& h) { h.ring_capacity = capacity + 8; });
  check_refused([](internal::segment_header_data& h) { h.ring_capacity = capacity / 2; });
  check_refused([](internal::segment_header_data& h) { h.ring_capacity = uint64_t{1} << 62; });
  check_refused([](internal::segment_header_data& h) { h.max_message_size = 0; });
  check_refused([](internal::segment_header_data& h) { h.segment_size += 64; });
}

TEST_CASE("a slot out of range is refused") {
  valid_image image;
  auto out = open_copy(image, image.bytes.size(), 2);
  REQUIRE_FALSE(out);
  CHECK(is(error_of(out), error::invalid_argument));
}

TEST_CASE("a slot is claimed by one writer at a time") {
  auto opts = test_inbox_options(capacity, 2);
  auto box = inbox::create(opts);
  REQUIRE(box);
  std::optional<outbox> first;
  {
    auto out = outbox::open(test_outbox_options(opts, 0));
    REQUIRE(out);
    first.emplace(std::move(*out));
  }
  auto second = outbox::open(test_outbox_options(opts, 0));
  REQUIRE_FALSE(second);
  CHECK(is(error_of(second), error::slot_in_use));
  CHECK(outbox::open(test_outbox_options(opts, 1))); // another slot is free
  REQUIRE_FALSE(first->try_write(pattern(10, 1)));
  first.reset(); // released between messages
  auto third = outbox::open(test_outbox_options(opts, 0));
  REQUIRE(third);
  REQUIRE_FALSE(third->try_write(pattern(10, 2)));
  CHECK(read_now(*box) == pattern(10, 1));
  CHECK(read_now(*box) == pattern(10, 2));
}

TEST_CASE("creating an inbox whose owner is alive fails with segment_exists") {
  auto opts = test_inbox_options(capacity);
  auto box = inbox::create(opts);
  REQUIRE(box);
  auto again = inbox::create(opts);
  REQUIRE_FALSE(again);
  CHECK(is(error_of(again), error::segment_exists));
  CHECK(exists(box->name()));
}

TEST_CASE("stale segments of dead owners are removed, live ones are kept") {
  auto live_opts = test_inbox_options(capacity);
  auto live = inbox::create(live_opts);
  REQUIRE(live);
  auto dead_opts = test_inbox_options(capacity);
  // The child creates an inbox and dies without running its destructor, as a node killed
  // with SIGKILL would.
  child_guard child{fork_child([&] { return create_and_die(dead_opts); })};
  REQUIRE(child.wait() == 0);
  auto dead_name = segment_name(dead_opts.token, 0);
  REQUIRE(exists(dead_name));
  // A segment whose creator died before publishing the header names no owner: kept.
  auto unpublished_name = segment_name(fresh_token(), 0);
  std::vector<char> zeros(4096, 0);
  fake_segment unpublished{unpublished_name, zeros.data(), zeros.size()};
  auto removed = remove_stale_segments();
  REQUIRE(removed);
  CHECK(std::count(removed->begin(), removed->end(), dead_name) == 1);
  CHECK(std::count(removed->begin(), removed->end(), live->name()) == 0);
  CHECK_FALSE(exists(dead_name));
  CHECK(exists(live->name()));
  CHECK(exists(unpublished_name));
}

TEST_CASE("creating an inbox replaces a stale segment of the same name") {
  auto opts = test_inbox_options(capacity);
  child_guard child{fork_child([&] { return create_and_die(opts); })};
  REQUIRE(child.wait() == 0);
  REQUIRE(exists(segment_name(opts.token, 0)));
  auto box = inbox::create(opts);
  INFO((box ? "" : text(box.error())));
  REQUIRE(box);
  auto out = outbox::open(test_outbox_options(opts));
  REQUIRE(out);
  CHECK(out->owner_pid() == ::getpid());
  REQUIRE_FALSE(out->try_write(pattern(10, 1)));
  CHECK(read_now(*box) == pattern(10, 1));
}

TEST_CASE("a cluster token survives a round trip through hex, and bad hex is refused") {
  auto token = fresh_token();
  auto hex = to_hex(token);
  CHECK(hex.size() == 32);
  auto parsed = parse_cluster_token(hex);
  REQUIRE(parsed);
  CHECK(*parsed == token);
  CHECK(fresh_token() != token);
  CHECK_FALSE(parse_cluster_token(hex.substr(1)));
  CHECK_FALSE(parse_cluster_token("x" + hex.substr(1)));
}
