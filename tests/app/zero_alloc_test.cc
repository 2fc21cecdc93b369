// zero_alloc_test.cc: proves the DNS worker makes no heap allocation per query. This binary
// replaces malloc and friends (and operator new/delete) to count the calls made by one thread: the
// worker's UDP receive thread for UDP, its loop thread for TCP; after a warm-up, thousands of UDP
// (and pipelined TCP) queries must cost zero.
#include <pthread.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <new>

#include "tests/dns/server_fixture.h"

extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);
void __libc_free(void*);
}

namespace {

std::atomic<bool> g_counting{false};
std::atomic<pthread_t> g_thread{};
std::atomic<std::uint64_t> g_allocs{0};
std::atomic<std::uint64_t> g_frees{0};

bool counted_thread() {
  return g_counting.load(std::memory_order_relaxed) &&
         pthread_equal(pthread_self(), g_thread.load(std::memory_order_relaxed));
}
void note_alloc() {
  if (counted_thread()) g_allocs.fetch_add(1, std::memory_order_relaxed);
}
void note_free(void* p) {
  if (p != nullptr && counted_thread()) g_frees.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

extern "C" {
void* malloc(std::size_t n) {
  note_alloc();
  return __libc_malloc(n);
}
void* calloc(std::size_t n, std::size_t size) {
  note_alloc();
  return __libc_calloc(n, size);
}
void* realloc(void* p, std::size_t n) {
  note_alloc();
  return __libc_realloc(p, n);
}
void free(void* p) {
  note_free(p);
  __libc_free(p);
}
void* memalign(std::size_t align, std::size_t n) {
  note_alloc();
  return __libc_memalign(align, n);
}
void* aligned_alloc(std::size_t align, std::size_t n) {
  note_alloc();
  return __libc_memalign(align, n);
}
int posix_memalign(void** out, std::size_t align, std::size_t n) {
  note_alloc();
  void* p = __libc_memalign(align, n);
  if (p == nullptr) return ENOMEM;
  *out = p;
  return 0;
}
}

void* operator new(std::size_t n) {
  if (void* p = malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return malloc(n == 0 ? 1 : n); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return malloc(n == 0 ? 1 : n); }
void* operator new(std::size_t n, std::align_val_t a) {
  if (void* p = aligned_alloc(static_cast<std::size_t>(a), n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n, std::align_val_t a) { return operator new(n, a); }
void operator delete(void* p) noexcept { free(p); }
void operator delete[](void* p) noexcept { free(p); }
void operator delete(void* p, std::size_t) noexcept { free(p); }
void operator delete[](void* p, std::size_t) noexcept { free(p); }
void operator delete(void* p, std::align_val_t) noexcept { free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { free(p); }

namespace pharos::test {
namespace {

using namespace dns::rrtype;

// Every kind of answer the example zone gives: data, CNAME chains, wildcard, NXDOMAIN, NODATA,
// referral, a large RRset (TC without EDNS), ANY, the CHAOS class, and a GTM record chosen by
// the client's region.
struct Case {
  const char* name;
  std::uint16_t type;
  bool edns;
};
constexpr Case kMix[] = {
    {"www.example.com", kA, true},      {"www.example.com", kAaaa, false}, {"alias.example.com", kA, true},
    {"x.apps.example.com", kTxt, true}, {"nope.example.com", kA, true},    {"mail.example.com", kMx, true},
    {"a.sub.example.com", kA, true},    {"big.example.com", kTxt, false},  {"big.example.com", kTxt, true},
    {"example.com", kAny, true},        {"example.com", kSoa, false},      {"_sip._udp.example.com", kSrv, true},
    {"b.c.example.com", kA, true},      {"outside.example.com", kA, true}, {"other.test", kA, true},
    {"gtm.example.com", kA, true},      {"gtm.example.com", kA, false},    {"gtm.example.com", kAaaa, true},
};
constexpr std::size_t kMixSize = sizeof kMix / sizeof kMix[0];

Bytes mix_query(int i) {
  const Case& c = kMix[static_cast<std::size_t>(i) % kMixSize];
  return make_query(static_cast<std::uint16_t>(i), c.name, c.type, c.edns);
}

// Sends `n` queries in bursts of `burst` (so the worker sees real recvmmsg batches) and returns
// how many were answered.
int udp_round(int fd, int first, int n, int burst) {
  int answered = 0;
  Bytes buf(4096);
  for (int i = first; i < first + n; i += burst) {
    const int k = std::min(burst, first + n - i);
    for (int j = 0; j < k; ++j) {
      const Bytes q = mix_query(i + j);
      if (send(fd, q.data(), q.size(), 0) != static_cast<ssize_t>(q.size())) return answered;
    }
    for (int j = 0; j < k; ++j) {
      if (!wait_readable(fd, 2000)) return answered;
      if (recv(fd, buf.data(), buf.size(), 0) > 0) ++answered;
    }
  }
  return answered;
}

class ZeroAlloc : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<LiveServer>(loopback_options(1));
    ASSERT_TRUE(server_->ok());
  }
  void TearDown() override {
    g_counting.store(false);
    server_.reset();
  }
  void start_counting(pthread_t thread) {
    g_thread.store(thread);
    g_allocs.store(0);
    g_frees.store(0);
    g_counting.store(true);
  }
  void stop_counting() { g_counting.store(false); }

  std::unique_ptr<LiveServer> server_;
};

// The counter itself works: an allocation on the counted thread is seen.
TEST(AllocCounter, CountsAllocationsOfTheChosenThread) {
  g_thread.store(pthread_self());
  g_allocs.store(0);
  g_counting.store(true);
  auto* p = new int(5);
  void* m = std::malloc(32);
  std::free(m);
  delete p;
  g_counting.store(false);
  EXPECT_GE(g_allocs.load(), 2u);
  EXPECT_GE(g_frees.load(), 2u);
}

TEST_F(ZeroAlloc, UdpQueriesAllocateNothingOnTheWorker) {
  Socket c = server_->udp();
  ASSERT_TRUE(c);
  ASSERT_EQ(udp_round(c.fd(), 0, 300, 16), 300);  // warm-up: first-touch paths, FORMERR memory
  ASSERT_EQ(server_->server().worker(0).udp_count(), 1u);
  start_counting(server_->server().worker(0).udp_native_handle(0));
  const int answered = udp_round(c.fd(), 300, 2000, 16);
  stop_counting();
  EXPECT_EQ(answered, 2000);
  EXPECT_EQ(g_allocs.load(), 0u) << "heap allocations on the UDP receive thread during 2000 queries";
  EXPECT_EQ(g_frees.load(), 0u) << "heap frees on the UDP receive thread during 2000 queries";
}

// Not a requirement of the design (connection buffers are allocated at accept), but once a
// connection is warm its queries should cost no allocation either.
TEST_F(ZeroAlloc, WarmTcpConnectionAllocatesNothingPerQuery) {
  Socket c = server_->tcp();
  ASSERT_TRUE(c);
  auto round = [&](int first, int n) {
    int answered = 0;
    for (int i = first; i < first + n; i += 8) {
      Bytes burst;
      for (int j = 0; j < 8; ++j) {
        const Bytes f = framed(mix_query(i + j));
        burst.insert(burst.end(), f.begin(), f.end());
      }
      if (!send_all(c.fd(), burst)) return answered;
      for (int j = 0; j < 8; ++j) answered += tcp_read_message(c.fd()).has_value() ? 1 : 0;
    }
    return answered;
  };
  ASSERT_EQ(round(0, 400), 400);
  start_counting(server_->server().worker(0).native_handle());
  const int answered = round(400, 2000);
  stop_counting();
  EXPECT_EQ(answered, 2000);
  EXPECT_EQ(g_allocs.load(), 0u) << "heap allocations on the worker thread during 2000 TCP queries";
  EXPECT_EQ(g_frees.load(), 0u);
}

}  // namespace
}  // namespace pharos::test
