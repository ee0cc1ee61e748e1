// SPDX-License-Identifier: Apache-2.0
// The dns:/// source: a real lookup of localhost, and an injected resolver whose answers change
// across refreshes (updates delivered, unchanged answers not, failures keep the last set).

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "client/pool/discovery/discovery.h"
#include "tests/client/pool/discovery/discovery_test_util.h"
#include "tests/testing/status_matchers.h"

namespace blazen::client::pool {
namespace {

using ::blazen::testing::StatusIs;
using ::testing::ElementsAre;
using testing::Endpoints;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using testing::SetRecorder;
using namespace std::chrono_literals;

// A resolver whose answer the test sets; counts its calls. Thread-safe.
class ScriptedResolver {
 public:
  void Answer(Result<std::vector<std::string>> answer) {
    std::lock_guard lock(mu_);
    answer_ = std::move(answer);
  }
  int calls() const { return calls_.load(); }
  std::function<Result<std::vector<std::string>>(const std::string&)> fn() {
    return [this](const std::string& host) -> Result<std::vector<std::string>> {
      ++calls_;
      std::lock_guard lock(mu_);
      last_host_ = host;
      return answer_;
    };
  }
  std::string last_host() {
    std::lock_guard lock(mu_);
    return last_host_;
  }

 private:
  std::mutex mu_;
  Result<std::vector<std::string>> answer_ = Status::Unavailable("no answer set");
  std::string last_host_;
  std::atomic<int> calls_{0};
};

// Waits until `resolver` was called `n` more times than `from`.
void WaitForCalls(const ScriptedResolver& resolver, int from, int n) {
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (resolver.calls() < from + n && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  ASSERT_GE(resolver.calls(), from + n);
}

TEST(DnsDiscoveryTest, ResolvesLocalhost) {
  SetRecorder recorder;  // outlives the source that calls it
  auto d = MakeDiscovery("dns:///localhost:50051");
  ASSERT_TRUE(d.ok()) << d.status();
  BLAZEN_ASSERT_OK((*d)->Start(recorder.callback()));
  ASSERT_EQ(recorder.count(), 1u);
  const std::vector<std::string> endpoints = Endpoints(recorder.latest());
  ASSERT_THAT(endpoints, Not(IsEmpty()));
  for (const std::string& e : endpoints) {
    EXPECT_TRUE(e == "127.0.0.1:50051" || e == "[::1]:50051") << e;
  }
  (*d)->Stop();
}

TEST(DnsDiscoveryTest, BuildsEndpointsOfTheQuerySchemeWithBracketedIpv6) {
  ScriptedResolver resolver;
  resolver.Answer(std::vector<std::string>{"10.0.0.2", "fd00::1", "10.0.0.1", "10.0.0.2"});
  DiscoveryOptions options;
  options.resolver = resolver.fn();
  SetRecorder recorder;  // outlives the source that calls it
  auto d = MakeDiscovery("dns:///svc.example:7000?scheme=http+json", options);
  ASSERT_TRUE(d.ok()) << d.status();
  BLAZEN_ASSERT_OK((*d)->Start(recorder.callback()));
  EXPECT_EQ(resolver.last_host(), "svc.example");
  EXPECT_THAT(Endpoints(recorder.latest()),
              ElementsAre("http+json://10.0.0.1:7000", "http+json://10.0.0.2:7000",
                          "http+json://[fd00::1]:7000"));
}

TEST(DnsDiscoveryTest, DeliversChangedAnswersAndKeepsTheLastSetOnFailure) {
  ScriptedResolver resolver;
  resolver.Answer(std::vector<std::string>{"10.0.0.1"});
  DiscoveryOptions options;
  options.resolver = resolver.fn();
  options.dns_refresh = 10ms;
  SetRecorder recorder;  // outlives the source that calls it
  auto d = MakeDiscovery("dns:///svc:9000", options);
  ASSERT_TRUE(d.ok()) << d.status();
  BLAZEN_ASSERT_OK((*d)->Start(recorder.callback()));
  EXPECT_THAT(Endpoints(recorder.latest()), ElementsAre("10.0.0.1:9000"));

  // The same answer again and again: nothing new is delivered.
  WaitForCalls(resolver, resolver.calls(), 3);
  EXPECT_EQ(recorder.count(), 1u);

  resolver.Answer(std::vector<std::string>{"10.0.0.2", "10.0.0.1"});
  ASSERT_TRUE(recorder.WaitForEndpoints({"10.0.0.1:9000", "10.0.0.2:9000"}));
  EXPECT_EQ(recorder.count(), 2u);

  // Failures (an error, an empty answer) keep the last set.
  resolver.Answer(Status::Unavailable("SERVFAIL"));
  WaitForCalls(resolver, resolver.calls(), 3);
  resolver.Answer(std::vector<std::string>{});
  WaitForCalls(resolver, resolver.calls(), 3);
  EXPECT_EQ(recorder.count(), 2u);
  EXPECT_THAT(Endpoints(recorder.latest()), ElementsAre("10.0.0.1:9000", "10.0.0.2:9000"));

  resolver.Answer(std::vector<std::string>{"10.0.0.2"});
  ASSERT_TRUE(recorder.WaitForEndpoints({"10.0.0.2:9000"}));

  (*d)->Stop();
  const std::size_t delivered = recorder.count();
  resolver.Answer(std::vector<std::string>{"10.0.0.3"});
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(recorder.count(), delivered);
}

TEST(DnsDiscoveryTest, UnresolvableNameFailsStartNamingIt) {
  ScriptedResolver resolver;
  resolver.Answer(
      Status::Unavailable("cannot resolve 'nowhere.invalid': Name or service not known"));
  DiscoveryOptions options;
  options.resolver = resolver.fn();
  SetRecorder recorder;  // outlives the source that calls it
  auto d = MakeDiscovery("dns:///nowhere.invalid:1", options);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_THAT((*d)->Start(recorder.callback()),
              StatusIs(StatusCode::kUnavailable, HasSubstr("nowhere.invalid")));
  EXPECT_EQ(recorder.count(), 0u);
}

TEST(DnsDiscoveryTest, StopIsImmediateDuringALongRefreshPeriod) {
  ScriptedResolver resolver;
  resolver.Answer(std::vector<std::string>{"10.0.0.1"});
  DiscoveryOptions options;
  options.resolver = resolver.fn();
  options.dns_refresh = std::chrono::hours(1);
  SetRecorder recorder;  // outlives the source that calls it
  auto d = MakeDiscovery("dns:///svc:1", options);
  ASSERT_TRUE(d.ok()) << d.status();
  BLAZEN_ASSERT_OK((*d)->Start(recorder.callback()));
  const auto start = std::chrono::steady_clock::now();
  d->reset();  // the destructor stops
  EXPECT_LT(std::chrono::steady_clock::now() - start, 500ms);
}

}  // namespace
}  // namespace blazen::client::pool
